"""Self-healing: ask GitHub again for the deliveries that never reached the journal.

GitHub does not retry a webhook on its own. A delivery it could not hand us
(Flywheel down, a deploy, a network fault, an answer slower than GitHub's
10 seconds) stays "failed" in the App's delivery log until someone presses
*Redeliver*. This presses it for us: for every delivery guid of the window
with no successful attempt, whose guid is not in the journal, ask for the
latest attempt again. A redelivery carries the same guid, so the journal's
"already received" check makes asking twice harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..github.app import GitHubApp
from ..github.errors import PermanentGitHubError, TransientGitHubError
from . import periodic

log = logging.getLogger("flywheel.redeliver")

# Answers worth asking again for: no answer at all (0: timeout or refused), our
# 5xx, throttling, and 401 (a secret rotated between sending and checking). Any
# other 4xx was our deliberate "no" and would be refused the same way again.
RETRYABLE_CLIENT_STATUSES = frozenset({401, 408, 429})
MAX_ATTEMPTS_PER_DELIVERY = 4  # the original and three redeliveries; then a person looks


@dataclass
class RedeliveryReport:
    examined: int = 0  # attempts listed in the window
    failed: int = 0  # guids with no successful attempt
    journaled: int = 0  # ...of which the journal has (we answered late, or it was a 4xx)
    refused: int = 0  # ...whose answer was a deliberate 4xx
    exhausted: int = 0  # ...asked for too often already
    redelivered: list[str] = field(default_factory=list)  # guids asked for again
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.examined} delivery attempts examined, {self.failed} deliveries failed: "
            f"{len(self.redelivered)} asked again, {self.journaled} already in the journal, "
            f"{self.refused} refused on purpose (4xx), {self.exhausted} given up after "
            f"{MAX_ATTEMPTS_PER_DELIVERY} attempts"
            + (f", {len(self.errors)} errors" if self.errors else "")
        )


def succeeded(attempt: dict[str, Any]) -> bool:
    code = attempt.get("status_code")
    return isinstance(code, int) and 200 <= code < 300


def worth_asking_again(attempt: dict[str, Any]) -> bool:
    code = attempt.get("status_code")
    if not isinstance(code, int) or code == 0 or code >= 500:
        return True
    return code in RETRYABLE_CLIENT_STATUSES


def failed_guids(attempts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """guid → its attempts, newest first, for the guids that never succeeded."""
    by_guid: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        guid = attempt.get("guid")
        if isinstance(guid, str) and guid:
            by_guid.setdefault(guid, []).append(attempt)
    for tries in by_guid.values():
        tries.sort(key=lambda a: (str(a.get("delivered_at") or ""), a.get("id") or 0), reverse=True)
    return {g: tries for g, tries in by_guid.items() if not any(succeeded(a) for a in tries)}


async def redeliver_failed(
    github: GitHubApp,
    journaled: Callable[[list[str]], Awaitable[set[str]]],
    *,
    since: float,
) -> RedeliveryReport:
    """One pass over the window: list, choose, ask. GitHub errors are reported, not raised."""
    report = RedeliveryReport()
    attempts = await github.hook_deliveries(since)
    report.examined = len(attempts)
    failed = failed_guids(attempts)
    report.failed = len(failed)
    known = await journaled(list(failed)) if failed else set()
    for guid, tries in failed.items():
        latest = tries[0]
        if guid in known:
            report.journaled += 1
        elif not worth_asking_again(latest):
            report.refused += 1
        elif len(tries) >= MAX_ATTEMPTS_PER_DELIVERY:
            report.exhausted += 1
            log.warning(
                "delivery %s (%s) failed %d times; not asking again: see the App's "
                "Advanced tab for GitHub's record of it",
                guid,
                latest.get("event"),
                len(tries),
            )
        else:
            try:
                await github.redeliver(int(latest["id"]))
            except (TransientGitHubError, PermanentGitHubError) as exc:
                report.errors.append(f"{guid}: {exc}")
                continue
            report.redelivered.append(guid)
    return report


async def run_periodically(
    github: GitHubApp,
    journaled: Callable[[list[str]], Awaitable[set[str]]],
    interval_seconds: float,
    window_seconds: float,
) -> None:
    """The optional loop in ``serve``: a pass every interval; a failed pass waits for the next."""

    async def one_pass() -> str | None:
        report = await redeliver_failed(github, journaled, since=time.time() - window_seconds)
        return report.summary() if report.failed else None

    await periodic.every(interval_seconds, one_pass, "redelivery", first_after=interval_seconds)
