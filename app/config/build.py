"""From validated YAML to the frozen config: the rules that span keys, each with its line.

The schema has already said that every key is known and every value has its type; what
is left are references (a ``{placeholder}`` names a field of this workflow, a reminder reads
a date field, a permission names a command and a level) and the conversion to ``model.py``.
Problems are collected, not raised, so that one run names them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..github import permissions
from . import commands, yamlmarks
from .errors import ConfigError
from .labels import LabelSpec
from .model import (
    BOARD_RULES,
    HANDLE,
    Backlink,
    BoardSpec,
    CommandSettings,
    FieldSpec,
    GlobalConfig,
    LabelRule,
    LinkingSettings,
    Match,
    MissingSpec,
    ReminderSpec,
    SharedNeedSettings,
    Workflow,
    placeholders,
)
from .schema import (
    BoardSchema,
    CommandsSchema,
    GlobalSchema,
    LabelSchema,
    LinkingSchema,
    SharedNeedSchema,
    WorkflowSchema,
)

Keys = Sequence[str | int]


class Problems:
    """One file's problems, placed by the key path that leads to them in its YAML."""

    def __init__(self, file: str, data: Any, errors: list[ConfigError]) -> None:
        self.file, self.data, self.errors = file, data, errors

    def at(self, keys: Keys, reason: str, *, own_line: bool = False) -> None:
        """A problem with ``keys[-1]`` (its line), or with the mapping itself (``own_line``)."""
        container: Any = self.data
        for key in keys if own_line else keys[:-1]:
            try:
                container = container[key]
            except (KeyError, IndexError, TypeError):
                break
        line = yamlmarks.line_of(container, None if own_line else keys[-1])
        path = ".".join(str(k) for k in keys)
        self.errors.append(ConfigError(self.file, line, reason, path))

    def unknown_placeholders(self, keys: Keys, text: str, known: set[str]) -> None:
        for name in placeholders(text):
            if name not in known:
                self.at(keys, f"{{{name}}} is not a field of this workflow")

    def board_values(
        self, keys: Keys, values: Mapping[str, str], known: set[str]
    ) -> tuple[tuple[str, str], ...]:
        seen: set[str] = set()
        for name, wanted in values.items():
            if name.lower() in seen:
                self.at([*keys, name], f"board field {name!r} is named twice in {keys[-1]!r}")
            seen.add(name.lower())
            self.unknown_placeholders([*keys, name], wanted, known)
        return tuple(values.items())


class WorkflowBuilder(Problems):
    def __init__(
        self, file: str, data: Any, errors: list[ConfigError], templates_dir: Path
    ) -> None:
        super().__init__(file, data, errors)
        self.templates_dir = templates_dir

    def template(self, keys: Keys, name: str) -> str:
        if not (self.templates_dir / name).is_file():
            self.at(keys, f"template {name!r} does not exist in {self.templates_dir}")
        return name

    def label(self, keys: Keys, spec: LabelSchema, known: set[str]) -> LabelRule:
        self.unknown_placeholders(keys, spec.name, known)
        return LabelRule(spec.name, spec.color, spec.description)

    def build(self, read: WorkflowSchema, default_id: str) -> Workflow:
        workflow_id = read.workflow or default_id
        match = Match(read.match.labels, read.match.title_prefix, read.match.headings)
        if not (match.labels or match.title_prefix or match.headings):
            self.at(["match"], "match needs labels, title_prefix or headings", own_line=True)
        fields = self.fields(read)
        known = {f.id for f in fields}
        labels = tuple(self.label(["labels", i], spec, known) for i, spec in enumerate(read.labels))
        self.references(read, known)
        return Workflow(
            id=workflow_id,
            title=read.title or workflow_id,
            source=self.file,
            match=match,
            fields=fields,
            labels=labels,
            template=self.template(["comment", "template"], read.comment.template)
            if read.comment
            else None,
            board=self.board(read.board, known) if read.board else None,
            notify=read.notify,
            assignees=read.assignees,
            reminders=self.reminders(read, fields),
            missing=self.missing(read),
            community_field=read.community_field,
            links_to=read.links_to,
            backlinks=tuple(
                Backlink(name, b.workflow, b.field) for name, b in read.backlinks.items()
            ),
            roles=dict(read.roles),
            command_labels=read.command_labels,
            link_fields=read.link_fields,
            enabled=read.enabled,
        )

    def fields(self, read: WorkflowSchema) -> tuple[FieldSpec, ...]:
        fields = []
        for field_id, spec in read.fields.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", field_id):
                self.at(
                    ["fields", field_id],
                    f"field id {field_id!r}: use lower_case letters, digits, _",
                )
            if spec.type == "choice" and not spec.choices:
                self.at(
                    ["fields", field_id], f"choice field {field_id!r} needs choices", own_line=True
                )
            fields.append(FieldSpec(field_id, spec.heading, spec.type, spec.required, spec.choices))
        return tuple(fields)

    def board(self, board: BoardSchema, known: set[str]) -> BoardSpec:
        rules = {
            rule: self.board_values(["board", rule], getattr(board, rule), known)
            for rule in BOARD_RULES
        }
        return BoardSpec(owner=board.owner, number=board.number, **rules)

    def reminders(
        self, read: WorkflowSchema, fields: Sequence[FieldSpec]
    ) -> tuple[ReminderSpec, ...]:
        found = []
        for i, r in enumerate(read.reminders):
            spec = next((f for f in fields if f.id == r.field), None)
            if spec is None or spec.type != "date":
                why = f"reminder field {r.field!r} must be a date field of this workflow"
                self.at(["reminders", i, "field"], why)
            template = self.template(["reminders", i, "template"], r.template)
            found.append(
                ReminderSpec(r.field, tuple(sorted(set(r.days_before), reverse=True)), template)
            )
        return tuple(found)

    def missing(self, read: WorkflowSchema) -> MissingSpec:
        if read.missing is None:
            return MissingSpec()
        label, per_field = read.missing.label, read.missing.per_field_label
        return MissingSpec(
            label=self.label(["missing", "label"], label, set()) if label else None,
            per_field_label=(
                self.label(["missing", "per_field_label"], per_field, {"field"})
                if per_field
                else None
            ),
        )

    def references(self, read: WorkflowSchema, known: set[str]) -> None:
        for field_id in read.link_fields:
            if field_id not in known:
                self.at(["link_fields"], f"{field_id!r} is not a field of this workflow")
        if read.community_field is not None and read.community_field not in known:
            why = f"{read.community_field!r} is not a field of this workflow"
            self.at(["community_field"], why)
        for handle in read.notify:
            if not HANDLE.match(handle):
                self.at(["notify"], f"notify entry {handle!r} must be @user or @org/team")
        for role in read.roles:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", role):
                why = "a role is a lowercase word, with a sentence that says what it means"
                self.at(["roles", role], why)
        label_patterns(self, ["command_labels"], read.command_labels)


def label_patterns(problems: Problems, keys: Keys, patterns: Sequence[str]) -> None:
    for pattern in patterns:
        if not pattern.strip() or len(pattern) > 50:
            problems.at(keys, f"label pattern {pattern!r} must be 1 to 50 characters")


class GlobalBuilder(Problems):
    def build(self, read: GlobalSchema, directory: Path, default_templates: Path) -> GlobalConfig:
        templates_dir = (
            (directory / read.templates).resolve() if read.templates else default_templates
        )
        if not templates_dir.is_dir():
            self.at(["templates"], f"templates folder {templates_dir} does not exist")
        return GlobalConfig(
            templates_dir=templates_dir,
            reminder_interval_minutes=read.reminder_interval_minutes,
            redeliver_interval_minutes=read.redeliver_interval_minutes,
            redeliver_window_hours=read.redeliver_window_hours,
            help_footer=read.help_footer,
            ignore_bots=read.ignore_bots,
            dashboard_shows_private=read.dashboard_shows_private,
            commands=self.commands(read.commands),
            linking=self.linking(read.linking),
        )

    def commands(self, c: CommandsSchema) -> CommandSettings:
        known = set(commands.SPEC_BY_NAME)
        levels = dict(CommandSettings().levels)
        for name, level in c.permissions.items():
            where = ["commands", "permissions", name]
            if name not in known:
                self.at(where, f"{name!r} is not a command (known: {', '.join(sorted(known))})")
            elif not permissions.valid_level(level):
                levels_text = ", ".join([*permissions.LADDER, "team:SLUG", "representative"])
                self.at(where, f"permission of /{name} must be one of {levels_text}")
            else:
                levels[name] = level
        for alias, target in c.aliases.items():
            where = ["commands", "aliases", alias]
            if target not in known or not re.fullmatch(r"[a-z][a-z0-9_-]*", alias):
                self.at(where, f"alias {alias!r} must name a command, lower case")
            elif alias in known:
                self.at(where, f"{alias!r} is already a command")
        for name in c.disabled:
            if name not in known:
                self.at(["commands", "disabled"], f"{name!r} is not a command")
        team = c.representatives_team
        if team is not None and placeholders(team) != ["community"]:
            self.at(["commands", "representatives_team"], "the team name must contain {community}")
        label_patterns(self, ["commands", "labels"], c.labels)
        return CommandSettings(
            levels=levels,
            aliases=dict(c.aliases),
            disabled=frozenset(c.disabled),
            ignore=frozenset(n.lower() for n in c.ignore)
            if c.ignore is not None
            else CommandSettings().ignore,
            labels=c.labels,
            representatives_field=c.representatives_field,
            representatives_team=team,
            registry_repo=c.registry_repo,
            initiative_workflow=c.initiative_workflow,
            offboard_workflow=c.offboard_workflow,
            status_field=c.status_field,
        )

    def linking(self, c: LinkingSchema) -> LinkingSettings:
        for name in c.thesaurus:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
                self.at(
                    ["linking", "thesaurus", name], f"thesaurus group {name!r}: lower-case name"
                )
        return LinkingSettings(
            enabled=c.enabled,
            threshold=c.threshold,
            meaning_threshold=c.meaning_threshold,
            suggest_threshold=min(c.suggest_threshold, c.meaning_threshold),
            suggestions=c.suggestions,
            label_weight=c.label_weight,
            workflow_weight=c.workflow_weight,
            max_links=c.max_links,
            closed_within_days=c.closed_within_days,
            thesaurus=dict(c.thesaurus),
            shared_need=self.shared_need(c.shared_need),
        )

    def shared_need(self, c: SharedNeedSchema) -> SharedNeedSettings:
        default = SharedNeedSettings().label
        label = LabelSpec(c.label.name, c.label.color, c.label.description) if c.label else default
        board = c.board
        fields = (
            self.board_values(["linking", "shared_need", "board", "fields"], board.fields, set())
            if board
            else ()
        )
        return SharedNeedSettings(
            min_communities=c.min_communities,
            label=label,
            board_owner=board.owner if board else None,
            board_number=board.number if board else None,
            board_fields=fields,
            private_on_board=c.private_on_board,
        )
