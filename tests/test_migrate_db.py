"""``flywheel migrate-db``: a SQLite database's whole state arrives in PostgreSQL, once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.__main__ import main
from app.linking.index import RequestIndex
from app.linking.scoring import Request
from app.linking.vectors import VectorIndex
from app.store.facts import Facts, IssueFact
from app.store.journal import Journal
from app.store.journal_pg import PgJournal
from tests.test_storage_contract import delivery


async def sqlite_state(path: Path) -> None:
    journal = Journal(path)
    await journal.open()
    for n in (1, 2, 3):
        await journal.record(delivery(n, issue=n))
    await journal.start("d-1")
    await journal.finish("d-1", state="done", duration=0.1, outcome={"actions": ["x"]})
    await journal.start("d-2")  # left running: the process was stopped
    await journal.close()
    facts = Facts(path)
    facts.workflow_issue(IssueFact("org/hubs", 1, "onboarding", "Hypatia", "Onboard", "open",
                                   False, ""))  # fmt: skip
    facts.links("org/hubs", 1, {"auto": ["org/support#4"]})
    facts.close()
    index = RequestIndex(path)
    index.upsert_many(
        Request(1, "org/support", n, f"GPU quota {n}", "We need GPUs", community=f"c{n}")
        for n in range(1, 6)
    )
    index.decisions.record(1, "org/support#1", "org/support#2", "dismiss", score=0.4, by="ada")
    vectors = VectorIndex(index.db, index.lock, "test-model", 4)
    keys = [(("org/support", 1), "a"), (("org/support", 2), "b")]
    vectors.store(1, keys, np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    index.close()


async def test_migrate_db_copies_every_store_once(
    tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    source = tmp_path / "flywheel.db"
    await sqlite_state(source)
    monkeypatch.setenv("FLYWHEEL_DB", str(source))
    for _ in range(2):  # a second run (an interrupted copy run again) changes nothing
        assert main(["migrate-db", "--to", postgres_dsn]) == 0
    said = capsys.readouterr().out
    assert "copied 3 deliveries, 2 facts, 5 indexed requests (2 vectors) and 1 link" in said

    journal = PgJournal(postgres_dsn)
    await journal.open()
    try:
        assert await journal.counts() == {"pending": 2, "running": 0, "done": 1, "failed": 0}
        first = await journal.get("d-1")
        assert first["attempts"] == 1 and first["outcome"] == {"actions": ["x"]}
        claimed = await journal.claim("r", lease=30)
        assert [d.id for d in claimed] == ["d-2", "d-3"]  # the running one runs again
        assert json.loads(claimed[0].payload)["issue"]["number"] == 2
    finally:
        await journal.close()
    facts = Facts(postgres_dsn)
    assert [f.title for f in facts.workflow_issues()] == ["Onboard"]
    assert [(x.other_repo, x.other_number) for x in facts.all_links()] == [("org/support", 4)]
    facts.close()
    index = RequestIndex(postgres_dsn)
    assert [r.number for r in index.all(1)] == [1, 2, 3, 4, 5]
    assert index.document_frequency("gpus") == 5  # the word counts came along
    assert index.decisions.decided(1) == {("org/support#1", "org/support#2"): "dismiss"}
    vectors = VectorIndex(index.db, index.lock, "test-model", 4)
    got = vectors.get(1, ("org/support", 2))
    assert got is not None and got.tolist() == [0, 1, 0, 0]
    index.close()


def test_migrate_db_refuses_what_it_cannot_do(tmp_path: Path, capsys: Any) -> None:
    assert main(["migrate-db", "--to", str(tmp_path / "other.db")]) == 2
    assert "--to must be a postgresql:// URL" in capsys.readouterr().err
    missing = tmp_path / "nothing.db"
    assert main(["migrate-db", "--from", str(missing), "--to", "postgresql://db/x"]) == 2
    assert f"no SQLite database at {missing}" in capsys.readouterr().err


def test_a_database_the_server_lacks_is_created_at_first_start(postgres_cluster: str) -> None:
    """FLYWHEEL_DB naming a database not made yet: the first start makes it (no createdb);
    a role that may not create one gets the reason and the command, and nothing is made."""
    import psycopg

    from app.__main__ import error_line
    from app.store.migrations import JOURNAL, migrate_dsn

    server = postgres_cluster.rsplit("/", 1)[0]
    assert migrate_dsn(f"{server}/made_by_flywheel", JOURNAL) == [1, 2, 3, 4]
    assert migrate_dsn(f"{server}/made_by_flywheel", JOURNAL) == []  # there now, migrated
    RequestIndex(f"{server}/index_first").close()  # `flywheel index` before any serve
    with psycopg.connect(postgres_cluster, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS lowly")
        admin.execute("CREATE ROLE lowly LOGIN NOCREATEDB")
    lowly = server.replace("://postgres@", "://lowly@")
    assert lowly != server
    with pytest.raises(psycopg.OperationalError) as refused:
        migrate_dsn(f"{lowly}/not_allowed", JOURNAL)
    shown = error_line(refused.value)
    assert 'database "not_allowed" does not exist and could not be created' in shown
    assert "createdb not_allowed" in shown and shown.startswith("the database (FLYWHEEL_DB)")
    with psycopg.connect(postgres_cluster, autocommit=True) as admin:
        names = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
    assert {"made_by_flywheel", "index_first"} <= names and "not_allowed" not in names
