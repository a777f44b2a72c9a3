"""Config errors as people need them: the file, the line, the key path and the reason, all at once.

pydantic reports every problem of a file with its location as a key path; the YAML loader
(``yamlmarks``) remembers the line of every key and list item. Together they say
``onboarding.yaml:12: fields.community.type: field type 'colour' is not one of …`` for each
problem, so one run of ``flywheel check-config`` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from . import yamlmarks

_SINGULAR = {"labels": "a label", "reminders": "a reminder"}
_TYPE_WORDS = {
    "int": "a number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "list": "a list",
    "tuple": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
}


class ConfigError(Exception):
    """One problem: where it is and why it is refused."""

    def __init__(self, file: str, line: int, reason: str, path: str = "") -> None:
        # The key path follows the reason where it says more than the key the reason quotes.
        where = f" (at {path})" if "." in path else ""
        super().__init__(f"{file}:{line}: {reason}{where}")
        self.file, self.line, self.reason, self.path = file, line, reason, path


class ConfigErrors(ConfigError):
    """Every problem found in one load; behaves as the first for code that wants only one."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.line, first.reason, first.path)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(Exception.__str__(e)) for e in self.errors)


def raise_all(errors: Iterable[ConfigError]) -> None:
    found = sorted(errors, key=lambda e: (e.file, e.line))
    if len(found) == 1:
        raise found[0]
    if found:
        raise ConfigErrors(found)


def _container(data: Any, loc: Sequence[str | int]) -> Any:
    """The YAML mapping or list holding the last key of ``loc`` (or the deepest one that exists)."""
    for key in loc[:-1]:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            break
    return data


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The schema model whose keys the location's last mapping holds (for "known: …")."""
    current: Any = model
    for key in loc:
        if isinstance(key, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(key)
        if field is None:
            continue  # a free key of a dict (a field id, a role): its model is the value's
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or getattr(annotation, "__metadata__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _inner_model(origin) if origin is not None and origin is not annotation else None


def _where(loc: Sequence[str | int], kind: str) -> str:
    """How a message names the section that holds a key: ``board``, ``field 'start'``, …"""
    if not loc:
        return kind
    last = loc[-1]
    if isinstance(last, int):
        parent = loc[-2] if len(loc) > 1 else ""
        return _SINGULAR.get(str(parent), f"an item of {parent!r}")
    if len(loc) > 1 and loc[-2] == "fields":
        return f"field {last!r}"
    if len(loc) > 1 and loc[-2] == "backlinks":
        return f"backlink {last!r}"
    return str(last)


def _reason(error: Any, loc: Sequence[str | int], kind: str, schema: type[BaseModel]) -> str:
    key = loc[-1] if loc else ""
    name = repr(key) if isinstance(key, str) else "this item"
    kind_of = error["type"]
    if kind_of == "missing":
        return f"{_where(loc[:-1], kind)} needs {key!r}"
    if kind_of == "extra_forbidden":
        model = _model_at(schema, loc[:-1])
        known = ", ".join(sorted(model.model_fields)) if model else ""
        return f"unknown key {key!r} in {_where(loc[:-1], kind)} (known: {known})"
    if kind_of == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{name} {message}" if message.startswith("must ") else message
    if kind_of in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return _range_reason(name, error, schema, loc)
    if kind_of == "string_too_long":
        return f"{name} is at most {error['ctx']['max_length']} characters"
    for prefix, words in _TYPE_WORDS.items():
        if kind_of in {f"{prefix}_type", f"{prefix}_parsing"}:
            return f"{name} must be {words}"
    return f"{name}: {error['msg']}"


def _range_reason(name: str, error: Any, schema: type[BaseModel], loc: Sequence[Any]) -> str:
    model = _model_at(schema, loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model else None
    low = high = None
    for rule in getattr(field, "metadata", ()):
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    if low is not None and high is not None:
        return f"{name} must be between {low:g} and {high:g}"
    if low is not None:
        return f"{name} must be {low:g} or more"
    return f"{name} must be {high:g} or less"


def from_validation(
    file: str, data: Any, exc: ValidationError, kind: str, schema: type[BaseModel]
) -> list[ConfigError]:
    """Each of pydantic's errors as a ConfigError with the line the YAML gave it."""
    found = []
    seen: set[tuple[Any, ...]] = set()
    for error in exc.errors(include_url=False):
        loc = _keys(data, error["loc"])
        if loc in seen:
            continue  # a union reports once per member; one reason is enough
        seen.add(loc)
        container = _container(data, loc)
        if error["type"] == "missing":  # the mapping that lacks the key
            line = yamlmarks.line_of(container)
        else:
            line = yamlmarks.line_of(container, loc[-1] if loc else None)
        path = ".".join(str(p) for p in loc)
        found.append(ConfigError(file, line, _reason(error, loc, kind, schema), path))
    return found


def _keys(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """The location as keys of the YAML: pydantic also names union members and validators
    (``tuple[str, ...]``, ``function-before[…]``, ``str``) as steps, which no file holds."""
    keys: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and "[" in part:
            continue
        here = _container(data, [*keys, part])
        holds = isinstance(here, dict) and part in here
        if part in {"str", "int", "float", "bool", "none"} and not holds:
            continue
        keys.append(part)
    return tuple(keys)
