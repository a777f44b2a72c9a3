"""A pull request that changes Flywheel's config gets a "Flywheel config" check run on its head:
failure with a line annotation on each problem, success when all checks out."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.conftest import REPO, ROOT, Flywheel


def shipped_config() -> dict[str, str]:
    files = {
        f"workflow-config/{p.name}": p.read_text()
        for p in (ROOT / "workflow-config").glob("*.yaml")
    }
    files |= {f"templates/{p.name}": p.read_text() for p in (ROOT / "templates").glob("*.j2")}
    return files


async def test_a_broken_config_fails_with_an_annotation_on_its_line(
    flywheel: Flywheel, fake: Any
) -> None:
    fake.repos[REPO]["files"].update(shipped_config())
    broken = (ROOT / "workflow-config" / "onboarding.yaml").read_text()
    broken = broken.replace("type: slug", "type: slugg", 1)
    line = next(n for n, t in enumerate(broken.splitlines(), 1) if "type: slugg" in t)
    fake.add_pull(REPO, 7, "a" * 40, {"workflow-config/onboarding.yaml": broken})
    row = await flywheel.deliver("pull_request", payloads.pull_request_event(fake, REPO, 7))
    assert row["state"] == "done", row
    (run,) = fake.check_runs
    assert (run["name"], run["head_sha"], run["conclusion"]) == (
        "Flywheel config",
        "a" * 40,
        "failure",
    )
    (note,) = run["output"]["annotations"]
    assert note["path"] == "workflow-config/onboarding.yaml"
    assert note["start_line"] == line and "field type 'slugg'" in note["message"]

    # The same delivery again (GitHub redelivers): no second run.
    await flywheel.deliver("pull_request", payloads.pull_request_event(fake, REPO, 7))
    assert len(fake.check_runs) == 1


async def test_a_good_config_succeeds_and_other_changes_get_no_check(
    flywheel: Flywheel, fake: Any
) -> None:
    fake.repos[REPO]["files"].update(shipped_config())
    fake.add_pull(REPO, 8, "b" * 40, {"workflow-config/onboarding.yaml": (
        ROOT / "workflow-config" / "onboarding.yaml").read_text() + "\n# reworded\n"})  # fmt: skip
    await flywheel.deliver("pull_request", payloads.pull_request_event(fake, REPO, 8))
    (run,) = fake.check_runs
    assert run["conclusion"] == "success" and run["output"]["annotations"] == []
    fake.add_pull(REPO, 9, "c" * 40, {"docs/index.md": "hello"})
    row = await flywheel.deliver("pull_request", payloads.pull_request_event(fake, REPO, 9))
    assert row["state"] == "done" and len(fake.check_runs) == 1
