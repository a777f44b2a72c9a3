"""Hidden ``<!-- flywheel:KEY {json} -->`` markers: how bot-owned text is found again.

The JSON is escaped so that no value, whatever a person typed into it, can
close the HTML comment early and so expose or break the marker.
"""

from __future__ import annotations

import json
import re
from typing import Any

LINKS_KEY = "links"  # the "Related requests" comment linking keeps on each request

_MARKER = re.compile(r"<!-- flywheel:(?P<key>[A-Za-z0-9_.:#/@-]+)(?: (?P<data>\{.*?\}))? -->")
_KEY = re.compile(r"^[A-Za-z0-9_.:#/@-]+$")


def render(key: str, data: dict[str, Any] | None = None) -> str:
    if not _KEY.match(key):
        raise ValueError(f"marker key {key!r} has characters a marker cannot hold")
    if not data:
        return f"<!-- flywheel:{key} -->"
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    # JSON allows these escapes; HTML comments cannot contain "-->" once they are gone.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("-", "\\u002d")
    return f"<!-- flywheel:{key} {text} -->"


def find(body: str | None) -> dict[str, dict[str, Any]]:
    """Every marker in a text: key → its data ({} when it carries none)."""
    found: dict[str, dict[str, Any]] = {}
    for match in _MARKER.finditer(body or ""):
        data: dict[str, Any] = {}
        if match.group("data"):
            try:
                loaded = json.loads(match.group("data"))
            except ValueError:
                loaded = {}
            data = loaded if isinstance(loaded, dict) else {}
        found.setdefault(match.group("key"), data)
    return found


def bot_markers(comment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The markers of a comment a bot wrote; none for a person's comment.

    Anyone can paste our marker into their own comment: it must not make
    Flywheel treat their text as its own (edit it, or read state from it).
    """
    author = comment.get("user") or {}
    if author.get("type") != "Bot":
        return {}
    return find(comment.get("body"))
