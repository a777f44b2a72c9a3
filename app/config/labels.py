"""A label as Flywheel wants it to exist: the one type config and plans share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSpec:
    name: str
    color: str = "ededed"
    description: str = ""
