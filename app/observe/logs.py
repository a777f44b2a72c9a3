"""Log lines keyed by delivery id, configured once by the command line, never by handlers."""

from __future__ import annotations

import logging
import sys


class DeliveryFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        delivery = getattr(record, "delivery", None)
        record.delivery_tag = f" [{delivery}]" if delivery else ""
        return super().format(record)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        DeliveryFormatter("%(asctime)s %(levelname)s %(name)s%(delivery_tag)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
