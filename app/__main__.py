"""The ``flywheel`` command: parses the command line and hands over; no work at import time."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any

from app import __version__
from app.config.loader import Config, ConfigError, load_config
from app.observe import logs
from app.settings import Settings, SettingsError

DEFAULT_FORMS = ".github/ISSUE_TEMPLATE"


def _load_config_or_exit(directory: Path) -> Config:
    try:
        return load_config(directory)
    except ConfigError as exc:
        print(f"flywheel: configuration refused: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from app.service import create_app

    try:
        settings = Settings.from_env(force_dry_run=args.dry_run or None, port=args.port)
        settings.check_startable()
    except SettingsError as exc:
        print(f"flywheel: cannot start: {exc}", file=sys.stderr)
        return 2
    config = _load_config_or_exit(settings.config_dir)
    logs.configure(args.log_level)
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

    from app.handlers import build_router
    from app.intake.processor import Processor
    from app.intake.worker import DeliveryFailed
    from app.plan.executor import Caches
    from app.store.journal import Delivery, Journal

    settings = Settings.from_env()
    config = _load_config_or_exit(Path(args.config) if args.config else settings.config_dir)
    try:
        body = Path(args.file).read_bytes()
        data = json.loads(body)
    except (OSError, ValueError) as exc:
        print(f"flywheel: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print(f"flywheel: {args.file} is not a JSON object", file=sys.stderr)
        return 2

    async def run() -> int:
        journal = Journal(":memory:")
        await journal.open()
        processor = Processor(
            router=build_router(),
            config=lambda: config,
            journal=journal,
            github=None,
            caches=Caches(),
            emit=print,
        )
        delivery = Delivery.from_body(f"replay-{uuid.uuid4()}", args.event, body, data)
        handlers = processor.router.fetch(
            sansio.Event(data, event=args.event, delivery_id=delivery.id)
        )
        if not handlers:
            print(f"no handler for {delivery.event_action}: Flywheel would do nothing")
            await journal.close()
            return 0
        try:
            outcome = await processor(delivery)
        except DeliveryFailed as exc:
            outcome = exc.outcome
            print(f"handler error: {exc}")
        await journal.close()
        for note in outcome.get("notes", []):
            print(f"why: {note}")
        if not outcome.get("actions"):
            print("plan is empty: Flywheel would change nothing")
        return 1 if outcome.get("errors") else 0

    return asyncio.run(run())


def _live_settings_or_exit(command: str) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"flywheel: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.dry_run:
        print(
            f"flywheel {command} reads GitHub, so it needs the App's credentials: set "
            "GITHUB_APP_ID and GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return settings


def _run_against_github(command: str, run: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """GitHub's refusals end the command with GitHub's reason, not a traceback."""
    from app.github.client import PermanentGitHubError, TransientGitHubError

    try:
        return asyncio.run(run())
    except (PermanentGitHubError, TransientGitHubError) as exc:
        print(f"flywheel {command}: GitHub refused: {exc}", file=sys.stderr)
        return 2


def cmd_remind(args: argparse.Namespace) -> int:
    """One reminder sweep, for cron users (``serve`` runs the same sweep on its own)."""
    import aiohttp

    from app.github.client import GitHubApp
    from app.intake.reminders import sweep
    from app.observe.metrics import standard_metrics
    from app.plan.executor import Caches

    settings = _live_settings_or_exit("remind")
    config = _load_config_or_exit(settings.config_dir)
    logs.configure("WARNING")
    today = date.fromisoformat(args.today) if args.today else None

    async def run() -> int:
        async with aiohttp.ClientSession() as session:
            github = GitHubApp.from_settings(session, settings, standard_metrics())
            report = await sweep(
                github, config, Caches(), today=today, installations=args.installation or None
            )
        for result in report.results:
            print(
                f"{result.status}: {result.action}"
                + (f" ({result.detail})" if result.detail else "")
            )
        print(report.summary())
        return 1 if any(r.status == "failed" for r in report.results) else 0

    return _run_against_github("remind", run)


def cmd_setup(args: argparse.Namespace) -> int:
    """Show (and with --apply, create) the labels and board fields the config needs."""
    import aiohttp

    from app.cli.setup import make_plan
    from app.github.client import GitHubApp, installation_repositories
    from app.observe.metrics import standard_metrics

    settings = _live_settings_or_exit("setup")
    config = _load_config_or_exit(settings.config_dir)
    logs.configure("WARNING")

    async def run() -> int:
        async with aiohttp.ClientSession() as session:
            github = GitHubApp.from_settings(session, settings, standard_metrics())
            gh = await github.for_installation(await github.installation_for(args.org))
            repos = args.repo or await installation_repositories(gh)
            plan = await make_plan(gh, config, repos)
            for line in plan.present:
                print(f"ok      {line}")
            for step in plan.manual:
                print(f"by hand {step.description}")
            verb = "create " if args.apply else "would  "
            for step in plan.todo:
                print(f"{verb} {step.description.removeprefix('create ')}")
                if args.apply and step.run is not None:
                    await step.run()
        if plan.todo and not args.apply:
            print(f"{len(plan.todo)} changes shown; run again with --apply to make them.")
        elif not plan.todo:
            print("nothing to create.")
        return 1 if plan.manual else 0

    return _run_against_github("setup", run)


def cmd_index(args: argparse.Namespace) -> int:
    """Rebuild the request index of an installation from GitHub (it is only a cache)."""
    import time

    import aiohttp

    from app.github.client import GitHubApp
    from app.linking.index import RequestIndex
    from app.linking.reindex import rebuild
    from app.observe.metrics import standard_metrics

    settings = _live_settings_or_exit("index")
    config = _load_config_or_exit(settings.config_dir)
    logs.configure("WARNING")

    async def run() -> int:
        index = RequestIndex(settings.db_path)
        started = time.monotonic()
        try:
            async with aiohttp.ClientSession() as session:
                github = GitHubApp.from_settings(session, settings, standard_metrics())
                gh = await github.for_installation(args.installation)
                count = await rebuild(gh, index, config, args.installation)
        finally:
            index.close()
        print(
            f"indexed {count} community requests of installation {args.installation} in "
            f"{time.monotonic() - started:.1f} s into {settings.db_path}"
        )
        return 0

    return _run_against_github("index", run)


def parse_window(text: str) -> float:
    """``6h``, ``90m``, ``2d`` or plain seconds → seconds (argparse type for --since).

    >>> parse_window("6h"), parse_window("90m"), parse_window("2d"), parse_window("30")
    (21600.0, 5400.0, 172800.0, 30.0)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:])
    number = text[:-1] if unit else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 6h, 90m or 2d") from None
    if not 0 < value <= 3 * 86400:
        raise argparse.ArgumentTypeError("give a window between a second and 3 days (GitHub's)")
    return value


def cmd_redeliver(args: argparse.Namespace) -> int:
    """Ask GitHub again for the failed deliveries of a window that never reached the journal."""
    import time

    import aiohttp

    from app.github.client import GitHubApp
    from app.intake.redeliver import redeliver_failed
    from app.observe.metrics import standard_metrics
    from app.store.journal import Journal

    settings = _live_settings_or_exit("redeliver")
    logs.configure("WARNING")

    async def run() -> int:
        journal = Journal(settings.db_path)
        await journal.open()
        try:
            async with aiohttp.ClientSession() as session:
                github = GitHubApp.from_settings(session, settings, standard_metrics())
                report = await redeliver_failed(
                    github, journal.known, since=time.time() - args.since
                )
        finally:
            await journal.close()
        for guid in report.redelivered:
            print(f"asked again: {guid}")
        for error in report.errors:
            print(f"failed: {error}", file=sys.stderr)
        print(report.summary())
        return 1 if report.errors else 0

    return _run_against_github("redeliver", run)


def cmd_check_config(args: argparse.Namespace) -> int:
    from app.config.formcheck import check_forms

    directory = Path(args.directory) if args.directory else Settings.from_env().config_dir
    config = _load_config_or_exit(directory)
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
        print(f"flywheel: {len(drifts)} issue-form problems in {forms_dir}", file=sys.stderr)
        return 1
    print(f"ok: the issue forms in {forms_dir} match their workflows")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flywheel",
        description=(
            "Flywheel runs a community-relations team's workflows (onboarding, offboarding, "
            "initiatives, consortia) on GitHub issues and Projects boards."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the webhook server and workers")
    serve.add_argument(
        "--host", help="listen address (default 0.0.0.0; 127.0.0.1 without a secret)"
    )
    serve.add_argument("--port", type=int, help="listen port (default $PORT or 8080)")
    serve.add_argument("--dry-run", action="store_true", help="never write to GitHub; log plans")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=cmd_serve)

    replay = sub.add_parser("replay", help="print what the app would do with a payload (offline)")
    replay.add_argument("event", help="the X-GitHub-Event name, e.g. issues")
    replay.add_argument("file", help="a webhook payload as JSON")
    replay.add_argument("--config", help="workflow-config folder (default $FLYWHEEL_CONFIG)")
    replay.set_defaults(func=cmd_replay)

    remind = sub.add_parser("remind", help="post the date reminders due today (for cron)")
    remind.add_argument("--today", help="pretend today is YYYY-MM-DD (to preview a date)")
    remind.add_argument(
        "--installation", type=int, action="append", help="only this installation (repeatable)"
    )
    remind.set_defaults(func=cmd_remind)

    setup = sub.add_parser("setup", help="create the labels and board fields the config needs")
    setup.add_argument("--org", required=True, help="the organisation the App is installed on")
    setup.add_argument("--repo", action="append", help="only this repository (repeatable)")
    setup.add_argument("--apply", action="store_true", help="make the changes (default: show)")
    setup.set_defaults(func=cmd_setup)

    index = sub.add_parser("index", help="rebuild the request index (linking) from GitHub")
    index.add_argument("--installation", type=int, required=True, help="the installation id")
    index.set_defaults(func=cmd_index)

    again = sub.add_parser(
        "redeliver", help="ask GitHub to redeliver the failed deliveries the journal lacks"
    )
    again.add_argument(
        "--since",
        type=parse_window,
        default=parse_window("6h"),
        help="how far back to look: 90m, 6h, 2d (default 6h; GitHub keeps 3 days)",
    )
    again.set_defaults(func=cmd_redeliver)

    check = sub.add_parser("check-config", help="validate a workflow-config folder")
    check.add_argument("directory", nargs="?", help="default $FLYWHEEL_CONFIG or workflow-config")
    check.add_argument(
        "--forms",
        default=DEFAULT_FORMS,
        help=f"issue forms to check against the workflows (default {DEFAULT_FORMS})",
    )
    check.set_defaults(func=cmd_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
