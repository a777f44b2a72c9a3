"""Load: signed deliveries at rising rates against the full app, GitHub answering in 50 ms.

    python bench/load.py [--issues 1000] [--step-seconds 5] [--rates 100,250,500,...]

Flywheel runs live in a process pinned to one core (``taskset -c 0``) against
``bench/load_world.py``, the fake GitHub with 50 ms latency, which shares the
other core with this load generator. Each step sends a steady stream of
signed ``issues`` deliveries (openings and edits of community requests and
onboarding issues) at one rate, open loop, and prints per rate: accepted/s,
intake latency p50/p99 (request sent → answer), delivery → actions applied
p50/p99 (journal ``received_at`` → ``finished_at``, for those applied by the
end), journal depth at the end of the step, and the app's peak RSS. The
first steps run at rates the workers keep up with, and wait for the journal
to drain, so that their applied latencies mean something; the others measure
intake. Then GitHub is made slow (30 s an answer) until 10,000 deliveries
are pending, and the RSS is read.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_world import load_world
from tests import payloads

SECRET = "load-bench-secret"
PENDING_GOAL = 10_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if shutil.which("taskset") else command


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


@dataclass
class Step:
    rate: int
    drain: bool
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    seconds: float = 0.0
    intake_ms: list[float] = field(default_factory=list)
    depth_end: int = 0
    rss_peak: float = 0.0
    applied_ms: list[float] = field(default_factory=list)
    applied: int = 0


class Load:
    def __init__(self, issues: int, workdir: Path, workers: int = 8) -> None:
        self.workdir = workdir
        self.issues = issues
        self.workers = workers
        self.fake_port, self.control_port, self.app_port = free_port(), free_port(), free_port()
        self.bodies = self._bodies(issues)
        self.procs: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def _bodies(issues: int) -> list[tuple[bytes, str]]:
        """Signed payloads: each issue opened once, then edited (same world as the fake's)."""
        fake, made = load_world(issues)
        rng = random.Random(11)
        bodies = []
        for n, issue in enumerate(made * 2):
            action = "opened" if n < len(made) else "edited"
            changes = {"body": {"from": ""}} if action == "edited" else None
            data = payloads.issues_event(fake, issue, action, sender="ada", changes=changes)
            body = json.dumps(data).encode()
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            bodies.append((body, signature))
        opened, edited = bodies[: len(made)], bodies[len(made) :]
        rng.shuffle(edited)
        return opened + edited

    async def start(self, private_key: str) -> None:
        world = [str(self.fake_port), str(self.control_port), str(self.issues), "0.05"]
        fake = pinned(1, [sys.executable, str(ROOT / "bench" / "load_world.py"), *world])
        self.procs.append(subprocess.Popen(fake, cwd=ROOT, stdout=subprocess.DEVNULL))
        await wait_http(f"http://127.0.0.1:{self.control_port}/calls", 60)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLYWHEEL_"))}
        env.update(
            {
                "GITHUB_APP_ID": "12345",
                "GITHUB_PRIVATE_KEY": private_key,
                "GITHUB_WEBHOOK_SECRET": SECRET,
                "GITHUB_API_URL": f"http://127.0.0.1:{self.fake_port}",
                "FLYWHEEL_DB": str(self.workdir / "load.db"),
                "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
                "FLYWHEEL_WORKERS": str(self.workers),
            }
        )
        app = pinned(0, [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
                         "--port", str(self.app_port), "--log-level", "ERROR"])  # fmt: skip
        self.app = subprocess.Popen(app, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        self.procs.append(self.app)
        await wait_http(self.url("/healthz"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.app_port}{path}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def depth(self, session: aiohttp.ClientSession) -> int:
        async with session.get(self.url("/healthz")) as r:
            return int((await r.json())["journal"]["depth"])

    async def run_step(self, session: aiohttp.ClientSession, step: Step, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        count = int(step.rate * seconds)
        sending = True

        async def send(index: int) -> None:
            body, signature = self.bodies[(self._next + index) % len(self.bodies)]
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": f"load-{step.rate}-{self._next + index}",
                "X-Hub-Signature-256": signature,
            }
            started = loop.time()
            async with session.post(self.url("/webhook"), data=body, headers=headers) as r:
                await r.read()
                status = r.status
            step.intake_ms.append((loop.time() - started) * 1000)
            if status in (200, 202):
                step.accepted += 1
            else:
                step.refused += 1

        async def sample() -> None:
            while sending:
                step.rss_peak = max(step.rss_peak, rss_mb(self.app.pid))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        began = loop.time()
        tasks = []
        for index in range(count):
            delay = began + index / step.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(index)))
        await asyncio.gather(*tasks)
        step.seconds = loop.time() - began
        step.sent = count
        self._next += count
        if step.drain:
            deadline = time.monotonic() + 120
            while await self.depth(session) and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
        sending = False
        await sampler
        step.rss_peak = max(step.rss_peak, rss_mb(self.app.pid))
        step.depth_end = await self.depth(session)

    _next = 0

    async def pile_up(self, session: aiohttp.ClientSession) -> tuple[int, float]:
        """GitHub answers in 30 s: deliveries pile up pending. (depth, RSS MB) at the goal."""
        async with session.post(f"http://127.0.0.1:{self.control_port}/latency?seconds=30") as r:
            assert r.status == 200
        step = Step(rate=999, drain=False)  # its own delivery-id prefix
        while (depth := await self.depth(session)) < PENDING_GOAL:
            print(f"  piling up: {depth} pending", file=sys.stderr)
            await self.run_step(session, step, 2.0)
        await asyncio.sleep(2)  # let the journal's writer settle
        return await self.depth(session), rss_mb(self.app.pid)

    def applied(self, step: Step) -> None:
        with sqlite3.connect(self.workdir / "load.db") as conn:
            rows = conn.execute(
                "SELECT (finished_at - received_at) * 1000 FROM deliveries"
                " WHERE id LIKE ? AND state='done'",
                (f"load-{step.rate}-%",),
            ).fetchall()
        step.applied_ms = [r[0] for r in rows]
        step.applied = len(rows)


def new_key() -> str:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


async def run_steps(
    args: argparse.Namespace, workers: int, steps: list[Step], pile_up: bool
) -> tuple[int, float]:
    """One app (``workers`` 0: intake alone, the baseline), the steps, then maybe the pile-up."""
    pending, rss = 0, float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        load = Load(args.issues, Path(tmp), workers)
        await load.start(new_key())
        connector = aiohttp.TCPConnector(limit=512)
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                for step in steps:
                    await load.run_step(session, step, args.step_seconds)
                    print(f"  workers {workers}, {step.rate}/s: depth {step.depth_end}",
                          file=sys.stderr)  # fmt: skip
                if pile_up:
                    pending, rss = await load.pile_up(session)
            for step in steps:
                load.applied(step)
        finally:
            load.stop()
    return pending, rss


async def bench(args: argparse.Namespace) -> None:
    baseline = [Step(rate, drain=False) for rate in args.rates]
    await run_steps(args, 0, baseline, pile_up=False)
    steps = [Step(rate, drain=True) for rate in args.drain_rates]
    steps += [Step(rate, drain=False) for rate in args.rates]
    pending, rss = await run_steps(args, args.workers, steps, pile_up=True)
    report(steps, {s.rate: s for s in baseline}, pending, rss, args)


def _ms(value: float, unit: str = "ms", scale: float = 1.0) -> str:
    return "-" if value != value else f"{value / scale:.1f}{unit}"  # NaN: nothing to show


def report(
    steps: list[Step],
    baseline: dict[int, Step],
    pending: int,
    rss: float,
    args: argparse.Namespace,
) -> None:
    print(
        f"\nload: issues deliveries against the live app on one core ({args.workers} workers),"
        f" GitHub (fake) answering in 50 ms, {args.step_seconds:.0f} s a step; 'alone' is the"
        " same app with no workers, run first: intake without processing beside it\n"
    )
    header = (
        f"{'rate/s':>7} | {'accepted/s':>10} | {'intake p50':>10} | {'intake p99':>10} | "
        f"{'p99 alone':>9} | {'ratio':>5} | {'applied p50':>11} | {'applied p99':>11} | "
        f"{'applied':>11} | {'depth':>6} | {'RSS MB':>6}"
    )
    print(header)
    print("-" * len(header))
    knee = None
    for s in steps:
        p99 = percentile(s.intake_ms, 0.99)
        if knee is None and p99 > 100:
            knee = s.rate
        alone = baseline.get(s.rate)
        alone_p99 = percentile(alone.intake_ms, 0.99) if alone else float("nan")
        ratio = "-" if alone_p99 != alone_p99 else f"{p99 / alone_p99:.1f}x"
        print(
            f"{s.rate:>7} | {s.accepted / s.seconds:>10.0f} | "
            f"{_ms(statistics.median(s.intake_ms)):>10} | {_ms(p99):>10} | "
            f"{_ms(alone_p99):>9} | {ratio:>5} | "
            f"{_ms(percentile(s.applied_ms, 0.5), 's', 1000):>11} | "
            f"{_ms(percentile(s.applied_ms, 0.99), 's', 1000):>11} | "
            f"{f'{s.applied}/{s.sent}':>11} | {s.depth_end:>6} | {s.rss_peak:>6.0f}"
        )
    refused = sum(s.refused for s in steps)
    print(
        f"\nfirst rate with intake p99 over 100 ms: {knee or 'none of these'};"
        f" answers other than 200/202: {refused}"
        f"\nwith GitHub stalled (30 s an answer): {pending} pending deliveries, RSS {rss:.0f} MB"
        "\napplied: delivery received → its actions applied, for deliveries applied before the"
        " bench ended (the first steps wait for the journal to drain; later ones pile up)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--drain-rates", default="5,20")
    parser.add_argument("--rates", default="100,250,500,750,1000,1500,2000")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    args.drain_rates = [int(r) for r in args.drain_rates.split(",") if r]
    args.rates = [int(r) for r in args.rates.split(",") if r]
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
