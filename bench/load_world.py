"""The fake GitHub the load bench talks to, in a process of its own.

    python bench/load_world.py PORT CONTROL_PORT ISSUES LATENCY_SECONDS

The world is built the same way here and in ``bench/load.py`` (which needs
the same issues to shape its payloads): the soak's organisation, plus
``ISSUES`` community requests and onboarding issues. Every answer waits
``LATENCY_SECONDS``; ``POST /latency?seconds=S`` changes that while
running, on CONTROL_PORT (the bench makes GitHub slow to pile up pending deliveries).
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakegithub import FakeGitHub, Issue
from tests.forms_render import load_form, render_submission
from tests.soak import COMMUNITIES, HUBS, NEEDS_REPOS, _requests, build_world
from tests.test_workflow_onboarding import ANSWERS


def load_world(issues: int) -> tuple[FakeGitHub, list[Issue]]:
    """The organisation and ``issues`` issues: one in five an onboarding, the rest requests."""
    fake = FakeGitHub()
    build_world(fake)
    rng = random.Random(5)
    requests = _requests()
    form = load_form("onboarding.yml")
    made: list[Issue] = []
    for n in range(issues):
        slug, name = COMMUNITIES[n % len(COMMUNITIES)]
        if n % 5 == 0:
            answers = {**ANSWERS, "Community name": f"{name} {n}", "Community slug": f"{slug}{n}"}
            body = render_submission(form, answers)
            made.append(
                fake.add_issue(HUBS, f"[Onboarding] {name} {n}", body, labels=("type: onboard",))
            )
            continue
        request = requests[rng.randrange(len(requests))]
        made.append(
            fake.add_issue(
                rng.choice(NEEDS_REPOS[:2]),
                request["title"],
                request["body"],
                user="ada",
                labels=(f"community: {slug}",),
            )
        )
    return fake, made


def main() -> None:
    port, control_port = int(sys.argv[1]), int(sys.argv[2])
    issues, latency = int(sys.argv[3]), float(sys.argv[4])
    fake, _ = load_world(issues)
    fake.latency = latency

    async def set_latency(request: web.Request) -> web.Response:
        fake.latency = float(request.query["seconds"])
        return web.json_response({"latency": fake.latency})

    async def calls(request: web.Request) -> web.Response:
        return web.json_response({"calls": len(fake.calls)})

    control = web.Application()
    control.router.add_post("/latency", set_latency)
    control.router.add_get("/calls", calls)

    async def serve() -> None:
        for app, on in ((fake.app, port), (control, control_port)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", on).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
