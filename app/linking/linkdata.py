"""What a "Related requests" comment keeps in its marker: the links people pinned and hid, and
the automatic ones last shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..plan.actions import IssueRef
from .refs import OPAQUE, forms_of, opaque, parse_ref
from .scoring import Related


@dataclass
class LinkData:
    """A links comment's marker data: what people decided, and what was last shown."""

    pinned: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    auto: list[str] = field(default_factory=list)
    exists: bool = False  # the comment is on GitHub already

    @classmethod
    def from_marker(cls, data: Mapping[str, Any], exists: bool) -> LinkData:
        pinned, suppressed = refs_in(data.get("pinned")), refs_in(data.get("suppressed"))
        return cls(pinned, suppressed, refs_in(data.get("auto")), exists)

    def as_data(self) -> dict[str, list[str]]:
        found = {"pinned": self.pinned, "suppressed": self.suppressed, "auto": self.auto}
        return {k: v for k, v in found.items() if v}

    def mentions(self, ref: IssueRef, name: str, key: bytes) -> bool:
        return bool(forms_of(ref, key) & set(getattr(self, name)))


def refs_in(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if parse_ref(str(v)) or str(v).startswith(OPAQUE)]


@dataclass
class Shown:
    """One issue's comment as planned: the automatic links it shows, for the other sides."""

    ref: IssueRef
    links: list[Related]


def toggle(data: LinkData, ref: IssueRef, *, pin: bool, hide: bool, key: bytes) -> None:
    """Pin (or suppress) ``ref`` in an issue's link data: by name, or by digest (``hide``)
    when the issue is in a private repository this one's readers may not see."""
    forms_of_ref = forms_of(ref, key)
    data.pinned = [r for r in data.pinned if r not in forms_of_ref]
    data.suppressed = [r for r in data.suppressed if r not in forms_of_ref]
    data.auto = [r for r in data.auto if r not in forms_of_ref]
    (data.pinned if pin else data.suppressed).append(opaque(ref, key) if hide else str(ref))
