"""The ``flywheel`` command: parses the command line and hands over; no work at import time."""

from __future__ import annotations

import argparse

from app import __version__
from app.cli.admin import cmd_index, cmd_redeliver, cmd_remind, cmd_setup
from app.cli.common import DEFAULT_FORMS, parse_window
from app.cli.local import cmd_check_config, cmd_replay, cmd_serve


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
    replay.add_argument(
        "--short", action="store_true", help="one line per planned action, not comment bodies"
    )
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
