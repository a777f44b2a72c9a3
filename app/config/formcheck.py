"""Finds drift between issue forms (``.github/ISSUE_TEMPLATE``) and the workflows that read them.

A form edited on GitHub (a heading reworded, a label renamed, a dropdown
option added) silently breaks the automation that parses it: the field reads
empty, the issue never matches. ``flywheel check-config`` runs this so the
drift is caught in review, with the form's file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import formschema
from .model import Config, Workflow


@dataclass(frozen=True)
class Drift:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def _elements(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Form label → element, for the elements whose answers land in the issue body."""
    found = {}
    for element in form.get("body") or []:
        if not isinstance(element, dict) or element.get("type") == "markdown":
            continue
        label = str((element.get("attributes") or {}).get("label", "")).strip()
        if label:
            found[label.lower()] = element
    return found


def workflow_of_form(config: Config, form: dict[str, Any]) -> tuple[Workflow | None, str]:
    """The workflow a form feeds, and how it was recognised."""
    labels = {str(label).lower() for label in form.get("labels") or []}
    title = str(form.get("title") or "").strip().lower()
    headings = set(_elements(form))
    for workflow in config.enabled():
        if labels & {label.lower() for label in workflow.match.labels}:
            return workflow, "label"
    for workflow in config.enabled():
        prefix = (workflow.match.title_prefix or "").lower()
        if prefix and title.startswith(prefix):
            return workflow, "title"
    for workflow in config.enabled():
        wanted = {h.lower() for h in workflow.match.headings}
        if wanted and wanted <= headings:
            return workflow, "headings"
    return None, ""


def check_form(config: Config, path: Path) -> list[Drift]:
    text = path.read_text(encoding="utf-8")
    try:
        form = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Drift(path.name, (mark.line + 1) if mark else 1, f"not valid YAML: {exc}")]
    if not isinstance(form, dict) or "body" not in form:
        return []  # config.yml or a markdown template: not a form
    drifts = [
        Drift(path.name, line, f"not a form GitHub can show: {why}")
        for line, why in formschema.problems(text)
    ]
    workflow, how = workflow_of_form(config, form)
    if workflow is None:
        return drifts  # a form no workflow reads (a bug report): only its syntax matters
    if workflow.match.labels and how != "label":
        drifts.append(
            Drift(
                path.name,
                _line_of(text, "labels:"),
                f"feeds workflow {workflow.id} (by {how}) but does not apply its label "
                f"{workflow.match.labels[0]!r}: issues will not match until someone adds it",
            )
        )
    elements = _elements(form)
    for spec in workflow.fields:
        element = elements.get(spec.heading.lower())
        if element is None:
            drifts.append(
                Drift(
                    path.name,
                    1,
                    f"workflow {workflow.id} reads the heading {spec.heading!r} "
                    f"({workflow.source}), which this form no longer has",
                )
            )
            continue
        options = (element.get("attributes") or {}).get("options") or []
        if spec.type == "choice" and element.get("type") == "dropdown":
            known = {c.lower() for c in spec.choices}
            for option in [str(o) for o in options if str(o).lower() not in known]:
                drifts.append(
                    Drift(
                        path.name,
                        _line_of(text, option) if option else 1,
                        f"dropdown {spec.heading!r} offers {option!r}, which workflow "
                        f"{workflow.id} does not accept (choices in {workflow.source})",
                    )
                )
    return drifts


def check_forms(config: Config, forms_dir: Path) -> list[Drift]:
    drifts: list[Drift] = []
    for path in sorted(forms_dir.glob("*.y*ml")):
        drifts += check_form(config, path)
    return drifts
