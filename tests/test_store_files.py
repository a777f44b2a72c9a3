"""No store ever turns an unset database path into a file named "None"."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.linking.index import RequestIndex
from app.store.facts import Facts
from app.store.files import database
from app.store.journal import Journal


@pytest.mark.parametrize("path", [None, "None", "", "  "])
def test_an_unset_path_is_refused_by_every_store(
    path: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for store in (Journal, RequestIndex, Facts):
        with pytest.raises(ValueError, match="no database path"):
            store(path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == [], "no file was made"


def test_memory_and_real_paths_pass(tmp_path: Path) -> None:
    assert database(":memory:") == ":memory:"
    assert database(tmp_path / "f.db") == str(tmp_path / "f.db")
