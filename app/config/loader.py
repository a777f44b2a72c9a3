"""Loads and validates ``workflow-config/``: one YAML file a workflow, plus ``flywheel.yaml``.

Validation is strict and happens before anything runs: an unknown key, a
wrong type, a template that does not exist or a board field named twice is
refused with the file, the line and the reason. Adding a workflow is a YAML
file and a template; no Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.config import commands, yamlmarks
from app.config.labels import LabelSpec
from app.github import permissions

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


_COLOR = re.compile(r"^#?[0-9a-fA-F]{6}$")
_MACRO_CALL = re.compile(r"\{\{-?\s*[A-Za-z_][\w.]*\(.*?\}\}")  # {{ m.footer(footer) }}


class ConfigError(Exception):
    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file, self.line, self.reason = file, line, reason


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
    threshold: float = 0.25
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


# -- validation helpers ------------------------------------------------------------------


class _Reader:
    """Walks one file's data, raising ConfigError with its line on the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, container: Any, key: str | int | None, reason: str) -> ConfigError:
        return ConfigError(self.file, yamlmarks.line_of(container, key), reason)

    def mapping(
        self,
        value: Any,
        where: str,
        allowed: set[str],
        required: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(self.file, yamlmarks.line_of(value), f"{where} must be a mapping")
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(value, key, f"unknown key {key!r} in {where} (known: {known})")
        for key in sorted(required - set(value)):
            raise self.fail(value, None, f"{where} needs {key!r}")
        return value

    def typed(
        self, container: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any
    ) -> Any:
        if key not in container or container[key] is None:
            return default
        value = container[key]
        if isinstance(value, bool) and kind is int:
            raise self.fail(container, key, f"{key!r} must be a number")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            wanted = {
                "str": "text",
                "int": "a number",
                "int/float": "a number",
                "bool": "true or false",
                "list": "a list",
            }
            raise self.fail(container, key, f"{key!r} must be {wanted.get(names, names)}")
        return value

    def template(self, container: Mapping[str, Any], templates_dir: Path) -> str:
        """The ``template`` key: a file that must exist in the templates folder."""
        name = str(self.typed(container, "template", str, ""))
        if not (templates_dir / name).is_file():
            raise self.fail(
                container, "template", f"template {name!r} does not exist in {templates_dir}"
            )
        return name

    def strings(self, container: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = container.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(container, key, f"{key!r} must be text or a list of text")
        return tuple(value)


def _field_values(
    reader: _Reader, container: Mapping[str, Any], key: str, known: set[str]
) -> tuple[tuple[str, str], ...]:
    value = container.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise reader.fail(container, key, f"{key!r} must map board field names to values")
    seen: set[str] = set()
    pairs = []
    for name, wanted in value.items():
        if name.lower() in seen:
            raise reader.fail(value, name, f"board field {name!r} is named twice in {key!r}")
        seen.add(name.lower())
        if not isinstance(wanted, str | int | float) or isinstance(wanted, bool):
            raise reader.fail(
                value, name, f"value of board field {name!r} must be text or a number"
            )
        for placeholder in _PLACEHOLDER.findall(str(wanted)):
            if placeholder not in known:
                raise reader.fail(value, name, f"{{{placeholder}}} is not a field of this workflow")
        pairs.append((str(name), str(wanted)))
    return tuple(pairs)


def _label_rule(reader: _Reader, item: Any, where: Any, index: int, known: set[str]) -> LabelRule:
    if isinstance(item, str):
        item = {"name": item}
        rule_container: Any = where
        rule_key: Any = index
    else:
        rule_container, rule_key = item, None
    spec = reader.mapping(item, "a label", {"name", "color", "description"}, {"name"})
    name = reader.typed(spec, "name", str, "")
    color = str(reader.typed(spec, "color", str, "ededed"))
    if not _COLOR.match(color):
        raise reader.fail(spec, "color", f"label colour {color!r} must be six hex digits")
    for placeholder in _PLACEHOLDER.findall(name):
        if placeholder not in known:
            raise reader.fail(
                rule_container, rule_key, f"{{{placeholder}}} is not a field of this workflow"
            )
    if len(name) > 50:
        raise reader.fail(rule_container, rule_key, "GitHub label names are at most 50 characters")
    return LabelRule(name, color.lstrip("#"), reader.typed(spec, "description", str, ""))


def _parse_workflow(path: Path, data: Any, templates_dir: Path) -> Workflow:
    reader = _Reader(path.name)
    top = reader.mapping(
        data,
        "a workflow",
        {
            "workflow",
            "title",
            "enabled",
            "match",
            "fields",
            "labels",
            "comment",
            "board",
            "notify",
            "assignees",
            "reminders",
            "missing",
            "community_field",
            "links_to",
            "backlinks",
            "roles",
            "command_labels",
            "link_fields",
        },
        {"match"},
    )
    workflow_id = reader.typed(top, "workflow", str, path.stem)
    match_map = reader.mapping(top["match"], "match", {"labels", "title_prefix", "headings"})
    match = Match(
        labels=reader.strings(match_map, "labels"),
        title_prefix=reader.typed(match_map, "title_prefix", str, None),
        headings=reader.strings(match_map, "headings"),
    )
    if not (match.labels or match.title_prefix or match.headings):
        raise reader.fail(match_map, None, "match needs labels, title_prefix or headings")

    fields_map = reader.typed(top, "fields", dict, {})
    fields = []
    for field_id, spec_data in fields_map.items():
        if not re.match(r"^[a-z][a-z0-9_]*$", field_id):
            raise reader.fail(
                fields_map, field_id, f"field id {field_id!r}: use lower_case letters, digits, _"
            )
        spec = reader.mapping(
            spec_data,
            f"field {field_id!r}",
            {"heading", "type", "required", "choices"},
            {"heading"},
        )
        kind = reader.typed(spec, "type", str, "text")
        if kind not in FIELD_TYPES:
            raise reader.fail(
                spec, "type", f"field type {kind!r} is not one of {', '.join(FIELD_TYPES)}"
            )
        choices = reader.strings(spec, "choices")
        if kind == "choice" and not choices:
            raise reader.fail(spec, None, f"choice field {field_id!r} needs choices")
        fields.append(
            FieldSpec(
                field_id,
                reader.typed(spec, "heading", str, ""),
                kind,
                reader.typed(spec, "required", bool, False),
                choices,
            )
        )
    known = {f.id for f in fields}

    labels_list = reader.typed(top, "labels", list, [])
    labels = tuple(
        _label_rule(reader, item, labels_list, i, known) for i, item in enumerate(labels_list)
    )

    template = None
    if "comment" in top:
        comment = reader.mapping(top["comment"], "comment", {"template"}, {"template"})
        template = reader.template(comment, templates_dir)

    board = None
    if "board" in top:
        b = reader.mapping(
            top["board"],
            "board",
            {"owner", "number", *BOARD_RULES},
            {"owner", "number"},
        )
        board = BoardSpec(
            owner=reader.typed(b, "owner", str, ""),
            number=reader.typed(b, "number", int, 0),
            **{k: _field_values(reader, b, k, known) for k in BOARD_RULES},
        )

    reminders = []
    for item in reader.typed(top, "reminders", list, []):
        r = reader.mapping(
            item,
            "a reminder",
            {"field", "days_before", "template"},
            {"field", "days_before", "template"},
        )
        field_id = reader.typed(r, "field", str, "")
        spec = next((f for f in fields if f.id == field_id), None)
        if spec is None or spec.type != "date":
            raise reader.fail(
                r, "field", f"reminder field {field_id!r} must be a date field of this workflow"
            )
        days = reader.typed(r, "days_before", list, [])
        if not days or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in days
        ):
            raise reader.fail(
                r, "days_before", "days_before must be a list of whole numbers of days"
            )
        reminder_template = reader.template(r, templates_dir)
        reminders.append(
            ReminderSpec(field_id, tuple(sorted(set(days), reverse=True)), reminder_template)
        )

    missing = MissingSpec()
    if "missing" in top:
        m = reader.mapping(top["missing"], "missing", {"label", "per_field_label"})
        missing = MissingSpec(
            label=_label_rule(reader, m["label"], m, 0, set()) if m.get("label") else None,
            per_field_label=(
                _label_rule(reader, m["per_field_label"], m, 0, {"field"})
                if m.get("per_field_label")
                else None
            ),
        )

    link_fields = reader.strings(top, "link_fields")
    for field_id in link_fields:
        if field_id not in known:
            raise reader.fail(top, "link_fields", f"{field_id!r} is not a field of this workflow")

    community_field = reader.typed(top, "community_field", str, None)
    if community_field is not None and community_field not in known:
        raise reader.fail(
            top, "community_field", f"{community_field!r} is not a field of this workflow"
        )

    notify = reader.strings(top, "notify")
    for handle in notify:
        if not HANDLE.match(handle):
            raise reader.fail(top, "notify", f"notify entry {handle!r} must be @user or @org/team")

    backlinks = []
    for name, spec in reader.typed(top, "backlinks", dict, {}).items():
        b = reader.mapping(spec, f"backlink {name!r}", {"workflow", "field"}, {"workflow", "field"})
        source, source_field = (
            reader.typed(b, "workflow", str, ""),
            reader.typed(b, "field", str, ""),
        )
        backlinks.append(Backlink(str(name), source, source_field))
    roles = {}
    for role, meaning in reader.typed(top, "roles", dict, {}).items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", str(role)) or not isinstance(meaning, str):
            why = "a role is a lowercase word, with a sentence that says what it means"
            raise reader.fail(top["roles"], role, why)
        roles[str(role)] = meaning

    return Workflow(
        id=workflow_id,
        title=reader.typed(top, "title", str, workflow_id),
        source=path.name,
        match=match,
        fields=tuple(fields),
        labels=labels,
        template=template,
        board=board,
        notify=notify,
        assignees=reader.strings(top, "assignees"),
        reminders=tuple(reminders),
        missing=missing,
        community_field=community_field,
        links_to=reader.strings(top, "links_to"),
        backlinks=tuple(backlinks),
        roles=roles,
        command_labels=_label_patterns(reader, top, "command_labels"),
        link_fields=link_fields,
        enabled=reader.typed(top, "enabled", bool, True),
    )


def _label_patterns(reader: _Reader, container: Mapping[str, Any], key: str) -> tuple[str, ...]:
    patterns = reader.strings(container, key)
    for pattern in patterns:
        if not pattern.strip() or len(pattern) > 50:
            raise reader.fail(
                container, key, f"label pattern {pattern!r} must be 1 to 50 characters"
            )
    return patterns


def _parse_commands(reader: _Reader, top: Mapping[str, Any]) -> CommandSettings:
    if "commands" not in top:
        return CommandSettings()
    c = reader.mapping(
        top["commands"],
        "commands",
        {
            "permissions",
            "aliases",
            "disabled",
            "ignore",
            "labels",
            "representatives_field",
            "representatives_team",
            "registry_repo",
            "initiative_workflow",
            "offboard_workflow",
            "status_field",
        },
    )
    known = set(commands.SPEC_BY_NAME)
    levels = dict(CommandSettings().levels)
    granted = reader.typed(c, "permissions", dict, {})
    for name, level in granted.items():
        if name not in known:
            raise reader.fail(
                granted, name, f"{name!r} is not a command (known: {', '.join(sorted(known))})"
            )
        if not isinstance(level, str) or not permissions.valid_level(level):
            levels_text = ", ".join([*permissions.LADDER, "team:SLUG", "representative"])
            raise reader.fail(granted, name, f"permission of /{name} must be one of {levels_text}")
        levels[name] = level
    aliases = {}
    for alias, target in reader.typed(c, "aliases", dict, {}).items():
        if target not in known or not re.fullmatch(r"[a-z][a-z0-9_-]*", str(alias)):
            raise reader.fail(
                c["aliases"], alias, f"alias {alias!r} must name a command, lower case"
            )
        if alias in known:
            raise reader.fail(c["aliases"], alias, f"{alias!r} is already a command")
        aliases[str(alias)] = str(target)
    disabled = reader.strings(c, "disabled")
    for name in disabled:
        if name not in known:
            raise reader.fail(c, "disabled", f"{name!r} is not a command")
    team = reader.typed(c, "representatives_team", str, None)
    if team is not None and placeholders(team) != ["community"]:
        raise reader.fail(c, "representatives_team", "the team name must contain {community}")
    return CommandSettings(
        levels=levels,
        aliases=aliases,
        disabled=frozenset(disabled),
        ignore=frozenset(n.lower() for n in reader.strings(c, "ignore"))
        if "ignore" in c
        else CommandSettings().ignore,
        labels=_label_patterns(reader, c, "labels"),
        representatives_field=reader.typed(c, "representatives_field", str, "representatives"),
        representatives_team=team,
        registry_repo=reader.typed(c, "registry_repo", str, None),
        initiative_workflow=reader.typed(c, "initiative_workflow", str, "initiative"),
        offboard_workflow=reader.typed(c, "offboard_workflow", str, "offboarding"),
        status_field=reader.typed(c, "status_field", str, "Status"),
    )


def _parse_linking(reader: _Reader, top: Mapping[str, Any]) -> LinkingSettings:
    if "linking" not in top:
        return LinkingSettings()
    c = reader.mapping(
        top["linking"],
        "linking",
        {
            "enabled",
            "threshold",
            "label_weight",
            "workflow_weight",
            "max_links",
            "closed_within_days",
            "thesaurus",
            "shared_need",
        },
    )
    weights = {}
    for key, default in (("threshold", 0.25), ("label_weight", 0.1), ("workflow_weight", 0.05)):
        weights[key] = float(reader.typed(c, key, (int, float), default))
        if not 0 <= weights[key] <= 1:
            raise reader.fail(c, key, f"{key!r} must be between 0 and 1")
    counts = {}
    for key, default in (("max_links", 5), ("closed_within_days", 180)):
        counts[key] = reader.typed(c, key, int, default)
        if counts[key] < 0:
            raise reader.fail(c, key, f"{key!r} must be 0 or more")
    thesaurus = {}
    for name in reader.typed(c, "thesaurus", dict, {}):
        if not re.fullmatch(r"[a-z][a-z0-9-]*", str(name)):
            raise reader.fail(c["thesaurus"], name, f"thesaurus group {name!r}: lower-case name")
        thesaurus[str(name)] = reader.strings(c["thesaurus"], name)
    return LinkingSettings(
        enabled=reader.typed(c, "enabled", bool, True),
        threshold=weights["threshold"],
        label_weight=weights["label_weight"],
        workflow_weight=weights["workflow_weight"],
        max_links=counts["max_links"],
        closed_within_days=counts["closed_within_days"],
        thesaurus=thesaurus,
        shared_need=_parse_shared_need(reader, c),
    )


def _parse_shared_need(reader: _Reader, linking: Mapping[str, Any]) -> SharedNeedSettings:
    if "shared_need" not in linking:
        return SharedNeedSettings()
    c = reader.mapping(
        linking["shared_need"],
        "shared_need",
        {"min_communities", "label", "board", "private_on_board"},
    )
    minimum = reader.typed(c, "min_communities", int, 3)
    if minimum < 2:
        raise reader.fail(c, "min_communities", "a need is shared by 2 communities or more")
    default = SharedNeedSettings().label
    label = default
    if "label" in c:
        spec = reader.mapping(c["label"], "label", {"name", "color", "description"}, {"name"})
        label = LabelSpec(
            reader.typed(spec, "name", str, default.name),
            reader.typed(spec, "color", str, default.color),
            reader.typed(spec, "description", str, ""),
        )
    owner, number, fields = None, None, ()
    if "board" in c:
        board = reader.mapping(
            c["board"], "board", {"owner", "number", "fields"}, {"owner", "number"}
        )
        owner = reader.typed(board, "owner", str, None)
        number = reader.typed(board, "number", int, None)
        fields = _field_values(reader, board, "fields", set())
    return SharedNeedSettings(
        min_communities=minimum,
        label=label,
        board_owner=owner,
        board_number=number,
        board_fields=fields,
        private_on_board=reader.typed(c, "private_on_board", bool, False),
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yamlmarks.load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError(path.name, line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        raise ConfigError(path.name, 0, f"not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path.name, 0, f"cannot be read: {exc}") from None


def _parse_global(path: Path, directory: Path) -> GlobalConfig:
    default_templates = directory.parent / "templates"
    if not path.exists():
        return GlobalConfig(templates_dir=default_templates)
    data = _read_yaml(path) or yamlmarks.MarkedDict()
    reader = _Reader(path.name)
    top = reader.mapping(
        data,
        "flywheel.yaml",
        {
            "templates",
            "reminder_interval_minutes",
            "redeliver_interval_minutes",
            "redeliver_window_hours",
            "help_footer",
            "ignore_bots",
            "dashboard_shows_private",
            "commands",
            "linking",
        },
    )
    templates = reader.typed(top, "templates", str, None)
    templates_dir = (directory / templates).resolve() if templates else default_templates
    if not templates_dir.is_dir():
        raise reader.fail(top, "templates", f"templates folder {templates_dir} does not exist")
    interval = reader.typed(top, "reminder_interval_minutes", int, 60)
    if interval < 0:
        raise reader.fail(
            top, "reminder_interval_minutes", "give minutes between sweeps, or 0 to turn them off"
        )
    redeliver_interval = reader.typed(top, "redeliver_interval_minutes", int, 0)
    if redeliver_interval < 0:
        raise reader.fail(
            top,
            "redeliver_interval_minutes",
            "redeliver_interval_minutes: give minutes between looks for failed deliveries, "
            "or 0 to turn them off",
        )
    window = reader.typed(top, "redeliver_window_hours", int, 6)
    if not 1 <= window <= 72:
        raise reader.fail(
            top,
            "redeliver_window_hours",
            "redeliver_window_hours: give 1 to 72 hours (GitHub keeps deliveries for 3 days)",
        )
    return GlobalConfig(
        templates_dir=templates_dir,
        reminder_interval_minutes=interval,
        redeliver_interval_minutes=redeliver_interval,
        redeliver_window_hours=window,
        help_footer=reader.typed(top, "help_footer", str, ""),
        ignore_bots=reader.typed(top, "ignore_bots", bool, True),
        dashboard_shows_private=reader.typed(top, "dashboard_shows_private", bool, False),
        commands=_parse_commands(reader, top),
        linking=_parse_linking(reader, top),
    )


def load_config(directory: Path | str, extra_files: list[Path] | None = None) -> Config:
    """Load every workflow in a folder (and extra files); ConfigError on the first problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(str(directory), 0, "the workflow-config folder does not exist")
    settings = _parse_global(directory / GLOBAL_FILE, directory)
    files = sorted(
        p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.name != GLOBAL_FILE
    )
    files += list(extra_files or [])
    workflows: dict[str, Workflow] = {}
    for path in files:
        data = _read_yaml(path)
        workflow = _parse_workflow(path, data, settings.templates_dir)
        if workflow.id in workflows:
            raise ConfigError(
                path.name,
                yamlmarks.line_of(data, "workflow"),
                f"workflow {workflow.id!r} is already defined in {workflows[workflow.id].source}",
            )
        workflows[workflow.id] = workflow
    for workflow in workflows.values():
        for other in workflow.links_to:
            if other not in workflows:
                raise ConfigError(
                    workflow.source, 0, f"links_to names {other!r}, which is not a workflow"
                )
        for link in workflow.backlinks:
            target = workflows.get(link.workflow)
            spec = target.field(link.field) if target else None
            if spec is None or spec.type != "ref":
                raise ConfigError(
                    workflow.source,
                    0,
                    f"backlink {link.name!r} needs a field of type ref: "
                    f"{link.workflow}.{link.field} is not one",
                )
    _check_templates(settings.templates_dir, workflows)
    return Config(workflows=workflows, settings=settings, directory=directory)


def _check_templates(templates_dir: Path, workflows: Mapping[str, Workflow]) -> None:
    """Compile every template now, so a syntax error stops start-up with its line."""
    import jinja2

    from app.config.render import Renderer

    env = Renderer(templates_dir).env  # the filters templates may use, as at render time
    names = {w.template for w in workflows.values() if w.template}
    names |= {r.template for w in workflows.values() for r in w.reminders}
    names |= {n for n in env.list_templates() if n.startswith("_")}  # macros
    names |= set(COMMAND_TEMPLATES)  # the configured folder's, or else the shipped ones
    for name in sorted(names):
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(name, exc.lineno or 0, f"template syntax: {exc.message}") from None
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        for number, line in enumerate(source.splitlines(), start=1):
            for call in _MACRO_CALL.finditer(line):
                if "|safe" not in call.group(0).replace(" ", ""):
                    raise ConfigError(
                        name,
                        number,
                        "a macro's output is already made safe inside the macro: "
                        "write {{ macro(...)|safe }}, or people's text is escaped twice",
                    )
