"""The shape of the YAML people write, declared: pydantic checks every key and type at once.

These models mirror the files (``workflow-config/*.yaml`` and ``flywheel.yaml``) key for
key, with unknown keys forbidden and no silent coercion (``strict``: "1" is not a number,
``yes`` is not text). Rules that span keys (a placeholder names a field of this workflow, a
reminder reads a date field) are checked by the loader, which also turns these models into
the frozen objects the App runs on (``model.py``). ``errors.py`` turns pydantic's error
locations back into file, line and key path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from .model import FIELD_TYPES


def _text_or_list(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("must be text or a list of text")


def _board_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be text or a number")
    return str(value)


def _label(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _whole_days(value: Any) -> Any:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value)
    ):
        raise ValueError("must be a list of whole numbers of days")
    return value


Strings = Annotated[tuple[str, ...], BeforeValidator(_text_or_list)]
BoardValue = Annotated[str, BeforeValidator(_board_value)]
BoardValues = dict[str, BoardValue]


class Section(BaseModel):
    """Every section: unknown keys refused, types taken as written."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LabelSchema(Section):
    name: Annotated[str, Field(max_length=50)]
    color: str = "ededed"
    description: str = ""

    @field_validator("color")
    @classmethod
    def _six_hex_digits(cls, color: str) -> str:
        if not re.fullmatch(r"#?[0-9a-fA-F]{6}", color):
            raise ValueError(f"label colour {color!r} must be six hex digits")
        return color.lstrip("#")


Label = Annotated[LabelSchema, BeforeValidator(_label)]


class MatchSchema(Section):
    labels: Strings = ()
    title_prefix: str | None = None
    headings: Strings = ()


class FieldSchema(Section):
    heading: str
    type: str = "text"
    required: bool = False
    choices: Strings = ()

    @field_validator("type")
    @classmethod
    def _known_type(cls, kind: str) -> str:
        if kind not in FIELD_TYPES:
            raise ValueError(f"field type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
        return kind


class CommentSchema(Section):
    template: str


class BoardSchema(Section):
    owner: str
    number: int
    on_open: BoardValues = {}
    on_close: BoardValues = {}
    on_close_not_planned: BoardValues = {}
    on_reopen: BoardValues = {}
    on_first_ticked: BoardValues = {}
    on_all_ticked: BoardValues = {}


class ReminderSchema(Section):
    field: str
    days_before: Annotated[list[int], BeforeValidator(_whole_days)]
    template: str


class MissingSchema(Section):
    label: Label | None = None
    per_field_label: Label | None = None


class BacklinkSchema(Section):
    workflow: str
    field: str


class WorkflowSchema(Section):
    """One file of ``workflow-config/``: a workflow."""

    workflow: str | None = None
    title: str | None = None
    enabled: bool = True
    match: MatchSchema
    fields: dict[str, FieldSchema] = {}
    labels: list[Label] = []
    comment: CommentSchema | None = None
    board: BoardSchema | None = None
    notify: Strings = ()
    assignees: Strings = ()
    reminders: list[ReminderSchema] = []
    missing: MissingSchema | None = None
    community_field: str | None = None
    links_to: Strings = ()
    backlinks: dict[str, BacklinkSchema] = {}
    roles: dict[str, str] = {}
    command_labels: Strings = ()
    link_fields: Strings = ()


class CommandsSchema(Section):
    permissions: dict[str, str] = {}
    aliases: dict[str, str] = {}
    disabled: Strings = ()
    ignore: Strings | None = None
    labels: Strings = ()
    representatives_field: str = "representatives"
    representatives_team: str | None = None
    registry_repo: str | None = None
    initiative_workflow: str = "initiative"
    offboard_workflow: str = "offboarding"
    status_field: str = "Status"


class SharedNeedLabelSchema(Section):
    name: str
    color: str = "0e8a16"
    description: str = ""


class SharedNeedBoardSchema(Section):
    owner: str
    number: int
    fields: BoardValues = {}


class SharedNeedSchema(Section):
    min_communities: int = 3
    label: SharedNeedLabelSchema | None = None
    board: SharedNeedBoardSchema | None = None
    private_on_board: bool = False

    @field_validator("min_communities")
    @classmethod
    def _shared_by_two(cls, minimum: int) -> int:
        if minimum < 2:
            raise ValueError("a need is shared by 2 communities or more")
        return minimum


Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class LinkingSchema(Section):
    enabled: bool = True
    threshold: Share = 0.25
    meaning_threshold: Share = 0.45
    suggest_threshold: Share = 0.25
    suggestions: Count = 3
    label_weight: Share = 0.1
    workflow_weight: Share = 0.05
    max_links: Count = 5
    closed_within_days: Count = 180
    thesaurus: dict[str, Strings] = {}
    shared_need: SharedNeedSchema = SharedNeedSchema()


class GlobalSchema(Section):
    """``flywheel.yaml``: what holds for every workflow."""

    templates: str | None = None
    reminder_interval_minutes: Count = 60
    redeliver_interval_minutes: Count = 0
    redeliver_window_hours: Annotated[int, Field(ge=1, le=72)] = 6
    help_footer: str = ""
    ignore_bots: bool = True
    dashboard_shows_private: bool = False
    commands: CommandsSchema = CommandsSchema()
    linking: LinkingSchema = LinkingSchema()
