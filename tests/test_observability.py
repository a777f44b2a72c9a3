"""What operators read: /metrics parses as Prometheus text with latency histograms, each
delivery is counted once, and call routes carry no names."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from app.github.operations import operation_of
from tests import payloads
from tests.conftest import REPO, Flywheel


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_metrics_parse_and_have_the_three_histograms(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel: Flywheel = await make_flywheel(fake_url, config)
    issue = fake.add_issue(REPO, "Hub", "body", labels=("community: hypatia",))
    payload = payloads.issues_event(fake, issue, "opened")
    await flywheel.deliver("issues", payload, delivery_id="d-1")
    await flywheel.deliver("issues", payload, delivery_id="d-1")  # GitHub redelivers it
    response = await flywheel.client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = families(await response.text())
    for name in ("flywheel_intake_seconds", "flywheel_delivery_seconds"):
        assert found[name].type == "histogram", name
    assert found["flywheel_github_call_seconds"].type == "histogram"
    calls = {
        s.labels["operation"]
        for s in found["flywheel_github_call_seconds"].samples
        if s.name.endswith("_count")
    }
    assert "GET /repos/{}/{}/contents/{}" in calls, calls  # the per-repository config read
    assert not any("hypatia" in c or REPO in c for c in calls)
    intake = [s for s in found["flywheel_intake_seconds"].samples if s.name.endswith("_count")]
    assert intake[0].value == 2  # both requests were answered and timed

    def total(family: str, **labels: str) -> float:
        return sum(
            s.value
            for s in found[family].samples
            if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
        )

    # One delivery: accepted once, a duplicate once at the door, done once.
    assert total("flywheel_webhooks", outcome="accepted") == 1
    assert total("flywheel_webhooks", outcome="duplicate") == 1
    assert total("flywheel_deliveries") == 1
    assert total("flywheel_deliveries", outcome="done", event="issues.opened") == 1
    assert found["flywheel_queue_depth"].samples[0].value == 0


@given(
    owner=st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True),
    repo=st.from_regex(r"[a-z][a-z0-9_.-]{2,20}", fullmatch=True),
    number=st.integers(1, 10**6),
    label=st.text(min_size=1, max_size=20).filter(lambda t: "/" not in t and "?" not in t),
)
def test_operations_never_carry_names_or_numbers(
    owner: str, repo: str, number: int, label: str
) -> None:
    for path in (
        f"/repos/{owner}/{repo}/issues/{number}/comments",
        f"/repos/{owner}/{repo}/issues/{number}/labels/{label}",
        f"/orgs/{owner}/members/{repo}",
        f"/repos/{owner}/{repo}/contents/.github/{label}",
    ):
        operation = operation_of("GET", "https://api.github.com" + path + "?per_page=100")
        parts = operation.split(" ", 1)[1].split("/")
        assert owner not in parts and repo not in parts and str(number) not in parts
        assert label not in parts or label in {"repos", "issues", "labels", "contents"}
    assert operation_of("POST", "https://ghe.example/api/graphql") == "graphql"
