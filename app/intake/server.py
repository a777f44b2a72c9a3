"""HTTP: ``/webhook`` (verify, journal, answer), ``/healthz`` and ``/metrics``.

The webhook path never talks to GitHub: it checks the signature on the raw
body, journals the delivery durably and answers. Each kind of bad request
gets its own status, so GitHub's delivery log tells an attack (401) from a
misconfigured hook (415) from our bug (500).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiohttp import web
from gidgethub import ValidationFailure, routing, sansio

from .. import __version__
from ..config.model import Config
from ..github.app import GitHubApp
from ..linking.index import RequestIndex
from ..linking.upgrade import Progress
from ..observe.metrics import CONTENT_TYPE, Metrics
from ..settings import Settings
from ..store.delivery import Delivery
from ..store.facts import Facts
from ..store.journal import Journal
from .leadership import Leadership
from .processor import Processor
from .replica import Replica
from .worker import Dispatcher

log = logging.getLogger("flywheel.server")

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


@dataclass
class AppState:
    settings: Settings
    config: Config
    router: routing.Router
    metrics: Metrics
    journal: Journal
    dispatcher: Dispatcher | None = None
    processor: Processor | None = None
    github: GitHubApp | None = None
    session: aiohttp.ClientSession | None = None
    index: RequestIndex | None = None
    facts: Facts | None = None
    linking: dict[str, object] = field(default_factory=dict)  # how linking judges, for /healthz
    linking_progress: Progress | None = None  # how far the index's vectors got
    accepting: bool = True
    started_at: float = field(default_factory=time.time)
    replica: Replica | None = None  # one of several on PostgreSQL
    leadership: Leadership | None = None

    @property
    def mode(self) -> str:
        return "dry-run" if self.settings.dry_run else "live"


STATE = web.AppKey("flywheel_state", AppState)


_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


def _answer(status: int, message: str, **extra: object) -> web.Response:
    return web.Response(
        body=orjson.dumps({"message": message, **extra}),
        status=status,
        content_type="application/json",
    )


def verify_signature(body: bytes, header: str | None, secret: str) -> str | None:
    """None when the body is signed with our secret; otherwise why not."""
    if not header:
        return "missing X-Hub-Signature-256"
    # compare_digest refuses non-ASCII text with a TypeError: say no before it can raise.
    if not header.startswith("sha256=") or not header.isascii():
        return "X-Hub-Signature-256 must be sha256=<hex>"
    try:
        sansio.validate_event(body, signature=header, secret=secret)
    except ValidationFailure:
        return "signature does not match"
    return None


async def webhook(request: web.Request) -> web.Response:
    """Verify, journal, answer; the time it takes is ``flywheel_intake_seconds``."""
    started = time.perf_counter()
    try:
        return await _receive(request)
    finally:
        request.app[STATE].metrics.intake_seconds.observe(time.perf_counter() - started)


async def _receive(request: web.Request) -> web.Response:
    state = request.app[STATE]
    metrics = state.metrics
    if not state.accepting:
        return _answer(503, "shutting down; GitHub may redeliver later")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        metrics.rejected.labels(reason="too_large").inc()
        return _answer(413, "payload over GitHub's 25 MB cap")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        metrics.rejected.labels(reason="too_large").inc()
        return _answer(413, "payload over GitHub's 25 MB cap")
    secret = state.settings.webhook_secret
    if secret:
        problem = verify_signature(body, request.headers.get("X-Hub-Signature-256"), secret)
        if problem:
            metrics.rejected.labels(reason="signature").inc()
            log.warning(
                "rejected delivery %s: %s", request.headers.get("X-GitHub-Delivery"), problem
            )
            return _answer(401, problem)
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        metrics.rejected.labels(reason="content_type").inc()
        return _answer(415, "set the webhook's content type to application/json")
    event_name = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event_name or not delivery_id:
        metrics.rejected.labels(reason="headers").inc()
        return _answer(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if not _EVENT_NAME.fullmatch(event_name) or not _DELIVERY_ID.fullmatch(delivery_id):
        # GitHub's are a snake_case word and a GUID; anything else (bytes that are not
        # text, say) must not reach the journal, the log or our answer.
        metrics.rejected.labels(reason="headers").inc()
        return _answer(400, "X-GitHub-Event or X-GitHub-Delivery is not in GitHub's form")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        metrics.rejected.labels(reason="json").inc()
        return _answer(400, "body is not valid JSON")
    if not isinstance(data, dict):
        metrics.rejected.labels(reason="json").inc()
        return _answer(400, "body must be a JSON object")
    if event_name.startswith("flywheel_"):  # our own internal events come from the journal
        metrics.rejected.labels(reason="headers").inc()
        return _answer(400, "flywheel_* events are Flywheel's own; GitHub never sends them")
    if event_name == "ping":
        return _answer(200, "pong", zen=str(data.get("zen", ""))[:200])
    if not isinstance(data.get("action", ""), str):  # the router looks actions up by value
        metrics.rejected.labels(reason="json").inc()
        return _answer(400, "action must be a string")
    event = sansio.Event(data, event=event_name, delivery_id=delivery_id)
    if not state.router.fetch(event):
        action = data.get("action")
        kind = f"{event_name}.{action}" if isinstance(action, str) else event_name
        metrics.webhooks.labels(event=kind[:80], outcome="ignored").inc()
        return _answer(200, f"no handler for {kind[:80]}; nothing to do")
    delivery = Delivery.from_body(delivery_id, event_name, body, data)
    try:
        stored = await state.journal.record(delivery)
    except Exception as exc:  # the database is down or full: nothing was accepted
        metrics.rejected.labels(reason="journal").inc()
        log.error("could not journal delivery %s: %s", delivery_id, type(exc).__name__)
        return _answer(503, "cannot store the delivery now; GitHub may redeliver it later")
    if stored is None:
        metrics.webhooks.labels(event=delivery.event_action, outcome="duplicate").inc()
        return _answer(200, "already received; not processed again", delivery=delivery_id)
    metrics.webhooks.labels(event=delivery.event_action, outcome="accepted").inc()
    if state.dispatcher is not None:
        state.dispatcher.submit(stored)
    return _answer(202, "accepted", delivery=delivery_id)


def _rate_limits(state: AppState) -> dict[str, object]:
    """Each installation's allowance, and how long its calls wait when GitHub said it is spent."""
    if state.github is None:
        return {}
    now = time.time()
    return {
        str(installation): {
            "remaining": rate.remaining,
            "limit": rate.limit,
            "held_for_seconds": round(rate.held_for(now)),
        }
        for installation, rate in sorted(state.github.rate_limits.items())
        if installation  # 0: the App's own JWT calls, an allowance apart
    }


async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: the journal takes writes, config is loaded, and in live mode GitHub
    accepts the App's credentials. ``/healthz`` says only that the process is alive."""
    state = request.app[STATE]
    checks: dict[str, bool | str] = {
        "journal": await state.journal.writable(),
        "config": bool(state.config.workflows),
        "accepting": state.accepting,
    }
    if state.github is not None:
        try:
            await state.github.identity()
            checks["credentials"] = True
        except Exception as exc:  # GitHub's refusal, said in words; no secret is in it
            checks["credentials"] = f"GitHub refused the App: {str(exc)[:200]}"
    ready = all(value is True for value in checks.values())
    return web.json_response(
        {"ready": ready, "mode": state.mode, "checks": checks}, status=200 if ready else 503
    )


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        counts = await state.journal.counts()
        journal: dict[str, object] = {**counts, "depth": counts["pending"] + counts["running"]}
    except Exception as exc:  # alive all the same: /readyz is where this makes us not ready
        journal = {"error": f"the journal cannot be read: {type(exc).__name__}"}
    return web.json_response(
        {
            "status": "ok" if state.accepting else "stopping",
            "mode": state.mode,
            "version": __version__,
            "journal": journal,
            "workflows": sorted(state.config.workflows),
            "github": _rate_limits(state),
            **_replica(state),
            "linking": {
                **state.linking,
                **({"vectors": progress.as_dict()} if (progress := state.linking_progress) else {}),
            },
        }
    )


def _replica(state: AppState) -> dict[str, object]:
    """With replicas: which one answered, and whether it runs the periodic passes."""
    if state.replica is None:
        return {}
    leading = state.leadership is not None and state.leadership.leading
    return {"replica": {"name": state.replica.name, "runs_periodic_passes": leading}}


async def metrics_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.Response(body=state.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application, state: AppState) -> None:
    """The intake's own routes; the composition root (``app/service.py``) adds the rest."""
    app[STATE] = state
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
