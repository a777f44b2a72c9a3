"""The slash-command parser: examples, and properties over any text (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.slash.grammar import Command, closest, parse, quote, split_args

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/label bug", [("label", ("bug",))]),
        ("  /LABEL Bug", [("label", ("Bug",))]),
        ("Thanks!\n/assign @ada\nand /close in prose", [("assign", ("@ada",))]),
        ('/label "interested: hypatia" support', [("label", ("interested: hypatia", "support"))]),
        ("/label “co-funded: hypatia”", [("label", ("co-funded: hypatia",))]),
        (
            "/link example-org/hubs#3 https://github.com/o/r/issues/4",
            [("link", ("example-org/hubs#3", "https://github.com/o/r/issues/4"))],
        ),
        (
            "/join test endorse for hypatia\n/why",
            [("join", ("test", "endorse", "for", "hypatia")), ("why", ())],
        ),
        ("```\n/close\n```\n/reopen", [("reopen", ())]),
        ("~~~~\n/close\n~~~\n/close\n~~~~", []),  # a shorter fence does not close it
        ("> /close\n>/close", []),
        ("Text\n\n    /close", []),  # indented code
        ("<!--\n/close\n-->\n/why", [("why", ())]),
        ("/home/user/data is full", []),  # a path is not a command
        ("/ label x", []),
        ("", []),
    ],
)
def test_examples(body: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert [(c.name, c.args) for c in parse(body)] == expected


def test_unclosed_quote_runs_to_the_end_of_the_line() -> None:
    assert split_args('"needs review') == ("needs review",)
    assert split_args(r'"say \"hi\"" x') == ('say "hi"', "x")


def test_closest_names_a_known_command() -> None:
    known = ["label", "remove-label", "assign", "status", "join"]
    assert closest("lable", known) == "label"
    assert closest("asign", known) == "assign"
    assert closest("xyzzy", known) is None


@given(st.text())
@settings(max_examples=500)
def test_never_raises_and_round_trips(text: str) -> None:
    for command in parse(text):
        (again,) = parse(command.text())
        assert again.same(command)


ARG = st.text(st.characters(blacklist_characters=LINE_BREAKS), max_size=20)
NAME = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@given(NAME, st.lists(ARG, max_size=5))
def test_any_command_written_out_reads_back(name: str, args: list[str]) -> None:
    command = Command(name, tuple(args))
    (again,) = parse(command.text())
    assert again.same(command)
    assert all(quote(a) for a in args)


PROSE = st.text(st.characters(blacklist_characters=LINE_BREAKS + "/`~>< \t"), max_size=30)
BLOCK = st.one_of(
    st.tuples(st.just("command"), NAME, st.lists(NAME, max_size=3)),
    st.tuples(st.just("prose"), PROSE, st.just([])),
    st.tuples(st.just("fenced"), NAME, st.lists(NAME, max_size=3)),
    st.tuples(st.just("quoted"), NAME, st.lists(NAME, max_size=3)),
)


@given(st.lists(BLOCK, max_size=12))
def test_commands_in_code_or_quotes_are_never_found(
    blocks: list[tuple[str, str, list[str]]],
) -> None:
    lines, expected = [], []
    for kind, name, args in blocks:
        text = " ".join(["/" + name, *args])
        if kind == "command":
            lines.append(text)
            expected.append((name, tuple(args)))
        elif kind == "prose":
            lines.append(name)
        elif kind == "fenced":
            lines += ["```text", text, "```"]
        else:
            lines.append("> " + text)
    assert [(c.name, c.args) for c in parse("\n".join(lines))] == expected


def test_only_markdown_line_endings_start_a_command() -> None:
    """GitHub shows U+2028, \x0b, \x1c, \x85 inside a line: no command may hide behind them."""
    for hidden in ("\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85"):
        assert [c.name for c in parse(f'/label "x{hidden}/close"')] == ["label"], repr(hidden)
    for ending in ("\n", "\r\n", "\r"):
        assert [c.name for c in parse(f"/label x{ending}/close")] == ["label", "close"]
