"""The ``flywheel`` command: parses the command line and hands over; no work at import time."""

from __future__ import annotations

import argparse
import errno
import sqlite3
import sys
from datetime import date

from . import __version__
from .cli.admin import cmd_index, cmd_redeliver, cmd_remind, cmd_setup
from .cli.common import DEFAULT_FORMS, parse_window
from .cli.local import cmd_check_config, cmd_replay, cmd_serve
from .cli.migrate import cmd_migrate_db


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flywheel",
        description=(
            "Flywheel runs a community-relations team's workflows (onboarding, offboarding, "
            "initiatives, consortia) on GitHub issues and Projects boards."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an error, print the traceback too")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the webhook server and workers")
    serve.add_argument(
        "--host", help="listen address (default 0.0.0.0; 127.0.0.1 without a secret)"
    )
    serve.add_argument("--port", type=port_number, help="listen port (default $PORT or 8080)")
    serve.add_argument("--dry-run", action="store_true", help="never write to GitHub; log plans")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=cmd_serve)

    replay = sub.add_parser("replay", help="print what the app would do with a payload (offline)")
    replay.add_argument("event", help="the X-GitHub-Event name, e.g. issues")
    replay.add_argument("file", help="a webhook payload as JSON")
    replay.add_argument("--config", help="workflow-config folder (default $FLYWHEEL_CONFIG)")
    replay.add_argument(
        "--short", action="store_true", help="one line per planned action, not comment bodies"
    )
    replay.set_defaults(func=cmd_replay)

    remind = sub.add_parser("remind", help="post the date reminders due today (for cron)")
    remind.add_argument(
        "--today", type=iso_date, help="pretend today is YYYY-MM-DD (to preview a date)"
    )
    remind.add_argument(
        "--installation", type=int, action="append", help="only this installation (repeatable)"
    )
    remind.set_defaults(func=cmd_remind)

    setup = sub.add_parser("setup", help="create the labels and board fields the config needs")
    setup.add_argument("--org", required=True, help="the organisation the App is installed on")
    setup.add_argument(
        "--repo", action="append", help="only this repository, NAME or OWNER/NAME (repeatable)"
    )
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

    move = sub.add_parser(
        "migrate-db", help="copy a SQLite database's state to PostgreSQL (serve stopped)"
    )
    move.add_argument("--to", required=True, help="the target, a postgresql:// URL")
    move.add_argument(
        "--from", dest="source", help="the SQLite file (default $FLYWHEEL_DB or flywheel.db)"
    )
    move.set_defaults(func=cmd_migrate_db)
    return parser


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1 to 65535)")
    return port


def iso_date(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2027-03-01") from None
    return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Credentials /setup wrote (or an operator's .env): the real environment wins.
    from dotenv import load_dotenv

    load_dotenv(".env", override=False)
    try:
        return int(args.func(args) or 0)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if args.debug:
            raise
        print(f"flywheel {args.command}: {error_line(exc)} (--debug shows more)", file=sys.stderr)
        return 1


def error_line(exc: BaseException) -> str:
    """One line a person can act on, for what can go wrong outside Flywheel's own checks."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "the port is in use (another flywheel serve?): choose another with --port or PORT"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
        return f"cannot listen there: {exc.strerror}"
    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
        return f"the database (FLYWHEEL_DB) cannot be used: {exc}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    raise SystemExit(main())
