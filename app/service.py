"""The composition root: one ``web.Application`` wired from settings and config.

It builds the shared state, adds the intake's routes and the dashboard's, and owns the
lifecycle of what lives as long as the process: the HTTP session, the journal, the
request index and facts, the workers and the periodic passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from gidgethub import routing

from .config.model import Config
from .dashboard import pages as dashboard
from .dashboard import setup
from .github.app import GitHubApp
from .handlers import build_router
from .intake import redeliver, reminders, replica, server
from .intake.claims import ClaimingDispatcher
from .intake.leadership import Leadership
from .intake.processor import Processor
from .intake.server import MAX_BODY_BYTES, STATE, AppState
from .intake.worker import Dispatcher
from .linking import embeddings, upgrade
from .linking.index import RequestIndex
from .observe.metrics import standard_metrics
from .plan.comments import Caches
from .settings import Settings
from .store.engine import journal_at
from .store.facts import Facts

__all__ = ["STATE", "AppState", "create_app"]


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


def linking_model(settings: Settings) -> embeddings.Loaded:
    if (settings.embedding_model or "").lower() == "off":
        return embeddings.Loaded(None, "turned off (FLYWHEEL_EMBEDDING_MODEL=off)")
    return embeddings.load(settings.embedding_model)


def linking_status(model: embeddings.Loaded) -> dict[str, object]:
    """What /healthz says of linking (beside how far the index's vectors got)."""
    if model.embedder is None:
        return {"by": "words", "problem": model.problem}
    return {"by": "meaning", "model": model.embedder.model_id}


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
        journal=journal_at(settings.database),
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await state.journal.open()
        state.session = aiohttp.ClientSession()
        if not settings.dry_run:
            state.github = GitHubApp.from_settings(state.session, settings, metrics)
        caches = Caches()
        # The request index shares the journal's database (FLYWHEEL_DB); a cache of GitHub.
        model = linking_model(settings)
        state.index = RequestIndex(settings.database, model.embedder)
        progress = upgrade.Progress()
        state.linking, state.linking_progress = linking_status(model), progress
        state.facts = Facts(settings.database)  # the same: what the dashboard shows
        state.processor = Processor(
            router=state.router,
            config=lambda: state.config,
            journal=state.journal,
            github=state.github,
            caches=caches,
            emit=emit,
            index=state.index,
            facts=state.facts,
            link_key=settings.link_key,
        )
        options = {
            "workers": settings.workers,
            "max_attempts": settings.max_attempts,
            "retry_for": settings.retry_for_seconds,
            "retry_max": settings.retry_max_seconds,
            "retry_base": settings.retry_base_seconds,
        }
        if settings.database_url:  # one of several replicas: claim work from the journal
            state.replica = await replica.join(state.journal, settings.database_url, caches)
            index, facts = state.index, state.facts
            state.replica.watch(lambda: index.version + facts.version)
            state.dispatcher = ClaimingDispatcher(
                state.journal,
                state.processor,
                metrics,
                replica=state.replica.name,
                lease=settings.lease_seconds,
                notices=state.replica.notices,
                **options,
            )
        else:
            state.dispatcher = Dispatcher(state.journal, state.processor, metrics, **options)
        metrics.gauge(
            "flywheel_queue_depth",
            lambda: float(state.dispatcher.depth if state.dispatcher else 0),
            "Deliveries waiting or running in this process.",
        )
        if start_workers:
            await state.dispatcher.start()

        def passes() -> list[asyncio.Task[None]]:
            tasks = _background_passes(state, caches) if start_workers else []
            if state.index is not None and state.index.meaning is not None:
                tasks.append(asyncio.create_task(upgrade.run(state.index, progress)))
            return tasks

        background: list[asyncio.Task[None]] = []
        if settings.database_url:  # on exactly one replica at a time
            state.leadership = Leadership(settings.database_url, passes)
            state.leadership.start()
        else:
            background = passes()
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if state.leadership is not None:
            await state.leadership.stop()
        state.accepting = False
        await state.dispatcher.stop(settings.shutdown_grace_seconds)
        if state.replica is not None:
            await state.replica.stop()
        await state.session.close()
        await state.journal.close()
        state.index.close()
        state.facts.close()

    app.cleanup_ctx.append(lifecycle)
    server.add_routes(app, state)
    dashboard.add_routes(app, state)
    if not settings.has_credentials:  # register the App from the browser (manifest flow)
        setup.add_routes(app, state, dashboard.page)
    return app
