"""``/connections``: the possible connections linking found, for the team to make or drop.

Links linking is sure of are posted on both issues. Below that, the best few partners of
each request are listed here, side by side, with what the two share. *Introduce* writes the
link on both issues, as ``/link`` would (through the journal, by the worker, like any
delivery); *Not related* drops the pair for good. Every decision is kept with the score
linking gave the pair: the counts at the top say what precision people's decisions imply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiohttp import web

from ..linking.decisions import Summary, pair
from ..linking.refs import parse_ref
from ..linking.requests import scoring_of
from ..linking.scoring import Related, Request
from ..store.delivery import Delivery

EVENT = "flywheel_connection"  # never sent by GitHub; refused at the webhook's door


@dataclass(frozen=True)
class Connection:
    installation: int
    a: Request
    b: Request
    score: float
    shared: tuple[str, ...]


@dataclass(frozen=True)
class InstallationView:
    installation: int
    connections: list[Connection]
    summary: Summary
    threshold: float
    shipped: float


def gather(state: Any) -> list[InstallationView]:
    """Each installation's open possible connections, best first, without decided pairs
    (and without private repositories' requests unless the config shows them)."""
    index = state.index
    if index is None or index.meaning is None:
        return []
    settings = state.config.settings.linking
    shows_private = state.config.settings.dashboard_shows_private
    found = []
    for installation in index.installations():
        shipped = settings.meaning_threshold
        scoring = scoring_of(settings)
        threshold = index.decisions.calibrated(installation, shipped)
        scoring = replace(scoring, meaning_threshold=threshold)
        decided = index.decisions.decided(installation)
        connections = []
        for a, b, score in index.meaning.possible(
            installation, scoring, index.fetch, settings.suggestions
        ):
            if pair(a.ref, b.ref) in decided or "closed" in (a.state, b.state):
                continue
            if not shows_private and (a.private or b.private):
                continue
            candidate = [Related(b, score, (), (), by_meaning=True)]
            if index.judged(a, candidate, scoring):
                continue  # their words agree too: already linked on the issues
            told = index.judged(a, candidate, scoring, posted_only=False)
            connections.append(Connection(installation, a, b, score, told[0].shared_terms))
        found.append(
            InstallationView(
                installation, connections, index.decisions.summary(installation), threshold, shipped
            )
        )
    return found


async def decide(request: web.Request, state: Any) -> web.StreamResponse:
    """A POST from the page: ``introduce`` journals the link, ``dismiss`` records it."""
    form = await request.post()
    action = str(form.get("action", ""))
    a, b = parse_ref(str(form.get("a", ""))), parse_ref(str(form.get("b", "")))
    try:
        installation = int(str(form.get("installation", "")))
    except ValueError:
        installation = 0
    index = state.index
    if action not in ("introduce", "dismiss") or a is None or b is None or index is None:
        raise web.HTTPBadRequest(text="a decision needs an action and two issue references")
    known = {key: index.get(installation, key.repo, key.number) for key in (a, b)}
    if None in known.values():
        raise web.HTTPNotFound(text="those requests are not in the index (any more)")
    score = index.meaning.score(known[a], known[b], scoring_of(state.config.settings.linking)) \
        if index.meaning is not None else None  # fmt: skip
    if action == "dismiss":
        index.decisions.record(installation, str(a), str(b), "dismiss", score=score, by="dashboard")
    else:
        data = {
            "action": "confirm",
            "a": str(a),
            "b": str(b),
            "score": score,
            "installation": {"id": installation},
            "repository": {"full_name": a.repo},
            "issue": {"number": a.number},
            "sender": {"login": "flywheel-dashboard", "type": "User"},
        }
        delivery = Delivery.from_body(f"dashboard-{uuid.uuid4()}", EVENT, orjson.dumps(data), data)
        stored = await state.journal.record(delivery)
        if stored is not None and state.dispatcher is not None:
            state.dispatcher.submit(stored)
    raise web.HTTPSeeOther("/connections")
