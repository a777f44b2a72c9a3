"""Replicas on PostgreSQL: deliveries applied per second with 1, 2 and 3 replicas, and intake.

    python bench/replicas.py [--deliveries 400] [--seconds 5]

Part one: the openings of the soak's stream (onboardings, offboardings, community
requests, initiatives, consortia: independent work) are made in a fake GitHub that
answers every call after 50 ms, then posted 32 at a time, spread round robin over
N ``flywheel serve`` processes on one throwaway PostgreSQL database; GitHub's
echoes of our writes are posted too. Measured from the first delivery posted until
the journal is empty: deliveries applied per second. One process on SQLite runs the
same deliveries first: the baseline of the same run.

Part two: intake alone (workers off), wrk with 32 connections against one
process journaling to SQLite and one journaling to PostgreSQL (bench/intake.py's
load and signed body). The cluster runs with fsync on: a commit costs what it
costs in production, as SQLite's (synchronous=FULL) does.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp
from aiohttp import web
from economy import new_key
from intake import SECRET, free_port, payload, run_wrk, wait_for

from tests import postgres
from tests.echoes import Echoes
from tests.fakegithub import FakeGitHub
from tests.soak import (
    SETTLE_QUIET,
    AppProcess,
    Run,
    app_env,
    build_world,
    journal_figures,
    make_stream,
    settle,
    sign,
)

LATENCY = 0.05
IN_FLIGHT = 32


async def applied(count: int, cluster: str, workdir: Path) -> list[tuple[Any, ...]]:
    """(engine, replicas, deliveries applied per second, GitHub calls, retries, failed) per
    configuration."""
    key = new_key()
    rows = []
    for engine, replicas in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2),
                             ("postgresql", 3)):  # fmt: skip
        database = postgres.fresh_database(cluster) if engine == "postgresql" else None
        folder = workdir / f"{engine}-{replicas}"
        folder.mkdir()
        rate, calls = await one_configuration(count, key, folder, database, replicas)
        retries, failed = journal_figures(database or folder / "flywheel.db")
        rows.append((engine, replicas, rate, calls, retries, failed))
        print(f"  {engine} x{replicas}: {rate:.1f} deliveries/s", file=sys.stderr)
    return rows


async def one_configuration(
    count: int, key: str, workdir: Path, database: str | None, replicas: int
) -> tuple[float, int]:
    fake = FakeGitHub()
    fake.rate_limit = 1_000_000
    build_world(fake)
    run = Run(fake)
    openings = [s for s in make_stream(count, seed=3).steps if s.kind.startswith("open")]
    bodies = {s.delivery_id: (s.event, json.dumps(s.make(run)).encode()) for s in openings}
    fake.latency = LATENCY
    runner = web.AppRunner(fake.app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    env = app_env(f"http://127.0.0.1:{port}", key, workdir, database)
    apps = [AppProcess(env, workdir / f"flywheel-{i}.log") for i in range(replicas)]
    await asyncio.gather(*(a.start() for a in apps))
    posted = [0]
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession() as session:

        async def post(delivery_id: str, event: str, body: bytes) -> None:
            async with gate:
                posted[0] += 1
                target = apps[posted[0] % len(apps)]
                headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
                           "X-Hub-Signature-256": sign(body),
                           "Content-Type": "application/json"}  # fmt: skip
                async with session.post(target.url + "/webhook", data=body, headers=headers):
                    pass

        echoed = itertools.count(1)

        async def echo(event: str, payload: dict[str, object]) -> None:
            await post(f"echo-{next(echoed)}", event, json.dumps(payload).encode())

        echoes = Echoes(fake, echo)
        started = time.monotonic()
        await asyncio.gather(*(post(i, e, b) for i, (e, b) in bodies.items()))
        await settle(apps[0], session, fake, 600, echoes)
        seconds = time.monotonic() - started - SETTLE_QUIET
        await asyncio.gather(*(a.stop() for a in apps))
    await runner.cleanup()
    return len(bodies) / seconds, len(fake.calls)


def intake(cluster: str, workdir: Path, seconds: int) -> list[tuple[str, dict[str, float]]]:
    body = payload(5 * 1024)
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    found = []
    for engine in ("sqlite", "postgresql"):
        db = postgres.fresh_database(cluster) if engine == "postgresql" else str(workdir / "i.db")
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "FLYWHEEL_DB": db,
            "FLYWHEEL_WORKERS": "0",
            "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
            "FLYWHEEL_EMBEDDING_MODEL": "off",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "WARNING"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(port, 60)
            found.append((engine, run_wrk(port, body_file, signature, seconds, 32)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres.cluster(durable=True) as cluster:
        rows = asyncio.run(applied(args.deliveries, cluster, Path(tmp)))
        loads = intake(cluster, Path(tmp), args.seconds) if shutil.which("wrk") else []
    base = rows[0][2]
    print(
        f"\nopenings applied (of a {args.deliveries}-delivery stream), fake GitHub at 50 ms a call,"
        f" {IN_FLIGHT} posted at a time\n"
    )
    print("| engine | replicas | deliveries/s | vs one SQLite process | GitHub calls | retries |"
          " failed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for engine, replicas, rate, calls, retries, failed in rows:
        print(f"| {engine} | {replicas} | {rate:.1f} | {rate / base:.2f} | {calls} | {retries} |"
              f" {failed} |")  # fmt: skip
    if not loads:
        print("\n(intake skipped: apt-get install -y wrk)")
        return
    print("\nintake alone (workers off), 5 KB deliveries, wrk with 32 connections\n")
    print("| journal | req/s | p50 ms | p99 ms | vs SQLite |")
    print("|---|---|---|---|---|")
    first = loads[0][1]["rps"]
    for engine, r in loads:
        print(f"| {engine} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['rps'] / first:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
