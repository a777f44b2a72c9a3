"""HTTP: ``/webhook`` (verify, journal, answer), ``/healthz`` and ``/metrics``.

The webhook path never talks to GitHub: it checks the signature on the raw
body, journals the delivery durably and answers. Each kind of bad request
gets its own status, so GitHub's delivery log tells an attack (401) from a
misconfigured hook (415) from our bug (500).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiohttp import web
from gidgethub import ValidationFailure, routing, sansio

from app import __version__
from app.config.loader import Config
from app.dashboard import pages as dashboard
from app.github.client import GitHubApp
from app.handlers import build_router
from app.intake import redeliver
from app.intake.processor import Processor
from app.intake.worker import Dispatcher
from app.linking.index import RequestIndex
from app.observe.metrics import Metrics, standard_metrics
from app.plan.executor import Caches
from app.settings import Settings
from app.store.facts import Facts
from app.store.journal import Delivery, Journal
from app.workflows import reminders

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
    accepting: bool = True
    started_at: float = field(default_factory=time.time)

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
    state = request.app[STATE]
    metrics = state.metrics
    if not state.accepting:
        return _answer(503, "shutting down; GitHub may redeliver later")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        metrics.inc("flywheel_rejected_total", reason="too_large")
        return _answer(413, "payload over GitHub's 25 MB cap")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        metrics.inc("flywheel_rejected_total", reason="too_large")
        return _answer(413, "payload over GitHub's 25 MB cap")
    secret = state.settings.webhook_secret
    if secret:
        problem = verify_signature(body, request.headers.get("X-Hub-Signature-256"), secret)
        if problem:
            metrics.inc("flywheel_rejected_total", reason="signature")
            log.warning(
                "rejected delivery %s: %s", request.headers.get("X-GitHub-Delivery"), problem
            )
            return _answer(401, problem)
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        metrics.inc("flywheel_rejected_total", reason="content_type")
        return _answer(415, "set the webhook's content type to application/json")
    event_name = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event_name or not delivery_id:
        metrics.inc("flywheel_rejected_total", reason="headers")
        return _answer(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if not _EVENT_NAME.fullmatch(event_name) or not _DELIVERY_ID.fullmatch(delivery_id):
        # GitHub's are a snake_case word and a GUID; anything else (bytes that are not
        # text, say) must not reach the journal, the log or our answer.
        metrics.inc("flywheel_rejected_total", reason="headers")
        return _answer(400, "X-GitHub-Event or X-GitHub-Delivery is not in GitHub's form")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        metrics.inc("flywheel_rejected_total", reason="json")
        return _answer(400, "body is not valid JSON")
    if not isinstance(data, dict):
        metrics.inc("flywheel_rejected_total", reason="json")
        return _answer(400, "body must be a JSON object")
    if event_name == "ping":
        return _answer(200, "pong", zen=str(data.get("zen", ""))[:200])
    if not isinstance(data.get("action", ""), str):  # the router looks actions up by value
        metrics.inc("flywheel_rejected_total", reason="json")
        return _answer(400, "action must be a string")
    event = sansio.Event(data, event=event_name, delivery_id=delivery_id)
    if not state.router.fetch(event):
        action = data.get("action")
        kind = f"{event_name}.{action}" if isinstance(action, str) else event_name
        metrics.inc("flywheel_deliveries_total", event=kind[:80], outcome="ignored")
        return _answer(200, f"no handler for {kind[:80]}; nothing to do")
    delivery = Delivery.from_body(delivery_id, event_name, body, data)
    stored = await state.journal.record(delivery)
    if stored is None:
        metrics.inc("flywheel_deliveries_total", event=delivery.event_action, outcome="duplicate")
        return _answer(200, "already received; not processed again", delivery=delivery_id)
    metrics.inc("flywheel_deliveries_total", event=delivery.event_action, outcome="accepted")
    if state.dispatcher is not None:
        state.dispatcher.submit(stored)
    return _answer(202, "accepted", delivery=delivery_id)


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    counts = await state.journal.counts()
    return web.json_response(
        {
            "status": "ok" if state.accepting else "stopping",
            "mode": state.mode,
            "version": __version__,
            "journal": {**counts, "depth": counts["pending"] + counts["running"]},
            "workflows": sorted(state.config.workflows),
        }
    )


async def metrics_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.Response(text=state.metrics.render(), content_type="text/plain", charset="utf-8")


def _background_passes(state: AppState, caches: Caches) -> list[asyncio.Task[None]]:
    """The periodic passes ``serve`` runs beside the workers, live mode only.

    Reminders every ``reminder_interval_minutes``; redelivery of failed
    deliveries every ``redeliver_interval_minutes`` (off by default).
    """
    github, settings = state.github, state.config.settings
    if github is None:
        return []
    passes = []
    if settings.reminder_interval_minutes:
        passes.append(
            reminders.run_periodically(
                github, lambda: state.config, caches, settings.reminder_interval_minutes
            )
        )
    if settings.redeliver_interval_minutes:
        passes.append(
            redeliver.run_periodically(
                github,
                state.journal.known,
                settings.redeliver_interval_minutes * 60.0,
                settings.redeliver_window_hours * 3600.0,
            )
        )
    return [asyncio.create_task(p) for p in passes]


def create_app(
    settings: Settings,
    config: Config,
    *,
    router: routing.Router | None = None,
    emit: Callable[[str], None] | None = None,
    start_workers: bool = True,
) -> web.Application:
    """The composition root: routes, shared state and the lifecycle of session, journal, workers."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    metrics = standard_metrics()
    state = AppState(
        settings=settings,
        config=config,
        router=router or build_router(),
        metrics=metrics,
        journal=Journal(settings.db_path),
    )
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await state.journal.open()
        state.session = aiohttp.ClientSession()
        if not settings.dry_run:
            state.github = GitHubApp.from_settings(state.session, settings, metrics)
        caches = Caches()
        # The request index shares the journal's file (FLYWHEEL_DB); it is a cache of GitHub.
        state.index = RequestIndex(settings.db_path)
        state.facts = Facts(settings.db_path)  # the same: what the dashboard shows
        state.processor = Processor(
            router=state.router,
            config=lambda: state.config,
            journal=state.journal,
            github=state.github,
            caches=caches,
            emit=emit,
            index=state.index,
            facts=state.facts,
        )
        state.dispatcher = Dispatcher(
            state.journal,
            state.processor,
            metrics,
            workers=settings.workers,
            max_attempts=settings.max_attempts,
            retry_for=settings.retry_for_seconds,
            retry_max=settings.retry_max_seconds,
            retry_base=settings.retry_base_seconds,
        )
        metrics.gauge(
            "flywheel_queue_depth",
            lambda: float(state.dispatcher.depth if state.dispatcher else 0),
            "Deliveries waiting or running in this process.",
        )
        if start_workers:
            await state.dispatcher.start()
        background = _background_passes(state, caches) if start_workers else []
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        state.accepting = False
        await state.dispatcher.stop(settings.shutdown_grace_seconds)
        await state.session.close()
        await state.journal.close()
        state.index.close()
        state.facts.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    dashboard.add_routes(app)
    return app
