"""Markdown task lists (``- [ ]`` / ``- [x]``): read them; keep people's ticks on re-render."""

from __future__ import annotations

import re

_CHECKBOX = re.compile(r"(?m)^(?P<lead>\s*[-*]\s+\[)(?P<mark>[ xX])(?P<rest>\]\s+(?P<text>.*))$")


def items(text: str | None) -> list[tuple[bool, str]]:
    """Every task-list line: (ticked, text)."""
    return [
        (m.group("mark") != " ", m.group("text").strip()) for m in _CHECKBOX.finditer(text or "")
    ]


def carry_ticks(old: str | None, new: str) -> str:
    """Tick in `new` every item that was ticked in `old` (matched by its text).

    >>> carry_ticks("- [x] Engineer assigned", "- [ ] Engineer assigned\\n- [ ] Hub deployed")
    '- [x] Engineer assigned\\n- [ ] Hub deployed'
    """
    ticked = {text.lower() for done, text in items(old) if done}
    if not ticked:
        return new

    def tick(match: re.Match[str]) -> str:
        if match.group("text").strip().lower() in ticked:
            return f"{match.group('lead')}x{match.group('rest')}"
        return match.group(0)

    return _CHECKBOX.sub(tick, new)
