"""A consortium's members, derived from the history of /join, /roles and /leave.

The history is kept in the marker data of the consortium's comment, on
GitHub, one entry per command with the id of the comment that gave it. The
members table is always recomputed from it, so it can be rebuilt from GitHub
at any time, and a redelivered command (same comment id) is recorded once.
Deliveries on one issue are processed one at a time (see the processor), so
two commands at the same moment each see the other's entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPERATIONS = ("join", "roles", "leave")
MAX_HISTORY = 500  # a consortium has dozens of members; this bounds a hostile flood


@dataclass(frozen=True)
class Entry:
    op: str  # join | roles | leave
    community: str
    roles: tuple[str, ...]
    by: str
    at: str  # ISO date of the comment
    comment: int

    def as_data(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "community": self.community,
            "roles": list(self.roles),
            "by": self.by,
            "at": self.at,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class Member:
    community: str
    roles: tuple[str, ...]
    joined: str
    by: str


def entries(data: Any) -> list[Entry]:
    """History entries from marker data; anything malformed is skipped, never fatal."""
    found = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict) or item.get("op") not in OPERATIONS:
            continue
        roles = item.get("roles")
        comment = item.get("comment")
        found.append(
            Entry(
                op=str(item["op"]),
                community=str(item.get("community", "")),
                roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
                by=str(item.get("by", "")),
                at=str(item.get("at", "")),
                comment=comment if isinstance(comment, int) else 0,
            )
        )
    return found


def record(history: Sequence[Entry], entry: Entry) -> list[Entry]:
    """The history with this command added once, in the order its comments were written.

    A redelivery does not add it again; a command arriving late (redelivered
    after an outage) takes its place among the later ones, so that replaying
    the history gives what running them in order would have.
    """
    if entry.comment and any(
        e.comment == entry.comment and e.community == entry.community for e in history
    ):
        return list(history)
    place = len(history)
    if entry.comment:
        while place and history[place - 1].comment > entry.comment:
            place -= 1
    return [*history[:place], entry, *history[place:]][-MAX_HISTORY:]


def members(history: Iterable[Entry], role_order: Sequence[str] = ()) -> list[Member]:
    """Replay the history: join adds roles, roles replaces them, leave removes the member."""
    current: dict[str, Member] = {}
    for entry in history:
        known = current.get(entry.community)
        if entry.op == "leave":
            current.pop(entry.community, None)
        elif entry.op == "join" and known is not None:
            roles = _ordered({*known.roles, *entry.roles}, role_order)
            current[entry.community] = Member(entry.community, roles, known.joined, known.by)
        else:
            roles = _ordered(set(entry.roles), role_order)
            joined, by = (known.joined, known.by) if known else (entry.at, entry.by)
            current[entry.community] = Member(entry.community, roles, joined, by)
    return sorted(current.values(), key=lambda m: m.community)


def _ordered(roles: set[str], order: Sequence[str]) -> tuple[str, ...]:
    rank = {role: i for i, role in enumerate(order)}
    return tuple(sorted(roles, key=lambda r: (rank.get(r, len(rank)), r)))


def view(history: Iterable[Entry], role_order: Sequence[str] = ()) -> list[Mapping[str, Any]]:
    """What the consortium template shows."""
    return [
        {"community": m.community, "roles": list(m.roles), "joined": m.joined, "by": m.by}
        for m in members(history, role_order)
    ]
