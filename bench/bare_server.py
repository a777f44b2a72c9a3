"""Baselines for bench/intake.py, each an aiohttp endpoint answering 202.

``bare`` only reads the body. ``verify`` also checks the HMAC signature and
parses the JSON, as Flywheel must before it may answer: the gap between the
two is the floor no journal design can get under.
"""

import hashlib
import hmac
import sys

import orjson
from aiohttp import web

SECRET = b"bench-secret"


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"message": "accepted"}, status=202)


async def verify(request: web.Request) -> web.Response:
    body = await request.read()
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", "")[7:], expected):
        return web.json_response({"message": "bad signature"}, status=401)
    orjson.loads(body)
    return web.json_response({"message": "accepted"}, status=202)


app = web.Application(client_max_size=25 * 1024 * 1024)
app.router.add_post("/webhook", verify if sys.argv[2:] == ["verify"] else bare)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
