"""`flywheel setup`: shows, then creates, the labels and board fields the config needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ORG, REPO
from tests.live import live_env, run_live_cli


async def test_setup_shows_then_creates_labels_and_fields(
    fake: Any, fake_url: str, private_key: str, tmp_path: Path
) -> None:
    partnerships = fake.add_board(ORG, 1, "Partnerships", {"Status": ["Refined", "Done"]})
    env = live_env(fake_url, private_key, tmp_path)

    code, out = await run_live_cli(env, "setup", "--org", ORG, "--repo", REPO)
    assert code == 1, out  # some steps need a person
    assert f"would   label 'type: onboard' (#0e8a16) in {REPO}" in out
    assert "would   field 'Community' (TEXT) on board example-org/1 (Partnerships)" in out
    assert "would   field 'End date' (DATE)" in out
    assert (
        "by hand field 'Status' on board example-org/1 (Partnerships) lacks option(s) "
        "Up Next, In Progress, In Review/Blocked, Won't do: add them" in out
    )
    assert "by hand board example-org/2 does not exist" in out
    assert "run again with --apply" in out
    assert fake.repos[REPO]["labels"] == {}, "showing changes nothing"
    assert [f["name"] for f in partnerships.fields] == ["Title", "Status"]

    code, out = await run_live_cli(env, "setup", "--org", ORG, "--repo", REPO, "--apply")
    labels = fake.repos[REPO]["labels"]
    assert labels["type: onboard"]["color"] == "0e8a16"
    assert labels["error:missing-problem"]["description"] == (
        "The initiative lacks its Problem Statement section"
    )
    assert "community: {community}" not in labels
    types = {f["name"]: f["dataType"] for f in partnerships.fields}
    assert types == {
        "Title": "TITLE",
        "Status": "SINGLE_SELECT",
        "Community": "TEXT",
        "Start date": "DATE",
        "End date": "DATE",
    }

    code, out = await run_live_cli(env, "setup", "--org", ORG, "--repo", REPO)
    assert "would  " not in out and "nothing to create." in out, "a second run: nothing left"
    assert "ok      label 'type: onboard'" in out
