"""Fuzzing the edges people and networks reach: the webhook, payload text, config files.

The webhook tests run one live app (against the fake GitHub) on a thread of
its own, so that hypothesis can drive it with thousands of requests without
a server per example. Run the long version with

    python -m pytest tests/test_fuzz.py --hypothesis-profile=fuzz

(3,000 examples a test); the default profile runs 100 in CI.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import commands
from app.config.errors import ConfigError
from app.config.loader import load_config
from app.service import STATE, create_app
from app.settings import Settings
from app.slash import grammar
from app.workflows import markers
from tests import payloads
from tests.conftest import ORG, REPO, ROOT, SECRET
from tests.fakegithub import FakeGitHub
from tests.forms_render import load_form, render_submission
from tests.test_workflow_onboarding import ANSWERS

EXAMPLES = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = ["@", "/", "{{", "}}", "{%", "%}", "<", ">", "-->", "<!--", "[", "](", "`", "```",
          "#", "*", "|", "\n", "\r\n", "\t", " ", "\\", "\"", "&", "\u200b", "\u2066",
          "\u202e", "\ufeff", "@example-org/everyone", "/close", "\n/label x\n", "_No response_",
          "### Community name\n\n", "- [x] "]  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map(
    "".join
)
LATIN1 = st.text(st.characters(codec="latin-1", blacklist_characters="\r\n\x00"), max_size=80)


class ThreadedApp:
    """The fake GitHub and a live Flywheel on one event loop in a thread of their own."""

    def __init__(self, private_key: str, workdir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.fake = FakeGitHub()
        self.fake.add_installation(1, ORG)
        self.fake.add_repo(REPO)
        self.fake.add_board(ORG, 1, "Partnerships", {"Status": ["Refined", "Done"]})
        self._runners: list[web.AppRunner] = []
        self.port = self.call(self._start(private_key, workdir))

    def call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _serve(self, app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def _start(self, private_key: str, workdir: Path) -> int:
        fake_port = await self._serve(self.fake.app)
        settings_ = Settings(
            app_id="12345",
            private_key=private_key,
            webhook_secret=SECRET,
            api_url=f"http://127.0.0.1:{fake_port}",
            db_path=workdir / "fuzz.db",
            max_attempts=2,
            retry_base_seconds=0.01,
        )
        self.app = create_app(settings_, load_config(ROOT / "workflow-config"))
        return await self._serve(self.app)

    def post(self, headers: dict[str, str], body: bytes) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest("POST", "/webhook", skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value.encode("latin-1"))
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            return connection.getresponse().status
        finally:
            connection.close()

    def idle(self) -> None:
        dispatcher = self.app[STATE].dispatcher
        self.call(dispatcher.wait_idle(timeout=30))

    def rows(self) -> list[dict[str, Any]]:
        journal = self.app[STATE].journal
        found = self.call(journal.query("SELECT id, state, error, outcome FROM deliveries"))
        return [dict(r) for r in found]

    def close(self) -> None:
        async def stop() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def served(private_key: str) -> Iterator[ThreadedApp]:
    workdir = Path(tempfile.mkdtemp())
    app = ThreadedApp(private_key, workdir)
    yield app
    app.close()
    shutil.rmtree(workdir, ignore_errors=True)


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=20,
)
EVENTS = st.sampled_from(
    ["issues", "issue_comment", "installation", "ping", "push", "projects_v2_item"]
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """Anything a network could send: some headers, some body, some signature."""
    body = draw(
        st.one_of(
            st.binary(max_size=2000),
            JSON.map(lambda v: json.dumps(v).encode()),
            st.dictionaries(st.sampled_from(["action", "issue", "comment", "repository",
                                             "installation", "sender"]), JSON)
            .map(lambda v: json.dumps(v).encode()),
        )
    )  # fmt: skip
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["X-GitHub-Event"] = draw(st.one_of(EVENTS, LATIN1))
    if draw(st.booleans()):
        headers["X-GitHub-Delivery"] = draw(st.one_of(st.uuids().map(str), LATIN1))
    headers["Content-Type"] = draw(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])
    )
    signature = draw(st.sampled_from(["valid", "none", "random"]))
    if signature == "valid":
        headers["X-Hub-Signature-256"] = signed(body)
    elif signature == "random":
        headers["X-Hub-Signature-256"] = draw(LATIN1)
    return headers, body


@EXAMPLES
@given(requests())
def test_any_request_gets_a_2xx_or_4xx(served: ThreadedApp, request: Any) -> None:
    headers, body = request
    status = served.post(headers, body)
    assert status in (200, 202, 400, 401, 413, 415), (status, headers)
    if headers.get("X-Hub-Signature-256") != signed(body):
        # 400 when aiohttp refuses the request itself (a control character in a header).
        assert status in (400, 401), (status, headers)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_any_request_gets_a_2xx_or_4xx_at_length(served: ThreadedApp, request: Any) -> None:
    """The same property over 2,000 requests (``python -m pytest -m slow``)."""
    test_any_request_gets_a_2xx_or_4xx.hypothesis.inner_test(served, request)


@st.composite
def github_shaped(draw: st.DrawFn, fake: FakeGitHub) -> tuple[str, dict[str, Any], Any]:
    """A payload as GitHub shapes it, with people's text anywhere people type."""
    answers = {**ANSWERS}
    for question in draw(st.lists(st.sampled_from(sorted(ANSWERS)), max_size=4, unique=True)):
        answers[question] = draw(HOSTILE_TEXT)
    body = render_submission(load_form("onboarding.yml"), answers)
    title = "[Onboarding] " + draw(HOSTILE_TEXT)
    labels = ("type: onboard", *draw(st.lists(HOSTILE_TEXT.filter(str.strip), max_size=2)))
    issue = fake.add_issue(REPO, title[:250], body, labels=labels, user="ada")
    kind = draw(st.sampled_from(["opened", "edited", "comment"]))
    if kind == "comment":
        text = draw(
            st.one_of(
                HOSTILE_TEXT,
                st.sampled_from(sorted(commands.SPEC_BY_NAME)).flatmap(
                    lambda name: HOSTILE_TEXT.map(lambda rest: f"/{name} {rest}")
                ),
            )
        )
        cid = fake.add_comment(REPO, issue.number, text, user="maria")
        association = draw(st.sampled_from(["MEMBER", "NONE", "OWNER"]))
        data = payloads.comment_event(
            fake, issue, text, author="maria", association=association, comment_id=cid
        )
        return "issue_comment", data, issue
    return "issues", payloads.issues_event(fake, issue, kind, sender="ada"), issue


@EXAMPLES
@given(st.data())
def test_signed_payloads_with_hostile_text_never_break_a_handler(
    served: ThreadedApp, data: st.DataObject
) -> None:
    event, payload, issue = data.draw(github_shaped(served.fake))
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"fuzz-{issue.number}",
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signed(body),
    }
    assert served.post(headers, body) == 202
    served.idle()
    (row,) = [r for r in served.rows() if r["id"] == f"fuzz-{issue.number}"]
    assert row["state"] == "done", row
    assert "errors" not in json.loads(row["outcome"]), row
    for comment in served.fake.bot_comments_on(REPO, issue.number):
        assert markers.find(comment["body"]), "our marker survives"
        assert grammar.parse(comment["body"]) == [], "no line of ours is a command"
        assert "{{" not in comment["body"] and "{%" not in comment["body"]


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=10,
)
CONFIG_FILES = sorted(p.name for p in (ROOT / "workflow-config").glob("*.yaml"))


def _mutate(node: Any, draw: st.DrawFn) -> Any:
    """The same document with some keys gone and some values of another type."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            choice = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace"]))
            if choice == "keep":
                out[key] = _mutate(value, draw)
            elif choice == "replace":
                out[key] = draw(YAML_VALUES)
        return out
    if isinstance(node, list):
        return [_mutate(v, draw) for v in node if draw(st.integers(0, 4))]
    return node if draw(st.integers(0, 5)) else draw(YAML_VALUES)


@EXAMPLES
@given(st.data())
def test_a_broken_config_is_refused_with_config_error_only(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(CONFIG_FILES))
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "workflow-config"
        shutil.copytree(ROOT / "workflow-config", directory)
        shutil.copytree(ROOT / "templates", Path(scratch) / "templates")
        original = yaml.safe_load((directory / name).read_text())
        mutated = _mutate(original, data.draw)
        text = data.draw(
            st.one_of(
                st.just(yaml.safe_dump(mutated, allow_unicode=True)),
                HOSTILE_TEXT,  # not YAML at all, or YAML of the wrong shape
            )
        )
        (directory / name).write_text(text)
        try:
            load_config(directory)
        except ConfigError as error:
            assert str(error).strip(), "the refusal says what is wrong"
