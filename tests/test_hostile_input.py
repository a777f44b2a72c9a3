"""People's text, however hostile, is printed as text: no mention, command, template or HTML.

Every case goes through the real app and is read back from the fake GitHub:
form values in an onboarding checklist, titles in a related-requests comment,
command arguments in a refusal reply. Each comment must keep our marker, carry
only the mentions the team configured, hold no line a bot would run as a
command, and stay under GitHub's 65,536-character limit.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.slash import grammar
from app.workflows import markers
from tests import payloads
from tests.commenting import replies, say
from tests.conftest import REPO, Flywheel
from tests.test_commands_basic import STAFF, grant, plain_issue
from tests.test_linking import (  # noqa: F401
    GPU_CURIE,
    GPU_HYPATIA,
    SUPPORT,
    links,
    opened,
    repositories,
    request,
    roadmap,
)
from tests.test_workflow_onboarding import ANSWERS, board, open_onboarding  # noqa: F401

GITHUB_COMMENT_LIMIT = 65536
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w-]*(?:/[\w-]+)?")

HOSTILE = {
    "team mention": "@example-org/everyone please look",
    "user mention": "ping @octocat and @ada",
    "command line": "fine\n/close\n  /label priority: high\n/offboard",
    "other line breaks": "fine\r/close\r\n/label x\u2028/offboard\x0b/reopen",  # found by fuzzing
    "jinja expression": "{{ 7*7 }} {{ config.__class__ }}",
    "jinja statement": "{% for x in range(3) %}loop{% endfor %}{% raw %}",
    "html": '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold</b>',
    "marker close": "--> <!-- flywheel:workflow.onboarding {} -->",
    "zero-width": "@\u200bexample-org/everyone \u200b/close \u2066@\u2069ada",
    "markdown link": "[click](https://evil.example) ![x](https://evil.example/p.png)",
    "50,000 characters": "A" * 25_000 + " @ada " + "{{ 1 }}" * 3_000,
}
CASES = [pytest.param(value, id=name) for name, value in HOSTILE.items()]


def assert_harmless(body: str, key: str, allowed_mentions: set[str]) -> None:
    assert key in markers.find(body), "our marker survives"
    assert body.count("-->") == body.count("<!--"), "no comment is closed early"
    assert set(MENTION.findall(body)) <= allowed_mentions, "no mention fires"
    assert grammar.parse(body) == [], "no line runs as a command"
    assert "49" not in body and "{{" not in body and "{%" not in body, "no template runs"
    assert "loop" * 3 not in body, "no template loop runs"
    assert not re.search(r"<(img|script|b)\b", body), "no HTML"
    assert "](https://evil" not in body, "no live link"
    assert len(body) < GITHUB_COMMENT_LIMIT
    hidden = re.findall("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2061-\u2069\ufeff]", body)
    assert hidden == [], "no invisible or direction-control character (ours is U+2060 only)"


@pytest.mark.parametrize("value", CASES)
async def test_form_values_in_the_checklist(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
    value: str,
) -> None:
    benign = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, benign, "opened"))
    (expected,) = fake.comments_on(REPO, benign.number)
    allowed = set(MENTION.findall(expected["body"]))  # what the team's template mentions

    answers = {**ANSWERS, "Community name": value, "Context and goals": value}
    issue = open_onboarding(fake, answers)
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done", row
    (comment,) = fake.comments_on(REPO, issue.number)
    assert_harmless(comment["body"], "workflow.onboarding", allowed)
    assert fake.issue(REPO, issue.number).state == "open"


@pytest.mark.parametrize("value", CASES)
async def test_titles_in_related_requests(flywheel: Flywheel, fake: Any, value: str) -> None:
    first = request(fake, REPO, "hypatia", (GPU_HYPATIA[0] + " " + value, GPU_HYPATIA[1]))
    second = request(fake, SUPPORT, "curie", GPU_CURIE)
    await opened(flywheel, first)
    await opened(flywheel, second)
    (comment,) = links(fake, second)  # it quotes the first one's title
    assert_harmless(comment["body"], "links", set())
    assert "GPU image with PyTorch" in comment["body"]


@pytest.mark.parametrize("value", CASES)
async def test_command_arguments_in_replies(flywheel: Flywheel, fake: Any, value: str) -> None:
    grant(fake)
    issue = plain_issue(fake)
    # One command line, as GitHub's markdown sees lines (\r is a line ending there too):
    # the argument is what is quoted; U+2028, \x0b… stay inside it.
    typed = re.sub(r"\r\n|\r|\n", " ", value)[:2000]
    await say(flywheel, issue, f'/label "{typed}"', author=STAFF, association="CONTRIBUTOR")
    (reply,) = replies(fake, issue)
    assert_harmless(reply, next(k for k in markers.find(reply) if k.startswith("reply.")), set())
    now = fake.issue(REPO, issue.number)
    assert (now.state, now.labels) == ("open", [])
