"""Who may see the dashboard: whoever knows ``FLYWHEEL_DASHBOARD_TOKEN``, asked once.

The pages show issue titles, so they are closed by default; without a token
set they are off altogether. The token is typed once into a form; the
cookie then holds a keyed hash of it (not the token), so a copied cookie
stops working when the token changes, and the token never sits in a
browser's storage, a URL or a log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

COOKIE = "flywheel_dashboard"
COOKIE_DAYS = 30
FAILED_LOGIN_DELAY = 0.5  # seconds: guessing the token by brute force gets slow


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"flywheel-dashboard-v1", hashlib.sha256).hexdigest()


def allowed(request: web.Request, token: str) -> bool:
    presented = request.cookies.get(COOKIE, "")
    return bool(presented) and hmac.compare_digest(presented, cookie_value(token))


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def check_login(typed: str, token: str) -> bool:
    ok = hmac.compare_digest(typed.encode(), token.encode())
    if not ok:
        await asyncio.sleep(FAILED_LOGIN_DELAY)
    return ok


def remember(response: web.StreamResponse, request: web.Request, token: str) -> None:
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
    response.set_cookie(
        COOKIE,
        cookie_value(token),
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )


def forget(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
