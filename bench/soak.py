"""The soak, long: one stream run fault-free and under faults with two SIGKILLs, compared.

    python bench/soak.py --deliveries 2000 [--fault-rate 0.3] [--seed 7]
    python bench/soak.py --deliveries 600 --replicas 3   # on a throwaway PostgreSQL
    python bench/soak.py --replicas 3 --keep /tmp/soak   # keep logs and journal to look at

Prints deliveries, faults injected, retries, restarts, mismatches (must be 0),
link drift, GitHub calls per delivery and wall time. See tests/soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.economy import new_key
from tests import postgres
from tests.soak import soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="above 1: that many replicas on PostgreSQL (Debian's binaries), one of them killed",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="a folder to keep: each process's log, and the journal (journal.tsv) on PostgreSQL",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database = None
        if args.replicas > 1:
            database = postgres.fresh_database(stack.enter_context(postgres.cluster()))
        report = asyncio.run(
            soak(
                args.deliveries,
                new_key(),
                workdir,
                seed=args.seed,
                fault_rate=args.fault_rate,
                database=database,
                replicas=args.replicas,
            )
        )
        if args.keep and database:  # before the throwaway cluster goes
            keep_journal(database, args.keep / "journal.tsv")
    taken_back = report.log_text.count("took back")
    rows = [
        ("deliveries in the stream", report.deliveries),
        ("HTTP posts (duplicates, redeliveries included)", report.sent),
        ("duplicates sent", report.duplicates),
        ("refused while down / redelivered", f"{report.refused_while_down} / {report.redelivered}"),
        ("replicas (PostgreSQL above 1)", args.replicas),
        ("restarts after SIGKILL", report.restarts),
        ("claims passed on after a kill (session closed or lease ran out)", taken_back),
        ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items()))),
        ("retries (journal attempts beyond the first)", report.retries),
        ("deliveries failed for good", report.failed),
        ("mismatches with the fault-free run", len(report.mismatches)),
        ("issues whose related-requests list differs", len(report.link_drift)),
        ("echo deliveries (GitHub's, about the App's writes)", report.echoes),
        ("GitHub calls per delivery, fault-free run", f"{report.clean_calls_per_delivery:.1f}"),
        ("GitHub calls per delivery, under faults", f"{report.calls_per_delivery:.1f}"),
        ("wall time (fault run, s)", f"{report.wall_seconds:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}} | value")
    print(f"{'-' * width}-|------")
    for name, value in rows:
        print(f"{name:<{width}} | {value}")
    for line in report.mismatches[:20]:
        print("mismatch:", line[:2000])
    return 1 if report.mismatches else 0


def keep_journal(database: str, path: Path) -> None:
    """Every delivery's row but its payload, in order: who ran what, when, how often."""
    import psycopg

    columns = "seq, id, event, action, lane, state, attempts, claimed_by, received_at,"
    columns += " started_at, finished_at, error"
    with psycopg.connect(database) as conn:
        rows = conn.execute(f"SELECT {columns} FROM deliveries ORDER BY seq").fetchall()
    lines = ["\t".join(c.strip() for c in columns.split(","))]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
