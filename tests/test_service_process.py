"""The real `flywheel` process: SIGKILL mid-delivery loses nothing; the CLI answers clearly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import payloads
from tests.conftest import ORG, REPO, ROOT, SECRET, sign
from tests.forms_render import load_form, render_submission
from tests.test_workflow_onboarding import ANSWERS, STATUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_flywheel(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for _ in range(200):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_sigkill_mid_delivery_is_completed_after_restart(
    fake: Any,
    fake_url: str,
    private_key: str,
    tmp_path: Path,
    engine: str,
    request: pytest.FixtureRequest,
) -> None:
    """On PostgreSQL the restarted process is a new replica: it takes the dead one's claim
    once that replica's session is gone, without waiting for the claim's lease."""
    fake.add_board(
        ORG, 1, "Partnerships", {"Status": STATUS, "Community": "TEXT", "Start date": "DATE"}
    )
    body = render_submission(load_form("onboarding.yml"), ANSWERS)
    issue = fake.add_issue(REPO, "[Onboarding] Hypatia College", body, labels=("type: onboard",))
    env = {
        **os.environ,
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": private_key,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": fake_url,
        "FLYWHEEL_DB": (
            request.getfixturevalue("postgres_dsn")
            if engine == "postgresql"
            else str(tmp_path / "kill.db")
        ),
        "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
    }
    port = free_port()
    # The delivery hangs writing its comment when we kill: the comment is made (in the batch
    # of writes with the labels and board item), its answer never comes. (A new issue's
    # payload counts no comments, so the first run lists none.)
    fake.slow_next(1, delay=6.0, match="FlywheelWrites")
    proc = await start_flywheel(env, port)
    payload = json.dumps(payloads.issues_event(fake, issue, "opened")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": "kill-1",
        "X-Hub-Signature-256": sign(payload),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"http://127.0.0.1:{port}/webhook", data=payload, headers=headers
        ) as r:
            assert r.status == 202
        for _ in range(100):
            if fake.comments_on(REPO, issue.number):
                break
            await asyncio.sleep(0.05)
        assert fake.faults_injected["slow"] == 1, "killed while the write's answer is late"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert len(fake.comments_on(REPO, issue.number)) == 1  # made, the answer lost

        port = free_port()
        proc = await start_flywheel(env, port)
        try:
            for _ in range(200):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    health = await r.json()
                if health["journal"]["done"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert health["journal"] == {
                "pending": 0,
                "running": 0,
                "done": 1,
                "failed": 0,
                "depth": 0,
            }
            # Replaying it must not double anything.
            async with session.post(
                f"http://127.0.0.1:{port}/webhook", data=payload, headers=headers
            ) as r:
                assert r.status == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert len(fake.comments_on(REPO, issue.number)) == 1
    assert set(fake.issue(REPO, issue.number).labels) == {
        "type: onboard",
        "new hub",
        "community: hypatia",
    }
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "Refined"
    assert private_key.splitlines()[1] not in output and SECRET not in output


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLYWHEEL_"))}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def test_replay_prints_the_plan_without_network(fake: Any, tmp_path: Path) -> None:
    body = render_submission(load_form("onboarding.yml"), ANSWERS)
    issue = fake.add_issue(REPO, "[Onboarding] Hypatia College", body, labels=("type: onboard",))
    path = tmp_path / "opened.json"
    path.write_text(json.dumps(payloads.issues_event(fake, issue, "opened")))
    result = run_cli("replay", "issues", str(path), env={"GITHUB_API_URL": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # 'type: onboard' is on the issue already: only what would be written is planned.
    assert "would labels on example-org/hubs#1: add 'new hub', 'community: hypatia'" in out
    assert "needs: info" not in out, "a new issue has no label to remove"
    # Comment bodies in full, as a dry run is how people learn what the App will write.
    assert "    | " in out and out.count("\n    | ") > 10
    assert "would comment [workflow.onboarding]" in out
    assert "would board example-org/1" in out and "Status='Refined'" in out
    assert "why: matched workflow onboarding (onboarding.yaml)" in out


def test_replay_of_a_comment_and_of_an_unknown_event(fake: Any, tmp_path: Path) -> None:
    issue = fake.add_issue(REPO, "Our hub is out of disk space", "Help", labels=("support",))
    path = tmp_path / "comment.json"
    path.write_text(json.dumps(payloads.comment_event(fake, issue, "/label priority")))
    result = run_cli("replay", "issue_comment", str(path), "--short")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "would" in result.stdout
    assert "    | " not in result.stdout, "--short: one line each"
    typo = run_cli("replay", "issue", str(path))
    assert typo.returncode == 2 and typo.stdout == ""
    assert "'issue' is not an event Flywheel handles; known: installation" in typo.stderr
    assert "issues" in typo.stderr and "flywheel_" not in typo.stderr


def test_check_config_names_file_and_line(tmp_path: Path) -> None:
    good = run_cli("check-config", str(ROOT / "workflow-config"))
    assert good.returncode == 0 and "ok: 4 workflows" in good.stdout
    broken = tmp_path / "config"
    broken.mkdir()
    (broken / "flywheel.yaml").write_text(f"templates: {ROOT / 'templates'}\n")
    (broken / "event.yaml").write_text("match:\n  labels: [event]\ncolour: blue\n")
    bad = run_cli("check-config", str(broken))
    assert bad.returncode == 2
    assert "event.yaml:3: unknown key 'colour' in a workflow" in bad.stderr


def test_serve_without_credentials_says_dry_run(tmp_path: Path) -> None:
    port = free_port()
    env = {"FLYWHEEL_DB": str(tmp_path / "d.db"), "PORT": str(port)}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLYWHEEL_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() if proc.stdout else "" for _ in range(4)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    first, second, _workflows, dashboard = lines
    assert "DRY-RUN mode: no GitHub App credentials" in first
    assert "signatures are NOT checked" in second and "127.0.0.1" in second
    assert "Dashboard: off (set FLYWHEEL_DASHBOARD_TOKEN to turn it on)" in dashboard


def test_live_start_without_secret_is_refused_by_the_command(
    tmp_path: Path, private_key: str
) -> None:
    result = run_cli(
        "serve",
        env={
            "GITHUB_APP_ID": "1",
            "GITHUB_PRIVATE_KEY": private_key,
            "FLYWHEEL_DB": str(tmp_path / "x.db"),
        },
    )
    assert result.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET is not set" in result.stderr
