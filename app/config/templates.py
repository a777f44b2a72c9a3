"""Every template compiled at load time, so a syntax error stops start-up with its line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import jinja2

from .errors import ConfigError
from .render import Renderer

_MACRO_CALL = re.compile(r"\{\{-?\s*[A-Za-z_][\w.]*\(.*?\}\}")  # {{ m.footer(footer) }}


def template_problems(templates_dir: Path, names: Iterable[str]) -> list[ConfigError]:
    """What is wrong with the templates the config names, and the macros beside them."""
    env = Renderer(templates_dir).env  # the filters templates may use, as at render time
    wanted = set(names) | {n for n in env.list_templates() if n.startswith("_")}  # macros
    problems = []
    for name in sorted(wanted):
        try:
            env.get_template(name)
        except jinja2.TemplateNotFound:
            continue  # named by config: the workflow's own check said where
        except jinja2.TemplateSyntaxError as exc:
            problems.append(ConfigError(name, exc.lineno or 0, f"template syntax: {exc.message}"))
            continue
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        for number, line in enumerate(source.splitlines(), start=1):
            for call in _MACRO_CALL.finditer(line):
                if "|safe" not in call.group(0).replace(" ", ""):
                    problems.append(
                        ConfigError(
                            name,
                            number,
                            "a macro's output is already made safe inside the macro: "
                            "write {{ macro(...)|safe }}, or people's text is escaped twice",
                        )
                    )
    return problems
