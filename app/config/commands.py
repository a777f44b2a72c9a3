"""The commands Flywheel knows: how each is typed and who may run it unless config says otherwise.

A table, not code: ``commands:`` in ``flywheel.yaml`` is checked against it,
``/help`` is rendered from it, and ``app/slash/`` holds one function per row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandSpec:
    """A command Flywheel knows: how it is typed, who may run it by default, how long it takes."""

    name: str
    usage: str
    level: str
    min_args: int = 0
    max_args: int | None = None  # None: any number
    long: bool = False  # answered with 🚀 rather than 👍: it starts more work


SPECS: tuple[CommandSpec, ...] = (
    CommandSpec("help", "/help", "anyone", 0, 0),
    CommandSpec("label", "/label NAME…", "triage", 1),
    CommandSpec("remove-label", "/remove-label NAME…", "triage", 1),
    CommandSpec("status", "/status VALUE", "triage", 1),
    CommandSpec("assign", "/assign [@user…]", "triage"),
    CommandSpec("unassign", "/unassign [@user…]", "triage"),
    CommandSpec("community", "/community SLUG", "triage", 1, 1),
    CommandSpec("link", "/link REF…", "triage", 1),
    CommandSpec("unlink", "/unlink REF…", "triage", 1),
    CommandSpec("join", "/join ROLE… [for COMMUNITY]", "representative", 1),
    CommandSpec("leave", "/leave [for COMMUNITY]", "representative", 0, 2),
    CommandSpec("roles", "/roles ROLE… [for COMMUNITY]", "representative", 1),
    CommandSpec("initiative", "/initiative [CONSORTIUM-REF]", "triage", 0, 1, long=True),
    CommandSpec("offboard", "/offboard", "maintain", 0, 0, long=True),
    CommandSpec("close", "/close [completed|not-planned|duplicate]", "author", 0, 1),
    CommandSpec("reopen", "/reopen", "triage", 0, 0),
    CommandSpec("sync", "/sync", "member", 0, 0, long=True),
    CommandSpec("why", "/why", "anyone", 0, 0),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
