"""Renders an issue-form submission the way GitHub writes it into the issue body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FORMS = Path(__file__).resolve().parent.parent / ".github" / "ISSUE_TEMPLATE"


def load_form(name: str) -> dict[str, Any]:
    return yaml.safe_load((FORMS / name).read_text())


def render_submission(form: dict[str, Any], answers: dict[str, Any]) -> str:
    """`### Label` + answer per field; `_No response_` when empty; `- [X]` for ticked boxes."""
    parts = []
    for element in form["body"]:
        if element["type"] == "markdown":
            continue
        label = element["attributes"]["label"]
        answer = answers.get(label)
        if element["type"] == "checkboxes":
            options = [o["label"] for o in element["attributes"]["options"]]
            ticked = set(answer or [])
            text = "\n".join(f"- [{'X' if o in ticked else ' '}] {o}" for o in options)
        else:
            text = str(answer) if answer else "_No response_"
        parts.append(f"### {label}\n\n{text}")
    return "\n\n".join(parts)
