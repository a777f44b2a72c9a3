"""Projects (v2) GraphQL documents and the mapping of wanted field values to inputs.

Boards are addressed by owner login and number, fields and options by name:
names are what a team writes in config, ids are what GraphQL wants, and they
are resolved here, case-insensitively, at run time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

PROJECT_FIELDS = """
query FlywheelProjectFields($owner: String!, $number: Int!) {
  repositoryOwner(login: $owner) {
    ... on ProjectV2Owner {
      projectV2(number: $number) {
        id
        title
        fields(first: 100) {
          nodes {
            __typename
            ... on ProjectV2FieldCommon { id name dataType }
            ... on ProjectV2SingleSelectField { options { id name } }
            ... on ProjectV2IterationField {
              configuration { iterations { id title startDate duration } }
            }
          }
        }
      }
    }
  }
}
"""

# addProjectV2ItemById returns the existing item when the content is already on
# the board, so one call both ensures the item and reads its current values.
ITEM_FIELDS = """id
      fieldValues(first: 50) {
        nodes {
          __typename
          ... on ProjectV2ItemFieldSingleSelectValue { optionId field { ...FieldId } }
          ... on ProjectV2ItemFieldTextValue { text field { ...FieldId } }
          ... on ProjectV2ItemFieldNumberValue { number field { ...FieldId } }
          ... on ProjectV2ItemFieldDateValue { date field { ...FieldId } }
          ... on ProjectV2ItemFieldIterationValue { iterationId field { ...FieldId } }
        }
      }"""

ADD_ITEM = (
    """
mutation FlywheelAddItem($projectId: ID!, $contentId: ID!) {
  addProjectV2ItemById(input: {projectId: $projectId, contentId: $contentId}) {
    item {
      """
    + ITEM_FIELDS
    + """
    }
  }
}

fragment FieldId on ProjectV2FieldConfiguration {
  ... on ProjectV2FieldCommon { id }
}
"""
)

CREATE_FIELD = """
mutation FlywheelCreateField($input: CreateProjectV2FieldInput!) {
  createProjectV2Field(input: $input) {
    projectV2Field { ... on ProjectV2FieldCommon { id name } }
  }
}
"""


def set_fields_document(updates: int, clears: int) -> str:
    """One mutation setting every changed field: aliases u0…, c0… run in order.

    GraphQL cannot loop, so the document is generated with as many aliased
    mutations as there are fields to change; values travel as variables.
    """
    params = [f"$u{i}: UpdateProjectV2ItemFieldValueInput!" for i in range(updates)]
    params += [f"$c{i}: ClearProjectV2ItemFieldValueInput!" for i in range(clears)]
    body = [
        f"  u{i}: updateProjectV2ItemFieldValue(input: $u{i}) {{ projectV2Item {{ id }} }}"
        for i in range(updates)
    ]
    body += [
        f"  c{i}: clearProjectV2ItemFieldValue(input: $c{i}) {{ projectV2Item {{ id }} }}"
        for i in range(clears)
    ]
    return "mutation FlywheelSetFields(" + ", ".join(params) + ") {\n" + "\n".join(body) + "\n}\n"


@dataclass(frozen=True)
class BoardField:
    id: str
    name: str
    data_type: str  # SINGLE_SELECT, TEXT, NUMBER, DATE, ITERATION, or a built-in type
    options: Mapping[str, str] = field(default_factory=dict)  # lower-cased name → id
    option_names: tuple[str, ...] = ()
    iterations: tuple[tuple[str, str, str, int], ...] = ()  # (id, title, start, days)


@dataclass(frozen=True)
class Board:
    id: str
    title: str
    owner: str
    number: int
    fields: Mapping[str, BoardField]  # lower-cased name → field

    def field(self, name: str) -> BoardField | None:
        return self.fields.get(name.strip().lower())


def parse_board(owner: str, number: int, data: Mapping[str, Any]) -> Board | None:
    project = ((data.get("repositoryOwner") or {}).get("projectV2")) or None
    if not project:
        return None
    fields: dict[str, BoardField] = {}
    for node in (project.get("fields") or {}).get("nodes") or []:
        if not node or "id" not in node:
            continue
        options = node.get("options") or []
        iterations = ((node.get("configuration") or {}).get("iterations")) or []
        fields[node["name"].lower()] = BoardField(
            id=node["id"],
            name=node["name"],
            data_type=node.get("dataType", ""),
            options={o["name"].lower(): o["id"] for o in options},
            option_names=tuple(o["name"] for o in options),
            iterations=tuple(
                (i["id"], i["title"], i.get("startDate", ""), int(i.get("duration") or 14))
                for i in iterations
            ),
        )
    return Board(project["id"], project.get("title", ""), owner, number, fields)


def option_name(board_field: BoardField | None, values: Mapping[str, Any]) -> str | None:
    """The option a single-select field holds among ``values`` (field id → input), by name."""
    if board_field is None:
        return None
    option_id = (values.get(board_field.id) or {}).get("singleSelectOptionId")
    names = {board_field.options.get(name.lower()): name for name in board_field.option_names}
    return names.get(option_id) if option_id else None


def current_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """Field id → the item's present value, in the same shape `field_input` produces."""
    values: dict[str, Any] = {}
    for node in (item.get("fieldValues") or {}).get("nodes") or []:
        if not node:
            continue
        field_id = (node.get("field") or {}).get("id")
        if not field_id:
            continue
        for key, input_key in (
            ("optionId", "singleSelectOptionId"),
            ("text", "text"),
            ("number", "number"),
            ("date", "date"),
            ("iterationId", "iterationId"),
        ):
            if key in node and node[key] is not None:
                values[field_id] = {input_key: node[key]}
    return values


class FieldValueError(ValueError):
    """A configured value cannot go into this board field; the message says why."""


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def field_input(board_field: BoardField, value: Any, today: date | None = None) -> dict[str, Any]:
    """The ``ProjectV2FieldValue`` for a wanted value, or FieldValueError."""
    text = str(value).strip()
    kind = board_field.data_type
    if kind == "SINGLE_SELECT":
        option = board_field.options.get(text.lower())
        if option is None:
            choices = ", ".join(board_field.option_names) or "none"
            raise FieldValueError(
                f"field {board_field.name!r} has no option {text!r} (options: {choices})"
            )
        return {"singleSelectOptionId": option}
    if kind == "NUMBER":
        if not _NUMBER.match(text):
            raise FieldValueError(f"field {board_field.name!r} needs a number, not {text!r}")
        return {"number": float(text)}
    if kind == "DATE":
        try:
            return {"date": date.fromisoformat(text[:10]).isoformat()}
        except ValueError:
            raise FieldValueError(
                f"field {board_field.name!r} needs a date (YYYY-MM-DD), not {text!r}"
            ) from None
    if kind == "ITERATION":
        return {"iterationId": _iteration_id(board_field, text, today or date.today())}
    if kind == "TEXT":
        return {"text": text}
    raise FieldValueError(f"field {board_field.name!r} ({kind}) cannot be set by Flywheel")


def _iteration_id(board_field: BoardField, text: str, today: date) -> str:
    if text.lower() in {"@current", "current"}:
        for iteration_id, _title, start, days in board_field.iterations:
            try:
                first = date.fromisoformat(start)
            except ValueError:
                continue
            if 0 <= (today - first).days < days:
                return iteration_id
        raise FieldValueError(f"field {board_field.name!r} has no iteration running today")
    for iteration_id, title, _start, _days in board_field.iterations:
        if title.lower() == text.lower():
            return iteration_id
    raise FieldValueError(f"field {board_field.name!r} has no iteration {text!r}")
