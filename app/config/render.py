"""Renders every comment Flywheel writes from ``templates/``, with people's text made harmless.

Every value a template prints passes through ``finalize``: HTML is escaped
(so ``-->`` cannot close our marker), ``@`` cannot start a mention, a line
cannot start a slash command, markdown link syntax is inert and very long
values are cut. Text the team wrote in config (a team to notify) is passed as
``Markup`` and printed as is. Templates run in Jinja's sandbox; values are
only ever data, never template source.

A macro's output has been through ``finalize`` already, so templates print it
with ``|safe`` (``{{ m.footer(footer)|safe }}``); ``check-config`` refuses a
macro call without it, which would escape people's text twice.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from ..settings import shipped

MAX_VALUE_CHARS = 2000
# Zero-width and direction-control characters: they hide a mention or a command
# from a reader (and from us) and reorder what the reader sees ("Trojan Source").
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_COMMAND_LINE = re.compile(r"(?m)^(\s*)/")
_WORD_JOINER = "\u2060"


def neutralise(value: Any) -> Markup:
    """A person's text, safe to place in a comment.

    >>> str(neutralise("@org/team please <b>look</b>"))
    '@\\u2060org/team please &lt;b&gt;look&lt;/b&gt;'
    """
    # Every line break a reader (or a command parser) sees becomes "\n", so that the
    # command-line guard below sees every line start ("\r/close" is a line too).
    text = "\n".join(_INVISIBLE.sub("", str(value)).splitlines())
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + " … (cut)"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = (
        text.replace("[", "&#91;")
        .replace("]", "&#93;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )
    text = _MENTION.sub("@" + _WORD_JOINER, text)
    text = _COMMAND_LINE.sub(lambda m: m.group(1) + _WORD_JOINER + "/", text)
    return Markup(text)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return neutralise(value)


def _oneline(value: Any) -> Any:
    """For GFM table cells: a newline ends the row and a bare ``|`` starts a new cell (even in
    a code span), so text is put on one line and its pipes escaped, ours and people's alike."""
    text = value if isinstance(value, Markup) else neutralise(value)
    return Markup(" ".join(str(text).split()).replace("\\|", "|").replace("|", "\\|"))


SHIPPED_TEMPLATES = shipped("templates")


class Renderer:
    """Templates from the configured folder; what it lacks (command replies) from ours."""

    def __init__(self, templates_dir: Path) -> None:
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.FileSystemLoader(str(templates_dir)),
                    jinja2.FileSystemLoader(str(SHIPPED_TEMPLATES)),
                ]
            ),
            autoescape=False,  # finalize does markdown-aware escaping instead
            finalize=_finalize,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["oneline"] = _oneline

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context).strip() + "\n"


@lru_cache(maxsize=8)
def renderer_for(templates_dir: Path) -> Renderer:
    """One renderer (and so one compiled-template cache) per templates folder."""
    return Renderer(templates_dir)


def trusted(text: str) -> Markup:
    """Text from config (not from people), printed as written."""
    return Markup(text)
