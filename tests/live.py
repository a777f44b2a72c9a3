"""Running the real `flywheel` command against the fake GitHub, as an operator would."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import ROOT


def live_env(fake_url: str, private_key: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a live `flywheel` command pointed at the fake GitHub."""
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key)
    env = {
        **os.environ,
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY_PATH": str(key_file),
        "GITHUB_API_URL": fake_url,
        "GITHUB_WEBHOOK_SECRET": "unused-here",
        "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
    }
    env.pop("GITHUB_PRIVATE_KEY", None)
    return env


async def run_live_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI in a subprocess while this loop keeps serving the fake GitHub."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()
