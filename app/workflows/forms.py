"""Reads issue-form bodies (``### Heading`` sections) into typed field values.

GitHub renders a submitted issue form as markdown: one ``### Label`` heading
per field, the answer below it, ``_No response_`` for an empty optional
field, and ``- [X] option`` lines for checkboxes. People edit these bodies by
hand afterwards, so the parser is forgiving about spacing and case and never
raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from ..config.model import FieldSpec, Workflow
from . import checklists

_HEADING = re.compile(r"^#{3}\s+(.+?)\s*#*\s*$")
_EMPTY = {"", "_no response_", "none", "n/a", "no response"}
_HANDLE = re.compile(r"@?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))")
_SLUG_STRIP = re.compile(r"[^a-z0-9-]+")


def sections(body: str | None) -> dict[str, str]:
    """Heading (lower-cased) → the text under it, with code fences respected."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in (body or "").replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            current = found.setdefault(heading.group(1).strip().lower(), [])
            continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in found.items()}


def checkboxes(text: str) -> list[tuple[bool, str]]:
    return checklists.items(text)


def slugify(text: str) -> str:
    """A community's machine name: lower case, digits and hyphens.

    >>> slugify("  Hypatia College!  ")
    'hypatia-college'
    """
    return _SLUG_STRIP.sub("-", text.strip().lower()).strip("-")[:40]


@dataclass(frozen=True)
class FormValues:
    values: Mapping[str, str]  # field id → normalised text ("" when empty)
    missing: tuple[str, ...] = ()  # required fields with no usable value
    problems: Mapping[str, str] = field(
        default_factory=dict
    )  # field id → why the value was refused
    headings_present: frozenset[str] = frozenset()
    # field id → what the person typed, where the value used differs from it in more than
    # case and spaces ("Lovelace Lab!" is used as the slug lovelace-lab): said on the issue.
    typed: Mapping[str, str] = field(default_factory=dict)

    def get(self, field_id: str) -> str:
        return self.values.get(field_id, "")


_ISSUE_REF = re.compile(
    r"^(?:https://github\.com/(?P<u_repo>[\w.-]+/[\w.-]+)/issues/(?P<u_num>\d+)"
    r"|(?P<repo>[\w.-]+/[\w.-]+)?#(?P<num>\d+))/?$"
)


def parse_issue_ref(text: str) -> str:
    """``#12``, ``owner/repo#12`` or an issue URL → ``#12`` / ``owner/repo#12``; else ""."""
    match = _ISSUE_REF.match(text.strip())
    if not match:
        return ""
    repo = match.group("u_repo") or match.group("repo")
    number = match.group("u_num") or match.group("num")
    return f"{repo}#{int(number)}" if repo else f"#{int(number)}"


def resolve_issue_ref(ref: str, current_repo: str) -> tuple[str, int] | None:
    """A parsed ref, read from an issue in ``current_repo``, as (repo, number)."""
    if not ref or "#" not in ref:
        return None
    repo, _, number = ref.partition("#")
    return (repo or current_repo, int(number))


def normalise(spec: FieldSpec, raw: str) -> tuple[str, str | None]:
    """(value, problem): the value as workflows use it, or why it cannot be used."""
    text = raw.strip()
    if text.lower() in _EMPTY:
        return "", None
    kind = spec.type
    if kind == "slug":
        slug = slugify(text.splitlines()[0])
        return (slug, None) if slug else ("", "needs letters or digits")
    if kind == "date":
        candidate = text.splitlines()[0].strip()[:10]
        try:
            return date.fromisoformat(candidate).isoformat(), None
        except ValueError:
            return "", "needs a date written YYYY-MM-DD"
    if kind == "ref":
        ref = parse_issue_ref(text.split()[0])
        return (ref, None) if ref else ("", "needs an issue: #12, owner/repo#12 or its URL")
    if kind == "url":
        first = text.split()[0]
        if re.match(r"^https?://[^\s/]+\.[^\s]+", first):
            return first, None
        return "", "needs a web address starting with https://"
    if kind == "handles":
        handles = sorted(
            {
                m.group(1)
                for m in _HANDLE.finditer(" ".join(text.replace(",", " ").split()))
                if not m.group(1).startswith("-")
            },
            key=lambda handle: (handle.lower(), handle),  # one order in every process
        )
        return (", ".join(handles), None) if handles else ("", "needs GitHub usernames")
    if kind == "choice":
        first = text.splitlines()[0].strip()
        for choice in spec.choices:
            if choice.lower() == first.lower():
                return choice, None
        return "", "must be one of: " + ", ".join(spec.choices)
    if kind == "checkboxes":
        return ", ".join(t for ticked, t in checkboxes(text) if ticked), None
    if kind == "number":
        match = re.search(r"-?\d+(\.\d+)?", text)
        return (match.group(0), None) if match else ("", "needs a number")
    return text, None


def read(workflow: Workflow, body: str | None) -> FormValues:
    found = sections(body)
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}
    for spec in workflow.fields:
        raw = found.get(spec.heading.lower(), "")
        value, problem = normalise(spec, raw)
        values[spec.id] = value
        if problem:
            problems[spec.id] = problem
        elif spec.type == "slug" and value and _changed(raw, value):
            typed[spec.id] = raw.strip().splitlines()[0][:100]
    missing = tuple(s.id for s in workflow.fields if s.required and not values[s.id])
    return FormValues(values, missing, problems, frozenset(found), typed)


def _changed(raw: str, slug: str) -> bool:
    """More than case and spaces: "Lovelace Lab" → lovelace-lab is expected; "Lovelace Lab!"
    losing its "!" is worth saying."""
    first = raw.strip().splitlines()[0] if raw.strip() else ""
    return "-".join(first.lower().split()) != slug


def with_section(body: str | None, heading: str, value: str) -> str:
    """The body with the ``### heading`` section set to ``value`` (appended when absent)."""
    lines = (body or "").replace("\r\n", "\n").split("\n")
    wanted = heading.strip().lower()
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if (m := _HEADING.match(line)) and m.group(1).strip().lower() == wanted
        ),
        None,
    )
    if start is None:
        return "\n".join(lines).rstrip() + f"\n\n### {heading}\n\n{value}\n"
    end = next((i for i in range(start + 1, len(lines)) if _HEADING.match(lines[i])), len(lines))
    tail = lines[end:]
    return "\n".join([*lines[: start + 1], "", value, *(["", *tail] if tail else [""])])


def has_headings(body: str | None, headings: Iterable[str]) -> bool:
    present = sections(body)
    return all(h.lower() in present for h in headings)
