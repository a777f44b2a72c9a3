"""Self-healing redelivery: failed deliveries the journal lacks are asked for again, once each."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.github.app import GitHubApp
from app.intake.redeliver import (
    MAX_ATTEMPTS_PER_DELIVERY,
    failed_guids,
    redeliver_failed,
    run_periodically,
)
from app.store.delivery import Delivery
from app.store.journal import Journal
from tests import payloads
from tests.conftest import REPO, SECRET, Flywheel, stored_at
from tests.live import live_env, run_live_cli

HOUR = 3600.0


async def journal_with(path: Path, *guids: str) -> Journal:
    journal = Journal(path)
    await journal.open()
    for guid in guids:
        await journal.record(Delivery.from_body(guid, "issues", b"{}", {}))
    return journal


async def test_only_failed_unjournaled_retryable_recent_deliveries_are_asked_again(
    fake: Any, fake_url: str, github: GitHubApp, tmp_path: Path
) -> None:
    now = time.time()
    # 150 successes first, so the failures sit on later pages (GitHub lists 100 at most).
    for n in range(150):
        fake.record_delivery(f"ok-{n}", "issues", "opened", 202, at=now - 60)
    lost = fake.record_delivery("lost", "issues", "opened", 0, at=now - 120)["id"]
    fake.record_delivery("crashed", "issue_comment", "created", 500, at=now - 130)
    fake.record_delivery("healed", "issues", "edited", 502, at=now - 140)
    fake.record_delivery("healed", "issues", "edited", 202, redelivery=True, at=now - 100)
    fake.record_delivery("late", "issues", "opened", 0, at=now - 150)  # journaled, answered late
    fake.record_delivery("refused", "issues", "opened", 400, at=now - 160)
    for n in range(MAX_ATTEMPTS_PER_DELIVERY):
        fake.record_delivery("hopeless", "issues", "opened", 503, at=now - 170 + n)
    fake.record_delivery("ancient", "issues", "opened", 502, at=now - 7 * HOUR)
    journal = await journal_with(tmp_path / "j.db", "late")
    try:
        report = await redeliver_failed(github, journal.known, since=now - 6 * HOUR)
    finally:
        await journal.close()
    assert sorted(report.redelivered) == ["crashed", "lost"]
    assert (report.journaled, report.refused, report.exhausted) == (1, 1, 1)
    assert report.failed == 5 and not report.errors
    assert lost in fake.redelivered and len(fake.redelivered) == 2
    listings = [c.path for c in fake.calls if c.path.startswith("/app/hook/deliveries?")]
    assert len(listings) == 2, "the page reaching past the window ends the listing"


async def test_a_redelivered_delivery_is_processed_and_the_next_pass_is_quiet(
    flywheel: Flywheel, fake: Any, github: GitHubApp
) -> None:
    issue = fake.add_issue(REPO, "Storage quota for the course", "body", labels=("support",))
    body = json.dumps(payloads.issues_event(fake, issue, "opened")).encode()
    guid = str(uuid.uuid4())

    async def resend(delivery_guid: str) -> int:
        response = await flywheel.send("issues", body, delivery_id=delivery_guid)
        return response.status

    fake.resend = resend
    fake.record_delivery(guid, "issues", "opened", 0)  # Flywheel was down when GitHub sent it
    report = await redeliver_failed(github, flywheel.state.journal.known, since=time.time() - HOUR)
    assert report.redelivered == [guid]
    for _ in range(100):
        if await flywheel.state.journal.get(guid):
            break
        await asyncio.sleep(0.02)
    await flywheel.idle()
    assert (await flywheel.state.journal.get(guid))["state"] == "done"
    assert [a["status_code"] for a in fake.hook_deliveries if a["guid"] == guid] == [0, 202]
    again = await redeliver_failed(github, flywheel.state.journal.known, since=time.time() - HOUR)
    assert again.redelivered == [] and again.failed == 0


async def test_periodic_pass_runs_on_its_interval_and_survives_github_errors(
    fake: Any, fake_url: str, github: GitHubApp, tmp_path: Path
) -> None:
    fake.record_delivery("while-down", "issues", "opened", 502)
    fake.fail_next(1, status=502, match="/app/hook/deliveries")  # the first pass fails
    journal = await journal_with(tmp_path / "j.db")
    loop = asyncio.create_task(run_periodically(github, journal.known, 0.05, HOUR))
    try:
        for _ in range(200):
            if fake.redelivered:
                break
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await journal.close()
    assert len(fake.redelivered) == 1
    listings = [c.status for c in fake.calls if c.path.startswith("/app/hook/deliveries?")]
    assert listings[0] == 502 and listings[1] == 200


async def test_redeliver_command_reports_and_keeps_secrets_out(
    fake: Any, fake_url: str, private_key: str, tmp_path: Path, database: dict[str, Any]
) -> None:
    fake.record_delivery("from-the-outage", "issues", "opened", 0)
    fake.record_delivery("fine", "issues", "opened", 202)
    env = live_env(fake_url, private_key, tmp_path)
    env["FLYWHEEL_DB"] = stored_at(database)
    code, out = await run_live_cli(env, "redeliver", "--since", "2h")
    assert code == 0, out
    assert "asked again: from-the-outage" in out
    assert "2 delivery attempts examined, 1 deliveries failed: 1 asked again" in out
    assert "PRIVATE KEY" not in out and SECRET not in out
    code, out = await run_live_cli(env, "redeliver", "--since", "forever")
    assert code == 2 and "not a duration like 6h" in out


def test_failed_guids_groups_attempts_and_keeps_only_never_successful() -> None:
    attempts = [
        {"id": 1, "guid": "a", "status_code": 502, "delivered_at": "2026-11-21T10:00:00Z"},
        {"id": 2, "guid": "a", "status_code": 200, "delivered_at": "2026-11-21T10:05:00Z"},
        {"id": 3, "guid": "b", "status_code": 0, "delivered_at": "2026-11-21T10:00:00Z"},
        {"id": 4, "guid": "b", "status_code": 503, "delivered_at": "2026-11-21T10:09:00Z"},
        {"id": 5, "status_code": 500},  # no guid: nothing to ask for
    ]
    failed = failed_guids(attempts)
    assert list(failed) == ["b"]
    assert [a["id"] for a in failed["b"]] == [4, 3], "newest attempt first"


@pytest.mark.parametrize("value", ["-1", "0", "73", "soon"])
def test_bad_redelivery_settings_are_refused_with_the_line(tmp_path: Path, value: str) -> None:
    import shutil

    from app.config.errors import ConfigError
    from app.config.loader import load_config
    from tests.conftest import ROOT

    folder = tmp_path / "cfg"
    shutil.copytree(ROOT / "workflow-config", folder)
    (tmp_path / "templates").symlink_to(ROOT / "templates")
    text = (folder / "flywheel.yaml").read_text()
    key = "redeliver_window_hours" if value in {"0", "73"} else "redeliver_interval_minutes"
    text = text.replace(f"{key}: ", f"{key}: {value} #", 1)
    (folder / "flywheel.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert key in str(caught.value) and str(caught.value).startswith("flywheel.yaml:")
