"""The soak, short: a stream under faults and two SIGKILLs ends as the fault-free run does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak import SOAK_SECRET, soak


async def test_faults_and_kills_lose_and_double_nothing(private_key: str, tmp_path: Path) -> None:
    report = await soak(40, private_key, tmp_path, seed=11, fault_rate=0.3)
    assert report.mismatches == [], "\n".join(report.mismatches)
    assert report.failed == 0
    assert report.restarts == 2 and report.refused_while_down > 0
    assert report.redelivered >= report.refused_while_down, "every refused delivery came again"
    assert report.duplicates > 0 and sum(report.faults.values()) > 20
    assert report.retries > 0
    # Secrets never reach the log, whatever went wrong.
    assert SOAK_SECRET not in report.log_text
    assert "PRIVATE KEY" not in report.log_text and "ghs_fake" not in report.log_text


@pytest.mark.slow
async def test_a_longer_stream_under_faults_ends_as_the_fault_free_one(
    private_key: str, tmp_path: Path
) -> None:
    """150 deliveries (``python -m pytest -m slow``; bench/soak.py runs thousands)."""
    report = await soak(150, private_key, tmp_path, seed=5, fault_rate=0.3)
    assert report.mismatches == [], "\n".join(report.mismatches)
    assert report.failed == 0 and report.restarts == 2


async def test_three_replicas_on_postgresql_with_one_killed_end_as_one_process_does(
    private_key: str, tmp_path: Path, postgres_dsn: str
) -> None:
    """Three ``flywheel serve`` on one PostgreSQL database, deliveries spread over them, one
    SIGKILLed twice mid-stream (its claims pass on once its session closes): the same final
    GitHub state as one fault-free process on SQLite."""
    report = await soak(
        40, private_key, tmp_path, seed=11, fault_rate=0.3, database=postgres_dsn, replicas=3
    )
    assert report.mismatches == [], "\n".join(report.mismatches)
    assert report.failed == 0 and report.restarts == 2
    assert report.refused_while_down == 0, "the other replicas kept receiving"
    assert sum(report.faults.values()) > 20 and report.retries > 0
    assert report.log_text.count("runs the periodic passes") >= 1
    assert SOAK_SECRET not in report.log_text and "PRIVATE KEY" not in report.log_text
