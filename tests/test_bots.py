"""``ignore_bots``: other bots' issues and comments are skipped unless config says otherwise;
our own App's are always skipped, and GitHub is asked once which bot we are (``GET /app``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests import payloads
from tests.conftest import REPO, Flywheel
from tests.test_linking import GPU_HYPATIA, GPU_TRAINING, SUPPORT, links
from tests.test_linking import request as community_request


@pytest.fixture(autouse=True)
def support_repository(fake: Any) -> None:
    fake.add_repo(SUPPORT)


def with_ignore_bots(config: Any, value: bool) -> Any:
    return dataclasses.replace(
        config, settings=dataclasses.replace(config.settings, ignore_bots=value)
    )


@pytest.mark.parametrize(("ignore_bots", "sender", "linked"), [
    (True, "helper[bot]", False),
    (False, "helper[bot]", True),
    (False, "flywheel[bot]", False),  # ourselves: never, whatever the config says
    (True, "ada", True),
])  # fmt: skip
async def test_bots_are_skipped_as_config_says_and_ourselves_always(
    make_flywheel: Any,
    fake_url: str,
    config: Any,
    fake: Any,
    ignore_bots: bool,
    sender: str,
    linked: bool,
) -> None:
    flywheel: Flywheel = await make_flywheel(fake_url, with_ignore_bots(config, ignore_bots))
    first = community_request(fake, REPO, "hypatia", GPU_HYPATIA)
    await flywheel.deliver("issues", payloads.issues_event(fake, first, "opened"))
    second = community_request(fake, SUPPORT, "curie", GPU_TRAINING, user=sender)
    event = payloads.issues_event(fake, second, "opened", sender=sender)
    row = await flywheel.deliver("issues", event)
    assert row["state"] == "done", row
    assert bool(links(fake, first)) is linked
    asked = [c for c in fake.calls if c.method == "GET" and c.path == "/app"]
    assert len(asked) == 1, "GitHub is asked which bot we are once per process"
