"""Issue forms checked against GitHub's own form syntax, as SchemaStore publishes it.

A typo such as ``atributes:`` or a dropdown without ``options`` makes GitHub fall back to a
blank issue, and nobody notices until requests arrive without their facts. The schema
(``schemas/github-issue-forms.json``, SchemaStore, Apache-2.0; the copy check-jsonschema
vendors, SHA-256 c2722dbf…) is checked by ``jsonschema``; every problem is reported with the
form's file and line.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from . import yamlmarks

SCHEMA = Path(__file__).resolve().parent / "schemas" / "github-issue-forms.json"


@lru_cache(maxsize=1)
def validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def problems(text: str) -> list[tuple[int, str]]:
    """(line, reason) for each way the form breaks GitHub's syntax, in line order."""
    try:
        form = yamlmarks.load(text)
    except Exception:  # YAML errors are reported by the caller, with their own line
        return []
    if not isinstance(form, dict) or "body" not in form:
        return []
    found = []
    for error in validator().iter_errors(_plain(form)):
        found.append((_line(form, error), _reason(error)))
    return sorted(set(found))


def _plain(value: Any) -> Any:
    """MarkedDict/MarkedList → dict/list: the validator checks types exactly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _line(form: Any, error: ValidationError) -> int:
    """The line of the key the error is about; for a missing key, the line of the mapping's
    own key in its parent (``attributes:``), where a reader looks for it."""
    parent, container, key = None, form, None
    last: Any = None
    for step in error.absolute_path:
        try:
            nxt = container[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(nxt, dict | list):
            parent, container, last, key = container, nxt, step, None
        else:
            key = step
            break
    if error.validator == "additionalProperties" and isinstance(container, dict):
        extra = [k for k in container if k not in (error.schema.get("properties") or {})]
        if extra:
            return yamlmarks.line_of(container, extra[0])
    if error.validator == "required" and parent is not None and key is None:
        return yamlmarks.line_of(parent, last)
    return yamlmarks.line_of(container, key)


def _reason(error: ValidationError) -> str:
    where = ".".join(str(step) for step in error.absolute_path) or "the form"
    if error.validator == "additionalProperties":
        message = error.message.replace("Additional properties are not allowed ", "")
        message = message.replace(" was unexpected", " is not a key GitHub knows")
        return f"{where}: {message.replace(' were unexpected', ' are not keys GitHub knows')}"
    if error.validator == "required":
        return f"{where}: {error.message.replace('is a required property', 'is required')}"
    return f"{where}: {error.message[:200]}"
