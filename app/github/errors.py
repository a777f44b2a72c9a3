"""How GitHub said no, sorted once: what passes (retry later) and what does not (tell someone).

gidgethub raises RateLimitExceeded only for a 403 with nothing remaining; secondary limits
arrive as a plain BadRequest with Retry-After, and are told apart here by status and headers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp


class TransientGitHubError(Exception):
    """GitHub could not do it now; the same request later probably works."""

    # Whether waiting longer after each failure helps: it does when GitHub is struggling.
    escalates = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentGitHubError(Exception):
    """GitHub refused for a reason retrying will not fix (404, 422, permissions)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GraphQLError(PermanentGitHubError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        messages = "; ".join(str(e.get("message", e)) for e in errors) or "unknown error"
        super().__init__(f"GraphQL: {messages}")
        self.errors = errors


def retry_after_seconds(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """How long GitHub asked us to wait, if it said so.

    >>> retry_after_seconds(429, {"retry-after": "30"}, 0)
    30.0
    >>> retry_after_seconds(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "100"}, 40)
    60.0
    >>> retry_after_seconds(403, {}, 0) is None
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lowered:
        try:
            return max(0.0, float(lowered["retry-after"]))
        except ValueError:
            return None
    if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
        try:
            return max(0.0, float(lowered["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def is_rate_limited(status: int, headers: Mapping[str, str], body: bytes = b"") -> bool:
    """Primary and secondary limits: 429 always; 403 only with limit headers or wording.

    gidgethub raises ``RateLimitExceeded`` only for a 403 with zero remaining;
    secondary limits come back as plain 403/429 ``BadRequest``s.
    """
    if status == 429:
        return True
    if status != 403:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lowered or lowered.get("x-ratelimit-remaining") == "0":
        return True
    return b"rate limit" in body.lower()


def classify(exc: BaseException) -> BaseException:
    """Map any failure met while talking to GitHub to Transient or Permanent."""
    if isinstance(exc, TransientGitHubError | PermanentGitHubError):
        return exc
    if isinstance(exc, gidgethub.RateLimitExceeded):
        reset = exc.rate_limit.reset_datetime.timestamp() if exc.rate_limit else None
        wait = max(0.0, reset - time.time()) if reset else None
        return TransientGitHubError("primary rate limit exhausted", retry_after=wait)
    if isinstance(exc, gidgethub.GitHubBroken):
        return TransientGitHubError(f"GitHub answered {int(exc.status_code)}")
    if isinstance(exc, gidgethub.BadRequest):
        status = int(exc.status_code)
        headers = exc.headers or {}
        if is_rate_limited(status, headers, str(exc).encode()):
            return TransientGitHubError(
                f"secondary rate limit ({status})",
                retry_after=retry_after_seconds(status, headers, time.time()),
            )
        return PermanentGitHubError(f"GitHub answered {status}: {exc}", status=status)
    if isinstance(exc, gidgethub.HTTPException):
        return PermanentGitHubError(f"GitHub answered {int(exc.status_code)}: {exc}")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | ConnectionError):
        return TransientGitHubError(f"network: {type(exc).__name__}: {exc}")
    return exc
