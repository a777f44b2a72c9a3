"""The built wheel, installed into a fresh virtualenv outside the checkout, works as a user
would run it: ``check-config`` finds the shipped config, ``replay`` plans an onboarding, and
``serve`` (dry-run, no credentials) answers ``/healthz`` and a dashboard page.

    python tests/smoke_wheel.py dist/flywheel-*.whl      (.ci/run does, after python -m build)

Prints ``smoke: N passed, 0 failed`` and exits non-zero on the first failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "smoke-token-1234"
PAYLOAD = {
    "action": "opened",
    "issue": {
        "number": 1,
        "title": "[Onboarding] Smoke College",
        "body": "### Community name\n\nSmoke College\n\n### Community slug\n\nsmoke\n\n"
        "### Hub URL\n\nhttps://smoke.example.org",
        "labels": [{"name": "type: onboard"}],
        "user": {"login": "ada", "type": "User"},
        "state": "open",
        "node_id": "I_1",
    },
    "repository": {"full_name": "example-org/hubs", "private": False, "owner": {"login": "o"}},
    "installation": {"id": 1},
    "sender": {"login": "ada", "type": "User"},
}


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"wheel smoke: {' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main(wheel: str) -> int:
    passed = 0
    with tempfile.TemporaryDirectory(prefix="flywheel-wheel-") as tmp:
        home = Path(tmp)
        venv = home / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        bin_ = venv / "bin"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLYWHEEL_"))}
        env["PATH"] = f"{bin_}:{env.get('PATH', '')}"
        run([str(bin_ / "pip"), "install", "--quiet", str(Path(wheel).resolve())], home, env)
        work = home / "anywhere"  # no checkout, no config folder here
        work.mkdir()

        out = run([str(bin_ / "flywheel"), "check-config"], work, env)
        assert "ok: 4 workflows" in out, out
        passed += 1

        (work / "opened.json").write_text(json.dumps(PAYLOAD))
        out = run([str(bin_ / "flywheel"), "replay", "issues", "opened.json"], work, env)
        assert "would labels on example-org/hubs#1" in out and "would comment" in out, out
        passed += 1

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        serve_env = {**env, "PORT": str(port), "FLYWHEEL_DASHBOARD_TOKEN": TOKEN}
        proc = subprocess.Popen(
            [str(bin_ / "flywheel"), "serve"],
            cwd=work,
            env=serve_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            health = wait_for(base + "/healthz")
            assert health["mode"] == "dry-run", health
            passed += 1
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            form = f"token={TOKEN}&next=/".encode()
            with opener.open(base + "/login", data=form, timeout=10) as answer:
                page = answer.read().decode()
                assert answer.status == 200 and "Operations" in page, page[:300]
            with opener.open(base + "/communities", timeout=30) as answer:
                assert answer.status == 200
            passed += 1
        finally:
            proc.terminate()
            said = proc.communicate(timeout=30)[0].decode()
        assert "DRY-RUN" in said and "Traceback" not in said, said
        passed += 1
    print(f"smoke: {passed} passed, 0 failed")
    return 0


def wait_for(url: str) -> dict[str, object]:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return dict(json.loads(answer.read()))
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"wheel smoke: {url} never answered")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
