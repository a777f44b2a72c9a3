"""The journal's contract, one suite for both engines: SQLite (the embedded default) and
PostgreSQL (several replicas). The same operations must give the same answers; PostgreSQL's
replica claims are tested against a real server (tests/postgres.py starts one)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.settings import is_postgres
from app.store.delivery import DONE, FAILED, PENDING, Delivery
from app.store.journal import Journal
from app.store.journal_pg import PgJournal
from app.store.migrations import JOURNAL, migrate_dsn


def delivery(n: int, *, repo: str = "example-org/hubs", issue: int = 1, private: bool = False,
             event: str = "issues", action: str = "opened",
             body: str = "") -> Delivery:  # fmt: skip
    data = {
        "action": action,
        "issue": {"number": issue, "updated_at": f"2026-11-01T10:00:{n:02d}Z", "body": body},
        "repository": {"full_name": repo, "private": private},
        "installation": {"id": 1},
    }
    return Delivery.from_body(f"d-{n}", event, json.dumps(data).encode(), data)


@pytest.fixture(params=["sqlite", "postgresql"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    store: Journal | PgJournal
    if request.param == "sqlite":
        store = Journal(tmp_path / "journal.db")
    else:
        store = PgJournal(request.getfixturevalue("postgres_dsn"))
    await store.open()
    yield store
    await store.close()


async def transcript(journal: Any) -> list[Any]:
    """A run of every operation, its answers made comparable across engines."""
    said: list[Any] = []
    first = await journal.record(delivery(1))
    said.append(("recorded", first.id, first.seq > 0))
    said.append(("again", await journal.record(delivery(1))))
    for n, kw in ((2, {}), (3, {"issue": 2}), (4, {"repo": "example-org/vault", "private": True})):
        await journal.record(delivery(n, **kw))
    comment = delivery(5, event="issue_comment", action="created")
    await journal.record(comment)
    await journal.start("d-1")
    await journal.finish("d-1", state=DONE, duration=0.5, outcome={"actions": ["a"]})
    await journal.start("d-2")
    await journal.postpone("d-2", at=123.0, error="GitHub answered 502")
    await journal.start("d-3")
    await journal.finish("d-3", state=FAILED, duration=0.1, error="GitHub answered 404")
    await journal.start("d-5")
    outcome = {"decided": {"comment": 99, "keys": ["label:support"]}}
    await journal.finish("d-5", state=DONE, duration=0.2, outcome=outcome)
    said.append(("counts", await journal.counts()))
    row = await journal.get("d-1")
    said.append(("get", row["state"], row["attempts"], row["outcome"], row["error"]))
    said.append(("get missing", await journal.get("nope")))
    recent = await journal.recent()
    said.append(("recent", [(r["id"], r["state"], bool(r["private"])) for r in recent]))
    said.append(("recent done", [r["id"] for r in await journal.recent(state=DONE)]))
    said.append(("recent repo", [r["id"] for r in await journal.recent(repo="example-org/vault")]))
    said.append(("retrying", [(r["id"], r["next_attempt_at"]) for r in await journal.retrying()]))
    said.append(("repos", await journal.repos()))
    said.append(("payload", json.loads(await journal.payload("d-4"))["repository"]))
    said.append(("known", sorted(await journal.known(["d-1", "d-4", "d-9"]))))
    # A NUL pasted into an issue (GitHub sends it as "\u0000", which jsonb refuses).
    await journal.record(delivery(6, body="pasted \x00 binary"))
    await journal.start("d-6")
    await journal.finish("d-6", state=DONE, duration=0.1)
    said.append(("newest version", await journal.newest_issue_version("example-org/hubs", 1)))
    said.append(("none yet", await journal.newest_issue_version("example-org/hubs", 2)))
    said.append(("listed with a NUL", [r["id"] for r in await journal.recent(limit=1)]))
    said.append(("decided", sorted(await journal.decided_after("example-org/hubs", 1, 10))))
    said.append(("for issue", [r["id"] for r in await journal.for_issue("example-org/hubs", 1)]))
    await journal.start("d-4")  # left running: a crash
    said.append(("recovered", [d.id for d in await journal.recover()]))
    said.append(("counts after", await journal.counts()))
    return said


async def test_both_engines_answer_the_same(journal: Any) -> None:
    said = dict((entry[0], entry[1:]) for entry in await transcript(journal))
    assert said["recorded"] == ("d-1", True)
    assert said["again"] == (None,)
    assert said["counts"] == ({PENDING: 2, "running": 0, DONE: 2, FAILED: 1},)
    assert said["get"] == ("done", 1, {"actions": ["a"]}, None)
    assert said["recent"][0][0] == ("d-5", "done", False)
    assert ("d-4", "pending", True) in said["recent"][0]
    assert said["recent repo"] == (["d-4"],)
    assert said["retrying"] == ([("d-2", 123.0)],)
    assert said["repos"] == ({"example-org/hubs": False, "example-org/vault": True},)
    assert said["known"] == (["d-1", "d-4"],)
    assert said["decided"] == (["label:support"],)
    assert said["newest version"] == ("2026-11-01T10:00:06Z",)
    assert said["none yet"] == ("",)
    assert said["listed with a NUL"] == (["d-6"],)
    assert said["recovered"] == (["d-2", "d-4"],)
    assert said["counts after"] == ({PENDING: 2, "running": 0, DONE: 3, FAILED: 1},)


async def test_sqlite_and_postgresql_transcripts_are_equal(
    tmp_path: Path, postgres_dsn: str
) -> None:
    sqlite = Journal(tmp_path / "journal.db")
    pg = PgJournal(postgres_dsn)
    for store in (sqlite, pg):
        await store.open()
    try:
        assert await transcript(sqlite) == await transcript(pg)
    finally:
        for store in (sqlite, pg):
            await store.close()


# -- PostgreSQL only: replicas ----------------------------------------------------------


async def pg_journal(dsn: str) -> PgJournal:
    store = PgJournal(dsn)
    await store.open()
    return store


async def test_replicas_claim_disjoint_deliveries_one_lane_at_a_time(postgres_dsn: str) -> None:
    a, b = await pg_journal(postgres_dsn), await pg_journal(postgres_dsn)
    try:
        # Issue 1 has three deliveries, issues 2..6 one each.
        for n in range(1, 4):
            await a.record(delivery(n, issue=1))
        for n in range(4, 9):
            await a.record(delivery(n, issue=n - 2))
        first, second = await asyncio.gather(
            a.claim("replica-a", lease=30, limit=4), b.claim("replica-b", lease=30, limit=4)
        )
        claimed = [d.id for d in first] + [d.id for d in second]
        assert len(claimed) == len(set(claimed)) == 6  # issue 1's head + 5 other issues
        assert "d-2" not in claimed and "d-3" not in claimed  # behind d-1 in its lane
        assert await a.claim("replica-a", lease=30) == []  # nothing else is claimable
        await a.finish("d-1", state=DONE, duration=0.1)
        assert [d.id for d in await b.claim("replica-b", lease=30)] == ["d-2"]
    finally:
        await a.close()
        await b.close()


async def test_a_dead_replicas_claims_pass_to_another_after_the_lease(postgres_dsn: str) -> None:
    a, b = await pg_journal(postgres_dsn), await pg_journal(postgres_dsn)
    try:
        await a.record(delivery(1))
        (mine,) = await a.claim("replica-a", lease=0.2)
        assert await b.claim("replica-b", lease=30) == []
        await asyncio.sleep(0.3)  # replica-a died: it renews nothing
        assert await b.release_expired() == 1
        (taken,) = await b.claim("replica-b", lease=30)
        assert taken.id == mine.id and taken.attempts == 2  # this claim counted: a 2nd attempt
        assert (await b.get("d-1"))["attempts"] == 2
        assert await b.extend("replica-b", lease=30) == {"d-1"}
    finally:
        await a.close()
        await b.close()


async def test_migrations_run_once_when_replicas_start_together(postgres_dsn: str) -> None:
    applied = await asyncio.gather(
        *(asyncio.to_thread(migrate_dsn, postgres_dsn, JOURNAL) for _ in range(4))
    )
    assert sorted(applied, key=len) == [[], [], [], [1, 2, 3, 4]]
    store = await pg_journal(postgres_dsn)  # opening migrates again: nothing left to do
    await store.close()


def test_postgres_locations_are_told_from_paths() -> None:
    assert is_postgres("postgresql://flywheel@db/flywheel")
    assert is_postgres("postgres://db/flywheel")
    assert not is_postgres("/var/lib/flywheel/flywheel.db")
    assert not is_postgres("postgresql.db")


def test_a_postgresql_url_is_kept_whole_and_never_shown_with_its_password() -> None:
    from app.settings import Settings

    url = "postgresql://flywheel:s3cret@db.internal:5432/flywheel"
    settings = Settings.from_env({"FLYWHEEL_DB": url})
    assert settings.database == url  # as a Path, its "//" would have collapsed
    assert settings.database_shown == "postgresql://flywheel:***@db.internal:5432/flywheel"
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({"FLYWHEEL_DB": "state/flywheel.db"}).database == "state/flywheel.db"


def test_a_platforms_database_url_is_used_when_flywheel_db_is_not_set() -> None:
    from app.settings import Settings

    platform = "postgres://u:p@ec2.example.com:5432/d8a"  # Heroku's scheme
    assert Settings.from_env({"DATABASE_URL": platform}).database == platform
    both = {"DATABASE_URL": platform, "FLYWHEEL_DB": "mine.db"}
    assert Settings.from_env(both).database == "mine.db"  # ours wins
    other = {"DATABASE_URL": "mysql://u:p@db/x"}  # not ours to use: the file as ever
    assert Settings.from_env(other).database == "flywheel.db"


async def test_deliveries_arriving_together_are_stored_once_each(journal: Any) -> None:
    """Concurrent records go in groups (one commit for many); a duplicate inside a group is
    stored once and answered as one."""
    first = [delivery(n, issue=n % 5) for n in range(1, 41)]
    stored = await asyncio.gather(*(journal.record(d) for d in [*first, delivery(7)]))
    kept = [s for s in stored if s is not None]
    assert sorted(s.id for s in kept) == sorted(d.id for d in first)
    assert len({s.seq for s in kept}) == 40
    assert (await journal.counts())["pending"] == 40
