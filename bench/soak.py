"""The soak, long: one stream run fault-free and under faults with two SIGKILLs, compared.

    python bench/soak.py --deliveries 2000 [--fault-rate 0.3] [--seed 7]
    python bench/soak.py --deliveries 600 --replicas 3   # on a throwaway PostgreSQL

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

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with tempfile.TemporaryDirectory() as workdir, contextlib.ExitStack() as stack:
        database = None
        if args.replicas > 1:
            database = postgres.fresh_database(stack.enter_context(postgres.cluster()))
        report = asyncio.run(
            soak(
                args.deliveries,
                key,
                Path(workdir),
                seed=args.seed,
                fault_rate=args.fault_rate,
                database=database,
                replicas=args.replicas,
            )
        )
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


if __name__ == "__main__":
    raise SystemExit(main())
