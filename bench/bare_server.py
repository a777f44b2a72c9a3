"""Baseline for bench/intake.py: an aiohttp endpoint that only reads the body and answers 202."""

import sys

from aiohttp import web


async def webhook(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"message": "accepted"}, status=202)


app = web.Application(client_max_size=25 * 1024 * 1024)
app.router.add_post("/webhook", webhook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
