"""The slash-command grammar: which lines of a comment are commands, and their arguments.

A command is a line that starts with ``/name`` (after at most three spaces),
outside fenced code, indented code, ``>`` quotes and HTML comments, so that
quoting someone's command or showing it in a code block never runs it.
Arguments are words, ``@user`` mentions, issue references and quoted strings
(``"…"`` or typographic ``“…”``, which phones type). Text around commands is
ignored. The parser never raises: any text gives a (possibly empty) list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..config.commands import CommandSpec

_COMMAND = re.compile(r"^ {0,3}/(?P<name>[A-Za-z][A-Za-z0-9_-]{0,39})(?:[ \t]+(?P<args>.*))?$")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings, and no others
_INDENTED = re.compile(r"^(?: {4,}|\t)")
_QUOTE = re.compile(r"^ {0,3}>")
# A quoted argument (escapes \" and \\ inside), a typographic one, or a bare word.
_TOKEN = re.compile(r'"(?P<q>(?:[^"\\]|\\.)*)(?:"|$)|“(?P<t>[^”]*)(?:”|$)|(?P<w>[^\s]+)', re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)
QUOTES = '"“'


@dataclass(frozen=True)
class Command:
    name: str  # lower case
    args: tuple[str, ...] = ()
    line: int = 0  # 1-based line of the comment it was on

    def text(self) -> str:
        """The command written back in canonical form: parsing it gives this command again."""
        return " ".join(["/" + self.name, *(quote(arg) for arg in self.args)])

    def same(self, other: Command) -> bool:
        return (self.name, self.args) == (other.name, other.args)


def quote(arg: str) -> str:
    """An argument as it must be typed so that it reads back unchanged."""
    if arg and arg[0] not in QUOTES and not any(ch.isspace() for ch in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_args(text: str) -> tuple[str, ...]:
    """Words and quoted strings, in order; an unclosed quote runs to the end of the line."""
    args = []
    for match in _TOKEN.finditer(text):
        if match.group("q") is not None:
            args.append(_ESCAPE.sub(r"\1", match.group("q")))
        elif match.group("t") is not None:
            args.append(match.group("t"))
        else:
            args.append(match.group("w"))
    return tuple(args)


def parse(body: str | None) -> list[Command]:
    """Every command in a comment, in order."""
    commands: list[Command] = []
    fence: str | None = None
    in_html_comment = False
    previous_blank = True
    # Lines as GitHub's markdown sees them: str.splitlines would also split at U+2028, \x1c,
    # \x85…, which GitHub shows inside one line, so "/label "x<U+2028>/close"" would hide a
    # /close in what a reader sees as one command's argument.
    for number, line in enumerate(_LINE_BREAK.split(body or ""), start=1):
        if fence is not None:
            if _closes(fence, line):
                fence = None
            continue
        if in_html_comment:
            in_html_comment = "-->" not in line
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group("fence")
            continue
        if "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            in_html_comment = True
            continue
        blank = not line.strip()
        # Indented code starts only after a blank line; inside a paragraph it is just indent.
        indented_code = previous_blank and _INDENTED.match(line) is not None
        previous_blank = blank if not indented_code else previous_blank
        if indented_code or _QUOTE.match(line):
            continue
        found = _COMMAND.match(line)
        if found:
            name = found.group("name").lower()
            commands.append(Command(name, split_args(found.group("args") or ""), number))
    return commands


def _closes(fence: str, line: str) -> bool:
    """A closing fence: the same character, at least as long, nothing after it."""
    closing = _FENCE.match(line)
    if closing is None:
        return False
    marks = closing.group("fence")
    return marks[0] == fence[0] and len(marks) >= len(fence) and not line[closing.end() :].strip()


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known command a mistyped name most likely meant, if any is close."""
    matches = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.65)
    return matches[0] if matches else None


def arity_ok(spec: CommandSpec, command: Command) -> bool:
    count = len(command.args)
    return count >= spec.min_args and (spec.max_args is None or count <= spec.max_args)


def split_for(args: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """``test endorse for hypatia`` → (("test", "endorse"), "hypatia")."""
    if len(args) >= 2 and args[-2].lower() == "for":
        return args[:-2], args[-1]
    return args, None
