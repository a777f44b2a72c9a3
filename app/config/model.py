"""The configuration the App runs on: frozen objects built once from the YAML by ``loader.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import commands
from .labels import LabelSpec

GLOBAL_FILE = "flywheel.yaml"
# Every command's reply, the links comment, the issue /offboard opens.
COMMAND_TEMPLATES = ("command-reply.md.j2", "links.md.j2", "offboard-issue.md.j2")
FIELD_TYPES = (
    "text", "slug", "date", "url", "handles", "choice", "checkboxes", "number", "ref",
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
HANDLE = re.compile(r"^@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$")  # @user or @org/team


def placeholders(text: str) -> list[str]:
    """The ``{field}`` names a label, board value or description uses, in order."""
    return _PLACEHOLDER.findall(text)


@dataclass(frozen=True)
class FieldSpec:
    id: str
    heading: str
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelRule:
    """A label to apply; ``{field}`` placeholders derive one (``community: {community}``)."""

    name: str
    color: str = "ededed"
    description: str = ""

    def placeholders(self) -> set[str]:
        return set(placeholders(self.name))


@dataclass(frozen=True)
class Match:
    labels: tuple[str, ...] = ()
    title_prefix: str | None = None
    headings: tuple[str, ...] = ()


BOARD_RULES = (
    "on_open", "on_close", "on_close_not_planned", "on_reopen", "on_first_ticked", "on_all_ticked",
)  # fmt: skip


@dataclass(frozen=True)
class BoardSpec:
    owner: str
    number: int
    on_open: tuple[tuple[str, str], ...] = ()
    on_close: tuple[tuple[str, str], ...] = ()
    on_close_not_planned: tuple[tuple[str, str], ...] = ()
    on_reopen: tuple[tuple[str, str], ...] = ()
    on_first_ticked: tuple[tuple[str, str], ...] = ()
    on_all_ticked: tuple[tuple[str, str], ...] = ()

    def all_rules(self) -> tuple[tuple[str, str], ...]:
        return tuple(pair for rule in BOARD_RULES for pair in getattr(self, rule))


@dataclass(frozen=True)
class ReminderSpec:
    field: str
    days_before: tuple[int, ...]
    template: str


@dataclass(frozen=True)
class Backlink:
    """Issues of ``workflow`` whose ``field`` (of type ref) points at this issue."""

    name: str
    workflow: str
    field: str


@dataclass(frozen=True)
class MissingSpec:
    label: LabelRule | None = LabelRule("needs: info", "fbca04", "Required facts are missing")
    per_field_label: LabelRule | None = None


@dataclass(frozen=True)
class Workflow:
    id: str
    title: str
    source: str
    match: Match
    fields: tuple[FieldSpec, ...] = ()
    labels: tuple[LabelRule, ...] = ()
    template: str | None = None
    board: BoardSpec | None = None
    notify: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    reminders: tuple[ReminderSpec, ...] = ()
    missing: MissingSpec = MissingSpec()
    community_field: str | None = None
    links_to: tuple[str, ...] = ()
    backlinks: tuple[Backlink, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)  # member role → what it means
    command_labels: tuple[str, ...] = ()  # labels /label may set here (``interested: *``)
    # The fields whose prose states the need, compared by linking. Facts (URLs, dates, clouds,
    # ticked options) say nothing about a need: a workflow without them is never linked.
    link_fields: tuple[str, ...] = ()
    enabled: bool = True

    def field(self, field_id: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def label_specs(self, values: Mapping[str, str]) -> list[LabelSpec]:
        """Labels with placeholders filled; a label whose field is empty is left out."""
        specs = []
        for rule in self.labels:
            name = fill(rule.name, values)
            if name is None:
                continue
            description = fill(rule.description, values) or ""
            specs.append(LabelSpec(name, rule.color, description))
        return specs


@dataclass(frozen=True)
class CommandSettings:
    """How slash commands behave in this organisation (``commands:`` in flywheel.yaml)."""

    levels: Mapping[str, str] = field(
        default_factory=lambda: {spec.name: spec.level for spec in commands.SPECS}
    )
    aliases: Mapping[str, str] = field(default_factory=dict)  # alias → command
    disabled: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset({"cc"})  # slash words other tools use: never answered
    labels: tuple[str, ...] = ()  # labels /label may set on any issue (``priority: *``)
    representatives_field: str = "representatives"
    representatives_team: str | None = None  # e.g. "{community}-reps": its members speak for it
    registry_repo: str | None = None  # where communities' workflow issues live; default: here
    initiative_workflow: str = "initiative"  # what /initiative turns an issue into
    offboard_workflow: str = "offboarding"  # what /offboard opens
    status_field: str = "Status"  # the board field /status sets

    def resolve(self, name: str) -> str | None:
        """The command a typed name means, or None when unknown or disabled."""
        name = self.aliases.get(name, name)
        if name in commands.SPEC_BY_NAME and name not in self.disabled:
            return name
        return None

    def known_names(self) -> list[str]:
        names = [s.name for s in commands.SPECS if s.name not in self.disabled]
        return names + [a for a, target in self.aliases.items() if target not in self.disabled]


SHARED_NEED_LABEL = LabelSpec(
    "shared-need", "0e8a16", "Several communities ask for this: a candidate initiative"
)


@dataclass(frozen=True)
class SharedNeedSettings:
    """When several communities ask for one thing: label it, and put it on the roadmap board."""

    min_communities: int = 3
    label: LabelSpec = SHARED_NEED_LABEL
    board_owner: str | None = None
    board_number: int | None = None
    board_fields: tuple[tuple[str, str], ...] = ()  # set when an issue is put on the board
    private_on_board: bool = False  # boards are often public: private issues stay off them


@dataclass(frozen=True)
class LinkingSettings:
    """How requests from different communities are linked (``linking:`` in flywheel.yaml)."""

    enabled: bool = True
    threshold: float = 0.25  # by words, when the embedding model is unavailable
    meaning_threshold: float = 0.45  # by meaning: linked on both issues from here
    suggest_threshold: float = 0.25  # possible connections for the team, below the above
    suggestions: int = 3  # possible connections per request, at most
    label_weight: float = 0.1
    workflow_weight: float = 0.05
    max_links: int = 5
    closed_within_days: int = 180
    thesaurus: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    shared_need: SharedNeedSettings = SharedNeedSettings()


@dataclass(frozen=True)
class GlobalConfig:
    templates_dir: Path
    reminder_interval_minutes: int = 60
    redeliver_interval_minutes: int = 0  # off: GitHub's failed deliveries are asked again by hand
    redeliver_window_hours: int = 6
    help_footer: str = ""
    ignore_bots: bool = True
    # The dashboard leaves out issues of private repositories unless this says otherwise.
    dashboard_shows_private: bool = False
    commands: CommandSettings = CommandSettings()
    linking: LinkingSettings = LinkingSettings()


@dataclass(frozen=True)
class Config:
    workflows: Mapping[str, Workflow]
    settings: GlobalConfig
    directory: Path

    def enabled(self) -> list[Workflow]:
        return [w for w in self.workflows.values() if w.enabled]


def fill(pattern: str, values: Mapping[str, str]) -> str | None:
    """Replace ``{field}`` with its value; None when a referenced field is empty.

    Values are substituted, never evaluated: a person's text cannot become a
    template expression here.

    >>> fill("community: {community}", {"community": "lsst"})
    'community: lsst'
    >>> fill("community: {community}", {}) is None
    True
    """
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1), "")
        if not value:
            missing = True
        return value

    result = _PLACEHOLDER.sub(substitute, pattern)
    return None if missing else result
