"""The subcommands an operator runs against GitHub: ``remind``, ``setup``, ``index``,
``redeliver``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

from ..observe import logs
from .common import live_settings_or_exit, load_config_or_exit, run_against_github


def cmd_remind(args: argparse.Namespace) -> int:
    """One reminder sweep, for cron users (``serve`` runs the same sweep on its own)."""
    import aiohttp

    from ..github.app import GitHubApp
    from ..intake.reminders import sweep
    from ..observe.metrics import standard_metrics
    from ..plan.comments import Caches

    settings = live_settings_or_exit("remind")
    config = load_config_or_exit(settings.config_dir)
    logs.configure("WARNING", settings.log_format)
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

    return run_against_github("remind", run)


def cmd_setup(args: argparse.Namespace) -> int:
    """Show (and with --apply, create) the labels and board fields the config needs."""
    import aiohttp

    from ..github.app import GitHubApp, installation_repositories
    from ..observe.metrics import standard_metrics
    from .setup import make_plan

    settings = live_settings_or_exit("setup")
    config = load_config_or_exit(settings.config_dir)
    logs.configure("WARNING", settings.log_format)

    async def run() -> int:
        async with aiohttp.ClientSession() as session:
            github = GitHubApp.from_settings(session, settings, standard_metrics())
            gh = await github.for_installation(await github.installation_for(args.org))
            named = [r if "/" in r else f"{args.org}/{r}" for r in args.repo or ()]
            repos = named or await installation_repositories(gh)
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

    return run_against_github("setup", run)


def cmd_index(args: argparse.Namespace) -> int:
    """Rebuild the request index of an installation from GitHub (it is only a cache)."""
    import time

    import aiohttp

    from ..github.app import GitHubApp
    from ..linking.index import RequestIndex
    from ..linking.reindex import rebuild
    from ..linking.upgrade import Progress, embed_all
    from ..observe.metrics import standard_metrics
    from ..service import linking_model

    settings = live_settings_or_exit("index")
    config = load_config_or_exit(settings.config_dir)
    logs.configure("WARNING", settings.log_format)

    async def run() -> int:
        index = RequestIndex(settings.database, linking_model(settings).embedder)
        started = time.monotonic()
        try:
            async with aiohttp.ClientSession() as session:
                github = GitHubApp.from_settings(session, settings, standard_metrics())
                gh = await github.for_installation(args.installation)
                count = await rebuild(gh, index, config, args.installation)
            if index.meaning is not None:
                await asyncio.to_thread(embed_all, index, Progress(), report=progress_bar)
        finally:
            index.close()
        print(
            f"indexed {count} community requests of installation {args.installation} in "
            f"{time.monotonic() - started:.1f} s into {settings.database_shown}"
        )
        return 0

    return run_against_github("index", run)


def progress_bar(progress: Any) -> None:
    """``embedded 1,200 of 4,000 [#########-------------------] 30%`` on one line of stderr."""
    total = max(1, progress.total)
    filled = int(30 * progress.done / total)
    sys.stderr.write(
        f"\rembedded {progress.done:,} of {progress.total:,} "
        f"[{'#' * filled}{'-' * (30 - filled)}] {100 * progress.done // total}%"
    )
    if progress.done >= progress.total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_redeliver(args: argparse.Namespace) -> int:
    """Ask GitHub again for the failed deliveries of a window that never reached the journal."""
    import time

    import aiohttp

    from ..github.app import GitHubApp
    from ..intake.redeliver import redeliver_failed
    from ..observe.metrics import standard_metrics
    from ..store.engine import journal_at

    settings = live_settings_or_exit("redeliver")
    logs.configure("WARNING", settings.log_format)

    async def run() -> int:
        journal = journal_at(settings.database)
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

    return run_against_github("redeliver", run)
