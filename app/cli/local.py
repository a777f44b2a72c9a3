"""The subcommands that need no GitHub credentials: ``serve`` (dry-run without them), ``replay``
and ``check-config``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

from .. import __version__
from ..observe import logs
from ..settings import Settings, SettingsError
from .common import DEFAULT_FORMS, github_refuses_the_app, load_config_or_exit


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from ..service import create_app, linking_model

    try:
        settings = Settings.from_env(force_dry_run=args.dry_run or None, port=args.port)
        settings.check_startable()
    except SettingsError as exc:
        print(f"flywheel: cannot start: {exc}", file=sys.stderr)
        return 2
    config = load_config_or_exit(settings.config_dir)
    logs.configure(args.log_level, settings.log_format)
    if not settings.dry_run and (problem := github_refuses_the_app(settings)):
        print(f"flywheel: cannot start: {problem}", file=sys.stderr)
        return 2
    host = args.host or settings.listen_host()
    if settings.dry_run:
        reason = (
            "--dry-run given"
            if settings.force_dry_run
            else (
                "no GitHub App credentials (set GITHUB_APP_ID and GITHUB_PRIVATE_KEY or "
                "GITHUB_PRIVATE_KEY_PATH)"
            )
        )
        print(
            f"Flywheel {__version__} in DRY-RUN mode: {reason}. Deliveries are accepted and "
            "their plans logged; nothing is written to GitHub.",
            flush=True,
        )
    else:
        print(f"Flywheel {__version__} live as GitHub App {settings.app_id}.", flush=True)
    if not settings.verifies_signatures:
        if args.host and args.host not in {"127.0.0.1", "localhost", "::1"}:
            print(
                "flywheel: refusing to listen beyond loopback without GITHUB_WEBHOOK_SECRET",
                file=sys.stderr,
            )
            return 2
        print(
            "Webhook signatures are NOT checked (GITHUB_WEBHOOK_SECRET unset): "
            f"listening on {host} only.",
            flush=True,
        )
    print(
        f"Workflows: {', '.join(sorted(config.workflows)) or 'none'}; "
        f"listening on http://{host}:{settings.port}/webhook",
        flush=True,
    )
    print(
        f"Dashboard: http://{host}:{settings.port}/ (asks for FLYWHEEL_DASHBOARD_TOKEN)"
        if settings.dashboard_token
        else "Dashboard: off (set FLYWHEEL_DASHBOARD_TOKEN to turn it on)",
        flush=True,
    )
    model = linking_model(settings)
    print(
        f"Linking: by meaning ({model.embedder.model_id})"
        if model.embedder is not None
        else f"Linking: by words only, the embedding model is unavailable: {model.problem}",
        flush=True,
    )
    print(f"State: {settings.database_shown}", flush=True)
    if not settings.has_credentials:
        print(f"Register the GitHub App: open http://{host}:{settings.port}/setup", flush=True)
    app = create_app(settings, config)
    web.run_app(
        app,
        host=host,
        port=settings.port,
        print=None,
        shutdown_timeout=settings.shutdown_grace_seconds,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run one payload through the handlers offline and print the plan."""
    from gidgethub import sansio

    from ..handlers import build_router
    from ..intake.processor import Processor
    from ..intake.worker import DeliveryFailed
    from ..plan.comments import Caches
    from ..store.delivery import Delivery
    from ..store.journal import Journal

    settings = Settings.from_env()
    config = load_config_or_exit(Path(args.config) if args.config else settings.config_dir)
    try:
        body = Path(args.file).read_bytes()
        data = json.loads(body)
    except (OSError, ValueError) as exc:
        print(f"flywheel: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print(f"flywheel: {args.file} is not a JSON object", file=sys.stderr)
        return 2

    router = build_router()
    known = sorted(
        name
        for name in {*router._deep_routes, *router._shallow_routes}
        if not name.startswith("flywheel_")  # our own, from the journal only
    )
    if args.event not in known:
        print(
            f"flywheel: {args.event!r} is not an event Flywheel handles; known: "
            + ", ".join(known),
            file=sys.stderr,
        )
        return 2

    async def run() -> int:
        # A file, not ":memory:": the journal reads on a second connection, which would see
        # a second, empty in-memory database.
        scratch = tempfile.TemporaryDirectory(prefix="flywheel-replay-")
        journal = Journal(Path(scratch.name) / "replay.db")
        await journal.open()
        processor = Processor(
            router=router,
            config=lambda: config,
            journal=journal,
            github=None,
            caches=Caches(),
            emit=print,
            full_plans=not args.short,
        )
        delivery = Delivery.from_body(f"replay-{uuid.uuid4()}", args.event, body, data)
        handlers = processor.router.fetch(
            sansio.Event(data, event=args.event, delivery_id=delivery.id)
        )
        if not handlers:
            print(f"no handler for {delivery.event_action}: Flywheel would do nothing")
            await journal.close()
            scratch.cleanup()
            return 0
        try:
            outcome = await processor(delivery)
        except DeliveryFailed as exc:
            outcome = exc.outcome
            print(f"handler error: {exc}")
        await journal.close()
        scratch.cleanup()
        for note in outcome.get("notes", []):
            print(f"why: {note}")
        if not outcome.get("actions"):
            print("plan is empty: Flywheel would change nothing")
        return 1 if outcome.get("errors") else 0

    return asyncio.run(run())


def cmd_check_config(args: argparse.Namespace) -> int:
    from ..config.formcheck import check_forms

    directory = Path(args.directory) if args.directory else Settings.from_env().config_dir
    config = load_config_or_exit(directory)
    print(
        f"ok: {len(config.workflows)} workflows in {directory}: "
        + ", ".join(f"{w.id} ({w.source})" for w in config.workflows.values())
    )
    forms_dir = Path(args.forms)
    if not forms_dir.is_dir():
        if args.forms != DEFAULT_FORMS:
            print(f"flywheel: no issue-form folder at {forms_dir}", file=sys.stderr)
            return 2
        return 0
    drifts = check_forms(config, forms_dir)
    for drift in drifts:
        print(f"{forms_dir}/{drift}", file=sys.stderr)
    if drifts:
        problems = (
            "1 issue-form problem" if len(drifts) == 1 else f"{len(drifts)} issue-form problems"
        )
        print(f"flywheel: {problems} in {forms_dir}", file=sys.stderr)
        return 1
    print(f"ok: the issue forms in {forms_dir} match their workflows")
    return 0
