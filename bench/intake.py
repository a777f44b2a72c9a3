"""Webhook intake throughput and latency: Flywheel's /webhook beside a bare aiohttp endpoint.

Each server runs in its own process; the load comes from wrk (Debian's
package) in a third one, 32 connections, signed `issues` deliveries with a
fresh delivery id each. Flywheel runs with workers off, so the figures are
intake alone: verify the signature, parse, journal durably (group commit,
synchronous=FULL), answer 202. When ``node`` and ``npm`` are on the machine, a
Probot 14 app with a no-op handler (bench/probot_peer.mjs, probot installed
with npm into a temporary folder) runs in the same way beside them.

    python bench/intake.py [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
KINDS = ("bare", "verify", "probot", "flywheel")
PROBOT = "probot@14"


def install_probot(folder: Path) -> Path | None:
    """A folder with probot installed and the peer app beside it, or None without node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", PROBOT],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    shutil.copy(ROOT / "bench" / "probot_peer.mjs", folder / "probot_peer.mjs")
    return folder


def payload(size: int) -> bytes:
    body_text = (
        "### Community name\n\nHypatia College\n\n### Hub URL\n\nhttps://hypatia.example.edu\n\n"
    )
    data = {
        "action": "opened",
        "issue": {
            "number": 1,
            "title": "[Onboarding] Hypatia College",
            "body": body_text,
            "node_id": "I_kwBench",
            "labels": [],
            "user": {"login": "maria", "type": "User"},
            "state": "open",
            "author_association": "MEMBER",
        },
        "repository": {
            "full_name": "example-org/hubs",
            "private": False,
            "owner": {"login": "example-org"},
        },
        "sender": {"login": "maria", "type": "User"},
        "installation": {"id": 1},
    }
    raw = json.dumps(data).encode()
    # Pad with varied prose, as long issue bodies are, so compression or caching cannot flatter us.
    rng = random.Random(size)
    words = [
        "hub",
        "storage",
        "quota",
        "gpu",
        "image",
        "dask",
        "cluster",
        "course",
        "notebook",
        "kernel",
        "egress",
        "bucket",
        "cilogon",
        "github",
        "region",
        "cloud",
        "billing",
    ]
    pad: list[str] = []
    length = 0
    while length < size - len(raw):
        pad.append(rng.choice(words) + str(rng.randint(0, 999)))
        length += len(pad[-1]) + 1
    data["issue"]["body"] = body_text + " ".join(pad)
    return json.dumps(data).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def start(kind: str, port: int, db: Path, probot: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cwd = ROOT
    if kind == "probot":
        assert probot is not None
        cmd, cwd = ["node", "probot_peer.mjs", str(port), SECRET], probot
    elif kind in ("bare", "verify"):
        cmd = [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port), kind]
    else:
        env.update(
            {
                "GITHUB_WEBHOOK_SECRET": SECRET,
                "FLYWHEEL_DB": str(db),
                "FLYWHEEL_WORKERS": "0",
                "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
            }
        )
        for key in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH"):
            env.pop(key, None)
        cmd = [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
        ]
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for(port)
    return proc


def run_wrk(
    port: int, body_file: Path, signature: str, seconds: int, connections: int
) -> dict[str, float]:
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_SIGNATURE": signature}
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "wrk_webhook.lua"),
            f"http://127.0.0.1:{port}/webhook",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p99, status_errors, timeouts = map(int, line.split()[1:])
    return {
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "requests": requests,
        "errors": status_errors + timeouts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/intake.py needs wrk: apt-get install -y wrk")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        probot = install_probot(Path(tmp))
        kinds = [k for k in KINDS if k != "probot" or probot is not None]
        for size in (5 * 1024, 100 * 1024):
            body = payload(size)
            body_file = Path(tmp) / f"body-{size}.json"
            body_file.write_bytes(body)
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            results = {}
            for kind in kinds:
                db = Path(tmp) / f"{kind}-{size}.db"
                port = free_port()
                proc = start(kind, port, db, probot)
                try:
                    results[kind] = run_wrk(
                        port, body_file, signature, args.seconds, args.connections
                    )
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                if kind == "flywheel":
                    with sqlite3.connect(db) as conn:
                        journaled = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
                    results[kind]["journaled"] = journaled
            rows.append((size, results))

    print(
        f"\nwebhook intake, {args.connections} connections, {args.seconds}s per run, "
        "wrk in its own process\n"
    )
    header = (
        f"{'payload':>8} | {'server':>8} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | "
        f"{'errors':>6} | {'journaled':>9} | ratio"
    )
    print(header)
    print("-" * len(header))
    for size, results in rows:
        bare = results["bare"]["rps"]
        for kind in (k for k in KINDS if k in results):
            r = results[kind]
            journaled = str(r.get("journaled", "-"))
            print(
                f"{size // 1024:>6}KB | {kind:>8} | {r['rps']:>8.0f} | {r['p50_ms']:>7.2f} | "
                f"{r['p99_ms']:>7.2f} | {r['errors']:>6} | {journaled:>9} | {r['rps'] / bare:>5.0%}"
            )
    for size, results in rows:
        if "probot" in results:
            ratio = results["flywheel"]["rps"] / results["probot"]["rps"]
            print(f"{size // 1024:>6}KB   flywheel / probot: {ratio:.2f}")
    print(
        "\nbare: reads the body, answers 202. verify: also checks the HMAC and parses the JSON"
        " (orjson), the floor for any design.\nprobot: Probot 14 (Node), no-op handler, no"
        " journal (bench/probot_peer.mjs).\nflywheel: verify, route, journal durably"
        " (group commit, synchronous=FULL), answer 202. journaled = rows in the journal after"
        " the run; every 202 was answered after its commit."
    )


if __name__ == "__main__":
    main()
