"""Every way the first hour goes wrong on the command line ends in one line a person can act on,
on stderr, with a non-zero exit, and no traceback (``--debug`` shows one)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.test_service_process import free_port, run_cli


def one_line_error(result: Any, code: int | None = None) -> str:
    assert result.returncode != 0, result
    if code is not None:
        assert result.returncode == code, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("usage:", " "))  # argparse's usage
    ]
    assert len(lines) == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GITHUB_APP_ID": "12345"}, "GITHUB_APP_ID is set but GITHUB_PRIVATE_KEY"),
        ({"GITHUB_APP_ID": "flywheel", "GITHUB_PRIVATE_KEY": "k"}, "must be the App's numeric id"),
        ({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": "not a key"}, "is not the App's PEM"),
        ({"GITHUB_PRIVATE_KEY_PATH": "/nonexistent/app.pem"}, "cannot be read"),
        ({"PORT": "99999"}, "PORT must be a port number from 1 to 65535"),
        ({"FLYWHEEL_LOG_FORMAT": "xml"}, "FLYWHEEL_LOG_FORMAT must be text or json"),
    ],
)
def test_credentials_and_settings_are_checked_at_start(env: dict[str, str], said: str) -> None:
    stderr = one_line_error(run_cli("serve", env=env), 2)
    assert said in stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("serve", "--port", "99999"), "99999 is not a port number"),
        (("remind", "--today", "tomorrow"), "'tomorrow' is not a date like 2027-03-01"),
        (("check-config", "/nonexistent/config"), "workflow-config folder does not exist"),
        (("replay", "issues", "/nonexistent.json"), "cannot read /nonexistent.json"),
    ],
)
def test_bad_arguments_get_one_line(args: tuple[str, ...], said: str) -> None:
    stderr = one_line_error(run_cli(*args))
    assert said in stderr


def test_a_database_path_that_cannot_be_opened(tmp_path: Path) -> None:
    env = {"FLYWHEEL_DB": str(tmp_path / "missing" / "dir" / "f.db"), "PORT": str(free_port())}
    stderr = one_line_error(run_cli("serve", env=env), 1)
    assert "the database (FLYWHEEL_DB) cannot be used" in stderr
    debug = run_cli("--debug", "serve", env=env)
    assert "Traceback" in debug.stderr, "--debug shows where it failed"


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"FLYWHEEL_DB": str(tmp_path / "f.db"), "PORT": str(port)}
        stderr = one_line_error(run_cli("serve", env=env), 1)
    assert "the port is in use" in stderr


async def test_github_refusing_the_app_stops_a_live_start(
    fake: Any, fake_url: str, private_key: str, tmp_path: Path
) -> None:
    fake.fail_next(1, status=401, match="/app")
    env = {
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": private_key,
        "GITHUB_WEBHOOK_SECRET": "s",
        "GITHUB_API_URL": fake_url,
        "FLYWHEEL_DB": str(tmp_path / "f.db"),
        "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
        "PORT": str(free_port()),
    }
    result = await asyncio.to_thread(run_cli, "serve", env=env)
    stderr = one_line_error(result, 2)
    assert "GitHub refused the App's credentials (401): GITHUB_APP_ID 12345" in stderr
