"""Replicas on one PostgreSQL database: claims keep each issue in order, a dead replica's work
passes on, one replica leads the periodic passes, and comment writes see each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.intake import claims
from app.intake.claims import ClaimingDispatcher
from app.intake.leadership import Leadership
from app.intake.replica import Replica, join
from app.observe.metrics import standard_metrics
from app.plan.actions import IssueRef
from app.plan.comments import LABEL_REMOVED, Caches, CommentConflict, CommentLists
from app.store.delivery import Delivery
from app.store.journal_pg import LIVENESS_CLASS, PgJournal
from tests.test_storage_contract import delivery

ISSUE = IssueRef("example-org/hubs", 7)


@pytest.fixture
async def journals(postgres_dsn: str) -> AsyncIterator[list[PgJournal]]:
    stores = [PgJournal(postgres_dsn), PgJournal(postgres_dsn)]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


@pytest.fixture
async def joined(
    journals: list[PgJournal], postgres_dsn: str
) -> AsyncIterator[list[tuple[Replica, Caches]]]:
    """Two replicas on one database, each with its caches; stopped afterwards."""
    found = []
    for store in journals:
        caches = Caches()
        found.append((await join(store, postgres_dsn, caches), caches))
    yield found
    for replica, _ in found:
        await replica.stop()


async def test_a_comment_another_replica_wrote_since_our_list_is_a_conflict(
    joined: list[tuple[Replica, Caches]],
) -> None:
    (_a, caches_a), (_b, caches_b) = joined
    lists_a = CommentLists(caches_a.comment_writes)
    lists_a.known_empty(ISSUE)  # replica A's delivery "listed" the issue's comments
    async with caches_b.comment_writes.lock(ISSUE):  # replica B writes a comment there
        await caches_b.comment_writes.intend(ISSUE)
        CommentLists(caches_b.comment_writes).wrote(ISSUE)
    async with caches_a.comment_writes.lock(ISSUE):
        with pytest.raises(CommentConflict):
            await lists_a.current(None, ISSUE)  # type: ignore[arg-type]
    # Its retry lists again, counting from what it now knows: no conflict.
    again = CommentLists(caches_a.comment_writes)
    again.known_empty(ISSUE)
    async with caches_a.comment_writes.lock(ISSUE):
        assert await again.current(None, ISSUE) == []  # type: ignore[arg-type]


async def test_a_replica_killed_as_its_comment_left_still_makes_the_others_list_again(
    joined: list[tuple[Replica, Caches]],
) -> None:
    """SIGKILLed between its write to GitHub and anything after it: what it announced before
    the write left is all the others need."""
    (a, caches_a), (b, caches_b) = joined
    lists_a = CommentLists(caches_a.comment_writes)
    lists_a.known_empty(ISSUE)
    b.notices.handlers.clear()  # replica A hears nothing either way: the clock must do
    a.notices.handlers.clear()
    dying = caches_b.comment_writes.lock(ISSUE)
    await dying.__aenter__()
    await caches_b.comment_writes.intend(ISSUE)  # ... and the write leaves; then SIGKILL
    await dying.__aexit__(None, None, None)  # the server drops a dead session's locks
    caches_a.comment_writes.settle = 0.5  # (3 s in service)
    began = asyncio.get_running_loop().time()
    async with caches_a.comment_writes.lock(ISSUE):
        # Never answered: the write may still be on its way to GitHub, so A lets it land.
        assert asyncio.get_running_loop().time() - began >= 0.45
        with pytest.raises(CommentConflict):
            await lists_a.current(None, ISSUE)  # type: ignore[arg-type]


async def test_a_comment_write_answered_elsewhere_is_not_waited_for(
    joined: list[tuple[Replica, Caches]],
) -> None:
    (_a, caches_a), (_b, caches_b) = joined
    caches_a.comment_writes.settle = 5.0
    async with caches_b.comment_writes.lock(ISSUE):
        await caches_b.comment_writes.intend(ISSUE)
        CommentLists(caches_b.comment_writes).wrote(ISSUE)  # answered; announced at unlock
    began = asyncio.get_running_loop().time()
    async with caches_a.comment_writes.lock(ISSUE):
        assert asyncio.get_running_loop().time() - began < 1.0


async def test_comment_writes_on_one_issue_wait_for_each_other_across_replicas(
    joined: list[tuple[Replica, Caches]],
) -> None:
    (_a, caches_a), (_b, caches_b) = joined
    order: list[str] = []

    async def write(name: str, caches: Caches) -> None:
        async with caches.comment_writes.lock(ISSUE):
            order.append(f"{name} in")
            await asyncio.sleep(0.1)
            order.append(f"{name} out")

    await asyncio.gather(write("a", caches_a), write("b", caches_b))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_a_label_removed_on_one_replica_is_forgotten_by_the_others_before_they_claim(
    joined: list[tuple[Replica, Caches]],
) -> None:
    (a, caches_a), (_b, caches_b) = joined
    caches_a.labels_added[ISSUE] = {"needs: info", "onboarding"}
    assert caches_b.announce is not None
    await caches_b.announce(
        LABEL_REMOVED, {"repo": ISSUE.repo, "number": ISSUE.number, "name": "needs: info"}
    )
    await a.notices.caught_up()  # what a claim waits for
    assert caches_a.labels_added[ISSUE] == {"onboarding"}


async def test_exactly_one_replica_runs_the_periodic_passes_and_another_takes_over(
    postgres_dsn: str,
) -> None:
    running: list[str] = []

    def passes(name: str) -> Any:
        def start() -> list[asyncio.Task[None]]:
            running.append(name)
            return []

        return start

    first = Leadership(postgres_dsn, passes("first"), every=0.1)
    second = Leadership(postgres_dsn, passes("second"), every=0.1)
    first.start()
    await asyncio.sleep(0.5)
    second.start()
    await asyncio.sleep(0.5)
    assert running == ["first"] and first.leading and not second.leading
    await first.stop()  # the leader dies: its connection, and the lock, go with it
    for _ in range(50):
        if second.leading:
            break
        await asyncio.sleep(0.1)
    assert running == ["first", "second"] and second.leading
    await second.stop()


async def test_replicas_share_the_deliveries_and_keep_each_issue_in_order(
    journals: list[PgJournal],
) -> None:
    seen: list[tuple[str, str, int]] = []  # (replica, delivery, issue)

    def processor(name: str) -> Any:
        async def process(d: Delivery) -> dict[str, Any]:
            await asyncio.sleep(0.02)
            seen.append((name, d.id, int(d.issue_number or 0)))
            return {}

        return process

    dispatchers = [
        ClaimingDispatcher(store, processor(name), standard_metrics(), replica=name, workers=2)
        for store, name in zip(journals, ("a", "b"), strict=True)
    ]
    for dispatcher in dispatchers:
        await dispatcher.start()
    for n in range(1, 41):  # eight issues, five deliveries each, received by either replica
        stored = await journals[n % 2].record(delivery(n, issue=n % 8 + 1))
        assert stored is not None
        dispatchers[n % 2].submit(stored)
    for _ in range(200):
        if len(seen) == 40:
            break
        await asyncio.sleep(0.05)
    for dispatcher in dispatchers:
        await dispatcher.stop(1.0)
    assert sorted(d for _, d, _ in seen) == sorted(f"d-{n}" for n in range(1, 41))
    for issue in range(1, 9):
        mine = [int(d[2:]) for _, d, i in seen if i == issue]
        assert mine == sorted(mine), f"issue {issue} out of order: {mine}"
    assert {name for name, _, _ in seen} == {"a", "b"}  # two workers each, eight issues
    assert (await journals[0].counts())["done"] == 40


async def test_a_dead_replicas_delivery_is_finished_by_another(journals: list[PgJournal]) -> None:
    started = asyncio.Event()
    done: list[str] = []

    async def hangs(d: Delivery) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)  # killed before it finishes
        return {}

    async def works(d: Delivery) -> dict[str, Any]:
        done.append(f"{d.id} attempt {d.attempts + 1}")
        return {}

    dying = ClaimingDispatcher(journals[0], hangs, standard_metrics(), replica="dying", lease=0.6)
    await dying.start()
    stored = await journals[0].record(delivery(1))
    assert stored is not None
    dying.submit(stored)
    await asyncio.wait_for(started.wait(), 5)
    for task in [*dying._loops, *dying._inflight]:  # SIGKILL: no stop, no hand-back
        task.cancel()
    alive = ClaimingDispatcher(journals[1], works, standard_metrics(), replica="alive", lease=0.6)
    await alive.start()
    for _ in range(60):
        if done:
            break
        await asyncio.sleep(0.1)
    await alive.stop(1.0)
    assert done == ["d-1 attempt 2"]
    assert (await journals[1].get("d-1"))["state"] == "done"


async def test_a_change_on_one_replica_makes_the_others_dashboard_pages_stale(
    joined: list[tuple[Replica, Caches]],
) -> None:
    (a, _), (b, _) = joined
    writes = [0]  # replica B's facts and index versions
    b.watch(lambda: writes[0], every=0.05)
    await asyncio.sleep(0.2)
    assert a.changed_elsewhere == 0  # nothing written: nothing said
    writes[0] += 1
    for _ in range(40):
        if a.changed_elsewhere:
            break
        await asyncio.sleep(0.05)
    assert a.changed_elsewhere == 1 and b.changed_elsewhere == 0


async def test_a_replica_that_lost_its_claim_stops_running_the_delivery(
    journals: list[PgJournal],
) -> None:
    """A replica stalled past its lease: another took the delivery over, and the first, on its
    next renewal, stops instead of writing on after the other."""
    started, stopped = asyncio.Event(), asyncio.Event()

    async def slow(d: Delivery) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return {}

    # One worker, busy with the stalled delivery: it cannot claim the delivery back itself.
    stalled = ClaimingDispatcher(
        journals[0], slow, standard_metrics(), replica="stalled", lease=0.6, workers=1
    )
    await stalled.start()
    try:
        stored = await journals[0].record(delivery(1))
        assert stored is not None
        stalled.submit(stored)
        await asyncio.wait_for(started.wait(), 5)
        async with journals[1].pool.connection() as conn:  # its lease ran out: it stalled
            await conn.execute("UPDATE deliveries SET lease_until = 0")
        assert await journals[1].release_expired() == 1
        assert [d.id for d in await journals[1].claim("other", lease=30)] == ["d-1"]
        await asyncio.wait_for(stopped.wait(), 5)  # its next renewal found the claim gone
    finally:
        await stalled.stop(1.0)
    row = await journals[1].get("d-1")
    assert row["state"] == "running" and row["attempts"] == 2  # the other replica's, intact


async def _die(dispatcher: ClaimingDispatcher) -> None:
    """SIGKILL, as the database sees it: no stop, no hand-back, and the sessions close."""
    for task in [*dispatcher._loops, *dispatcher._inflight]:
        task.cancel()
    await dispatcher.liveness.stop()


async def _finished_by_another(
    journals: list[PgJournal], taken_over: asyncio.Event, within: float = 10
) -> float:
    """Start a replica that claims after another; the seconds it took to finish d-1."""

    async def works(d: Delivery) -> dict[str, Any]:
        taken_over.set()
        return {}

    alive = ClaimingDispatcher(journals[1], works, standard_metrics(), replica="alive", lease=30)
    began = asyncio.get_running_loop().time()
    await alive.start()
    try:
        await asyncio.wait_for(taken_over.wait(), within)
    finally:
        await alive.stop(1.0)
    return asyncio.get_running_loop().time() - began


async def _claimed_and_hung(journal: PgJournal, name: str) -> ClaimingDispatcher:
    started = asyncio.Event()

    async def hangs(d: Delivery) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        return {}

    dispatcher = ClaimingDispatcher(journal, hangs, standard_metrics(), replica=name, lease=30)
    await dispatcher.start()
    stored = await journal.record(delivery(1))
    assert stored is not None
    dispatcher.submit(stored)
    await asyncio.wait_for(started.wait(), 5)
    return dispatcher


async def test_a_dead_replicas_claim_passes_on_when_its_session_closes_not_its_lease(
    journals: list[PgJournal],
) -> None:
    """A 30-second lease, yet the work moves within seconds: the database saw the process go."""
    dying = await _claimed_and_hung(journals[0], "dying")
    await _die(dying)
    taken_over = asyncio.Event()
    seconds = await _finished_by_another(journals, taken_over)
    assert seconds < 8, "taken back by the session, not after the 30-second lease"
    row = await journals[1].get("d-1")
    assert row["state"] == "done" and row["attempts"] == 2


async def test_a_replica_whose_session_drops_a_moment_keeps_its_claims(
    journals: list[PgJournal],
) -> None:
    """A dropped connection (a proxy restarting) is not death: the replica holds its lock
    again within the grace, and nobody else runs its delivery."""
    living = await _claimed_and_hung(journals[0], "living")
    try:

        async def works(d: Delivery) -> dict[str, Any]:
            raise AssertionError("ran a live replica's delivery")

        other = ClaimingDispatcher(journals[1], works, standard_metrics(), replica="other")
        await other.start()
        async with journals[1].pool.connection() as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype='advisory' AND classid=%s::oid AND objid=hashtext('living')::oid",
                (LIVENESS_CLASS,),
            )
        await asyncio.sleep(4.0)  # two grace periods, eight looks by the other replica
        gone, _up = await journals[1].claimers_gone("other")
        await other.stop(1.0)
        assert gone == {}, "its lock is held again"
        row = await journals[1].get("d-1")
        assert row["state"] == "running" and row["claimed_by"] == "living"
    finally:
        await living.stop(0.1)


async def test_claims_made_before_the_server_restarted_wait_for_their_replicas_to_reconnect(
    journals: list[PgJournal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restart ends every session at once; a claim older than the restart is not
    taken until the replicas have had time to hold their locks again."""
    dying = await _claimed_and_hung(journals[0], "before-restart")
    await _die(dying)
    async with journals[1].pool.connection() as conn:  # claimed before the server started
        await conn.execute("UPDATE deliveries SET started_at = 0")
    gone, up = await journals[1].claimers_gone("alive")
    assert gone == {"before-restart": True} and up > 0
    monkeypatch.setattr(claims, "SERVER_RESTART_GRACE_SECONDS", up + 3600)  # it just restarted
    taken_over = asyncio.Event()
    with pytest.raises(TimeoutError):  # two grace periods
        await _finished_by_another(journals, taken_over, within=4)
    assert (await journals[1].get("d-1"))["claimed_by"] == "before-restart"
    monkeypatch.setattr(claims, "SERVER_RESTART_GRACE_SECONDS", 0.0)  # long enough ago
    taken_over.clear()
    assert await _finished_by_another(journals, taken_over) < 8


async def test_a_replica_whose_name_hashes_like_a_live_ones_still_starts(postgres_dsn: str) -> None:
    """Its lock key taken (another name, the same hash): it starts without waiting, and holds
    the lock once the other lets it go."""
    import psycopg

    from app.intake.liveness import Liveness

    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as other:
        await other.execute("SELECT pg_advisory_lock(%s, hashtext('twin'))", (LIVENESS_CLASS,))
        twin = Liveness(postgres_dsn, "twin")
        await asyncio.wait_for(twin.start(), 5)
        try:
            assert twin.held is False
            await other.execute("SELECT pg_advisory_unlock_all()")
            for _ in range(40):
                if twin.held:
                    break
                await asyncio.sleep(0.1)
            assert twin.held is True
        finally:
            await twin.stop()


async def test_a_payload_older_than_one_another_replica_applied_is_read_again(
    journals: list[PgJournal],
) -> None:
    """This replica applied an issue's first version, another replica its second; a late copy
    of the first arriving here is measured against the journal, not this replica's memory."""
    import json

    from gidgethub import sansio

    from app.intake.freshness import Freshness

    def event(n: int, updated: str) -> sansio.Event:
        data = {"action": "edited", "issue": {"number": 1, "updated_at": updated},
                "repository": {"full_name": "example-org/hubs"}}  # fmt: skip
        return sansio.Event(data, event="issues", delivery_id=f"d-{n}")

    async def applied(journal: PgJournal, freshness: Freshness, n: int, updated: str) -> None:
        data = event(n, updated).data
        body = json.dumps(data).encode()
        stored = await journal.record(Delivery.from_body(f"d-{n}", "issues", body, data))
        assert stored is not None
        await journal.start(stored.id)
        await journal.finish(stored.id, state="done", duration=0.1)
        freshness.handled(event(n, updated))

    class GitHub:
        reads: list[str] = []

        async def getitem(self, url: str) -> dict[str, Any]:
            self.reads.append(url)
            return {"number": 1, "state": "open", "updated_at": "2026-11-01T10:00:02Z"}

    here, there = Freshness(journals[0]), Freshness(journals[1])
    await applied(journals[0], here, 1, "2026-11-01T10:00:01Z")
    await applied(journals[1], there, 2, "2026-11-01T10:00:02Z")
    github = GitHub()
    late = await here.refresh(event(3, "2026-11-01T10:00:01Z"), github)  # type: ignore[arg-type]
    assert "older than one handled (2026-11-01T10:00:02Z)" in late.note
    assert github.reads == ["/repos/example-org/hubs/issues/1"]
    assert late.event.data["issue"]["updated_at"] == "2026-11-01T10:00:02Z"


async def test_a_delivery_submitted_while_a_claim_runs_is_not_reported_idle(
    journals: list[PgJournal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's snapshot predates the new row, so it finds nothing; the dispatcher must
    not call itself idle then (CI saw a delivery read as pending after ``wait_idle``)."""
    journal = journals[0]
    claiming, go_on = asyncio.Event(), asyncio.Event()
    claim = journal.claim

    async def slow_claim(*args: Any, **kwargs: Any) -> list[Delivery]:
        found = await claim(*args, **kwargs)
        claiming.set()
        await go_on.wait()
        return found

    monkeypatch.setattr(journal, "claim", slow_claim)
    done: list[str] = []

    async def works(d: Delivery) -> dict[str, Any]:
        done.append(d.id)
        return {}

    dispatcher = ClaimingDispatcher(journal, works, standard_metrics(), replica="r")
    await dispatcher.start()
    try:
        await asyncio.wait_for(claiming.wait(), 5)  # a claim that found nothing, not back yet
        stored = await journal.record(delivery(1))
        assert stored is not None
        dispatcher.submit(stored)
        go_on.set()
        await dispatcher.wait_idle(timeout=5)
        assert done == ["d-1"]
    finally:
        await dispatcher.stop(1.0)
