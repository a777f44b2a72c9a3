"""Pure rules of the community workflows: which workflow an issue belongs to, and what should hold.

Everything here is a function of the issue as the payload shows it and the
config; no I/O, so the rules are tested without fakes and the handler stays a
thin translation into plan actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.labels import LabelSpec
from ..config.model import Config, LabelRule, Workflow, fill
from . import checklists, forms

COMMENT_KEY_PREFIX = "workflow."


def comment_key(workflow: Workflow) -> str:
    """The marker key of a workflow issue's own comment (its checklist, members, links)."""
    return COMMENT_KEY_PREFIX + workflow.id


def label_names(issue: Mapping[str, Any]) -> list[str]:
    return [label.get("name", "") for label in issue.get("labels") or [] if isinstance(label, dict)]


def match_workflow(config: Config, issue: Mapping[str, Any]) -> Workflow | None:
    """The first enabled workflow whose label, title prefix or form headings the issue has."""
    labels = {name.lower() for name in label_names(issue)}
    title = str(issue.get("title") or "")
    body = issue.get("body")
    for workflow in config.enabled():
        m = workflow.match
        if m.labels and labels & {label.lower() for label in m.labels}:
            return workflow
        if m.title_prefix and title.lower().startswith(m.title_prefix.lower()):
            return workflow
        if m.headings and forms.has_headings(body, m.headings):
            return workflow
    return None


def label_groups(labels: Iterable[str]) -> dict[str, list[str]]:
    """``prefix: value`` labels grouped by prefix (``interested: hypatia`` → interested)."""
    groups: dict[str, list[str]] = {}
    for name in labels:
        prefix, sep, value = name.partition(":")
        if sep and value.strip():
            groups.setdefault(prefix.strip().lower(), []).append(value.strip())
    return {k: sorted(v, key=lambda name: (name.lower(), name)) for k, v in groups.items()}


def community_of(workflow: Workflow, values: forms.FormValues, labels: Iterable[str]) -> str:
    """The community slug: from the form field the workflow names, else a ``community:`` label."""
    if workflow.community_field and values.get(workflow.community_field):
        return forms.slugify(values.get(workflow.community_field))
    return community_from_labels(labels)


def community_from_labels(labels: Iterable[str]) -> str:
    """The slug of the first ``community: …`` label, or ""."""
    for name in labels:
        if name.lower().startswith("community:"):
            return forms.slugify(name.split(":", 1)[1])
    return ""


def template_values(workflow: Workflow, values: forms.FormValues, community: str) -> dict[str, str]:
    """Values placeholders may use: every field, with ``community`` as a slug."""
    filled = dict(values.values)
    if community:
        filled["community"] = community
    return filled


@dataclass(frozen=True)
class LabelChange:
    add: tuple[LabelSpec, ...]
    remove: tuple[str, ...]


def missing_label_change(
    workflow: Workflow, values: forms.FormValues, present: Sequence[str]
) -> LabelChange:
    """``needs: info`` while required facts are missing; ``error:missing-…`` per field if set."""
    add: list[LabelSpec] = []
    remove: list[str] = []
    rule = workflow.missing.label
    if rule is not None:
        spec = LabelSpec(rule.name, rule.color, rule.description)
        (add.append(spec) if values.missing else remove.append(rule.name))
    per_field = workflow.missing.per_field_label
    if per_field is not None:
        wanted = {
            _per_field(per_field, field_id).name.lower(): _per_field(per_field, field_id)
            for field_id in values.missing
        }
        add.extend(wanted.values())
        prefix = per_field.name.split("{", 1)[0].lower()
        remove.extend(
            p for p in present if p.lower().startswith(prefix) and p.lower() not in wanted
        )
    return LabelChange(tuple(add), tuple(remove))


def _per_field(rule: LabelRule, field_id: str) -> LabelSpec:
    slug = field_id.replace("_", "-")
    return LabelSpec(
        fill(rule.name, {"field": slug}) or rule.name,
        rule.color,
        fill(rule.description, {"field": slug}) or "",
    )


def board_fields(
    pairs: Sequence[tuple[str, str]], values: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """Board field values with placeholders filled; a value whose field is empty is skipped."""
    out = []
    for name, pattern in pairs:
        value = fill(pattern, values)
        if value is not None:
            out.append((name, value))
    return tuple(out)


def checklist(text: str | None) -> list[tuple[bool, str]]:
    return checklists.items(text)


def progress_fields(
    workflow: Workflow, boxes: Sequence[tuple[bool, str]]
) -> tuple[tuple[str, str], ...]:
    """Board values that follow the checklist: all ticked, some ticked, or none (no change)."""
    if workflow.board is None or not boxes:
        return ()
    ticked = sum(1 for done, _ in boxes if done)
    if ticked == len(boxes):
        return workflow.board.on_all_ticked
    if ticked:
        return workflow.board.on_first_ticked
    return ()


def relevant_state(
    workflow: Workflow, issue: Mapping[str, Any], body: str | None
) -> tuple[Any, ...]:
    """What the workflow's output depends on: an edit that leaves this unchanged changes nothing."""
    values = forms.read(workflow, body)
    return (
        tuple(sorted(values.values.items())),
        values.missing,
        tuple(sorted(values.problems.items())),
        tuple(checklist(body)),
        str(issue.get("title") or ""),
    )
