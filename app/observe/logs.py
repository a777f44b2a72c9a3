"""Log lines keyed by delivery, configured once by the command line, never by handlers.

The worker says which delivery it is running (``delivery_context``); every line logged while
it runs, in whatever module, then carries the delivery id, event, installation, repository
and issue. ``FLYWHEEL_LOG_FORMAT=json`` prints one JSON object a line for log shippers;
text stays the default for people.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FORMATS = ("text", "json")
FIELDS = ("delivery", "event", "installation", "repository", "issue")

_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "flywheel_delivery", default=None
)


@contextmanager
def delivery_context(**fields: Any) -> Iterator[None]:
    """Lines logged inside carry these fields (None values are left out)."""
    token = _current.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _current.reset(token)


class DeliveryFields(logging.Filter):
    """Copies the running delivery's fields onto each record, unless the caller gave them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_current.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(delivery_tag)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        delivery = getattr(record, "delivery", None)
        record.delivery_tag = f" [{delivery}]" if delivery else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One object a line: time, level, logger, message, the delivery's fields, the error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    if fmt not in FORMATS:
        raise ValueError(f"FLYWHEEL_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(DeliveryFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
