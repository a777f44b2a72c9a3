"""Dashboard pages: time to answer with 10,000 journal rows and 500 communities.

    python bench/dashboard.py [--rows 10000] [--communities 500] [--requests 30]

Fills a FLYWHEEL_DB as a busy installation would have it (deliveries of every
outcome; per community an onboarding issue and four requests, a link to the
next community's; 50 consortia of six members with two initiatives each;
board statuses), starts the app on it, signs in and GETs each page over
HTTP on localhost. Prints p50/p99 per page, its size, and the same for
``/healthz`` (the floor: a route that reads the journal's counts). The network
is gathered and its page rendered once per change of the data behind it, in a
thread: "(changed)" rows change the data before every GET (the view gets the
page as last gathered), and "network rebuild" times that gathering itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config.loader import load_config
from app.dashboard import pages
from app.linking.index import RequestIndex
from app.linking.scoring import Request
from app.service import STATE, create_app
from app.settings import Settings
from app.store.delivery import Delivery
from app.store.facts import Facts, IssueFact
from app.store.journal import Journal
from app.workflows import membership

TOKEN = "bench-token"
HUBS, SUPPORT = "example-org/hubs", "example-org/support"
NEEDS = ["GPU image with PyTorch", "Raise the storage quota", "Dask gateway for a course",
         "Shared bucket for datasets", "Login with CILogon", "R and RStudio image"]  # fmt: skip


async def fill_journal(db: Path, rows: int) -> None:
    journal = Journal(db, synchronous="OFF")
    await journal.open()
    rng = random.Random(3)
    for start in range(0, rows, 1000):
        batch = []
        for n in range(start, min(rows, start + 1000)):
            data = {
                "action": "opened",
                "issue": {"number": rng.randint(1, 3000)},
                "repository": {"full_name": rng.choice([HUBS, SUPPORT]), "private": False},
                "installation": {"id": 1},
            }
            body = json.dumps(data).encode()
            batch.append(journal.record(Delivery.from_body(f"d-{n}", "issues", body, data)))
        await asyncio.gather(*batch)
    for n in range(rows):
        state = "failed" if n % 50 == 0 else "done"
        error = "GitHub answered 404: Not Found" if state == "failed" else None
        await journal.finish(f"d-{n}", state=state, duration=0.05, error=error)
    await journal.close()


def fill_network(db: Path, communities: int) -> None:
    index, facts = RequestIndex(db), Facts(db)
    slugs = [f"community-{n:03d}" for n in range(communities)]
    requests, number = [], 0
    for i, slug in enumerate(slugs):
        number += 1
        facts.workflow_issue(IssueFact(HUBS, number, "onboarding", slug,
                                       f"[Onboarding] {slug}", "open", False, ""))  # fmt: skip
        facts.board_status(HUBS, number, "Partnerships", "In progress")
        for k in range(4):
            number += 1
            need = NEEDS[(i + k) % len(NEEDS)]
            requests.append(Request(1, SUPPORT, number, f"{need} ({slug})", need, slug))
        facts.links(SUPPORT, number, {"auto": [f"{SUPPORT}#{number + 5}"]})
    index.upsert_many(requests)
    for c in range(communities // 10):
        number += 1
        consortium = number
        title = f"[Consortium] Narrative {c}"
        facts.workflow_issue(
            IssueFact(HUBS, consortium, "consortium", "", title, "open", False, "")
        )
        history = [
            membership.Entry("join", slugs[(c * 7 + m) % communities], ("test", "endorse"),
                             "ada", "2026-11-02", 0)
            for m in range(6)
        ]  # fmt: skip
        facts.members(HUBS, consortium, membership.members(history))
        for _ in range(2):
            number += 1
            parent = f"{HUBS}#{consortium}"
            fact = IssueFact(HUBS, number, "initiative", slugs[c], f"Initiative {number}", "open",
                             False, parent)  # fmt: skip
            facts.workflow_issue(fact)
            facts.board_status(HUBS, number, "Roadmap", "Refined")
    index.close()
    facts.close()


async def measure(
    base: str, path: str, session: aiohttp.ClientSession, count: int, change: Any = None
) -> tuple[float, float, int]:
    times, size = [], 0
    for n in range(count):
        if change is not None:
            change(n)  # the data changed since the last view: the page is built again
        started = time.perf_counter()
        async with session.get(base + path) as r:
            body = await r.read()
            assert r.status == 200, (path, r.status)
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))], size


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "flywheel.db"
        await fill_journal(db, args.rows)
        fill_network(db, args.communities)
        settings = Settings(db_path=db, dashboard_token=TOKEN, force_dry_run=True)
        app = create_app(settings, load_config(ROOT / "workflow-config"), start_workers=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        results = []
        jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.post(base + "/login", data={"token": TOKEN, "next": "/"}) as r:
                assert r.status == 200, r.status
            for path in ("/healthz", "/", "/?outcome=failed", f"/?repo={HUBS}",
                         "/communities", "/consortia/narrative-7"):  # fmt: skip
                await measure(base, path, session, 2)  # warm: templates compiled, pages cached
                results.append((path, *await measure(base, path, session, args.requests)))
            facts, cache = app[STATE].facts, app[pages.CACHE]

            def change(n: int) -> None:
                facts.board_status(HUBS, 1, "Partnerships", f"Status {n}")

            for path in ("/communities", "/consortia/narrative-7"):
                timed = await measure(base, path, session, args.requests, change)
                results.append((path + " (changed)", *timed))
            builds = []
            for n in range(args.requests):  # the rebuild itself, in its thread
                change(n)
                async with session.get(base + "/communities") as r:
                    await r.read()
                await cache["refresh"]
                builds.append(cache["network"].seconds * 1000)
            builds.sort()
            size = len(cache["network"].page)
            p99 = builds[min(len(builds) - 1, int(0.99 * len(builds)))]
            results.append(("network rebuild (thread)", statistics.median(builds), p99, size))
        await runner.cleanup()
    print(
        f"\ndashboard: {args.rows} journal rows, {args.communities} communities,"
        f" {args.requests} GETs a page over HTTP on localhost\n"
    )
    floor = results[0][1]
    header = f"{'page':<34} | {'p50 ms':>7} | {'p99 ms':>7} | {'KB':>6} | {'p50 / healthz':>13}"
    print(header)
    print("-" * len(header))
    for path, p50, p99, size in results:
        print(
            f"{path:<34} | {p50:>7.1f} | {p99:>7.1f} | {size / 1024:>6.0f} | {p50 / floor:>12.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=500)
    parser.add_argument("--requests", type=int, default=30)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
