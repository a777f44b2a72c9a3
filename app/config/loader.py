"""Loads ``workflow-config/``: one YAML file a workflow, plus ``flywheel.yaml``.

Validation is strict and happens before anything runs. The shapes and types are declared
in ``schema.py``; what spans keys (a placeholder names a field of this workflow, a reminder
reads a date field, a backlink's field is a reference) is checked here. Every problem of
every file is reported in one ``ConfigErrors``, each with its file, line and key path.
Adding a workflow is a YAML file and a template; no Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from . import yamlmarks
from .build import GlobalBuilder, WorkflowBuilder
from .errors import ConfigError, from_validation, raise_all
from .model import COMMAND_TEMPLATES, GLOBAL_FILE, Config, GlobalConfig, Workflow
from .schema import GlobalSchema, WorkflowSchema
from .templates import template_problems

M = TypeVar("M", bound=BaseModel)


def _read_yaml(path: Path, errors: list[ConfigError]) -> Any:
    try:
        return yamlmarks.load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        errors.append(ConfigError(path.name, line, f"not valid YAML: {exc.problem or exc}"))
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        errors.append(ConfigError(path.name, 0, f"not valid YAML: {exc}"))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(ConfigError(path.name, 0, f"cannot be read: {exc}"))
    return None


def _validated(
    file: str, data: Any, schema: type[M], kind: str, errors: list[ConfigError]
) -> M | None:
    if data is None:
        data = yamlmarks.MarkedDict()
    if not isinstance(data, dict):
        errors.append(ConfigError(file, yamlmarks.line_of(data), f"{kind} must be a mapping"))
        return None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors.extend(from_validation(file, data, exc, kind, schema))
        return None


def _load_global(path: Path, directory: Path, errors: list[ConfigError]) -> GlobalConfig:
    default_templates = directory.parent / "templates"
    if not path.exists():
        return GlobalConfig(templates_dir=default_templates)
    data = _read_yaml(path, errors)
    read = _validated(path.name, data, GlobalSchema, "flywheel.yaml", errors)
    if read is None:
        return GlobalConfig(templates_dir=default_templates)
    return GlobalBuilder(path.name, data, errors).build(read, directory, default_templates)


def _load_workflow(
    path: Path, templates_dir: Path, errors: list[ConfigError]
) -> tuple[Workflow, Any] | None:
    data = _read_yaml(path, errors)
    if data is None and errors and errors[-1].file == path.name:
        return None
    read = _validated(path.name, data, WorkflowSchema, "a workflow", errors)
    if read is None:
        return None
    builder = WorkflowBuilder(path.name, data, errors, templates_dir)
    return builder.build(read, path.stem), data


def load_config(directory: Path | str, extra_files: list[Path] | None = None) -> Config:
    """Load every workflow in a folder (and extra files); ConfigError(s) naming every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(str(directory), 0, "the workflow-config folder does not exist")
    errors: list[ConfigError] = []
    settings = _load_global(directory / GLOBAL_FILE, directory, errors)
    files = sorted(
        p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.name != GLOBAL_FILE
    )
    files += list(extra_files or [])
    workflows: dict[str, Workflow] = {}
    broken: set[str] = set()  # files refused above: not "missing" to the others
    for path in files:
        loaded = _load_workflow(path, settings.templates_dir, errors)
        if loaded is None:
            broken.add(path.stem)
            continue
        workflow, data = loaded
        if workflow.id in workflows:
            errors.append(
                ConfigError(
                    path.name,
                    yamlmarks.line_of(data, "workflow"),
                    f"workflow {workflow.id!r} is already defined in "
                    f"{workflows[workflow.id].source}",
                )
            )
            continue
        workflows[workflow.id] = workflow
    errors += _cross_workflow_problems(workflows, broken)
    if settings.templates_dir.is_dir():
        errors += template_problems(settings.templates_dir, _template_names(workflows))
    raise_all(errors)
    return Config(workflows=workflows, settings=settings, directory=directory)


def _cross_workflow_problems(workflows: dict[str, Workflow], broken: set[str]) -> list[ConfigError]:
    problems = []
    for workflow in workflows.values():
        problem: Callable[[str], ConfigError] = lambda reason, w=workflow: ConfigError(  # noqa: E731
            w.source, 0, reason
        )
        for other in workflow.links_to:
            if other not in workflows and other not in broken:
                problems.append(problem(f"links_to names {other!r}, which is not a workflow"))
        for link in workflow.backlinks:
            target = workflows.get(link.workflow)
            spec = target.field(link.field) if target else None
            if link.workflow in broken:
                continue
            if spec is None or spec.type != "ref":
                problems.append(
                    problem(
                        f"backlink {link.name!r} needs a field of type ref: "
                        f"{link.workflow}.{link.field} is not one"
                    )
                )
    return problems


def _template_names(workflows: dict[str, Workflow]) -> set[str]:
    names = {w.template for w in workflows.values() if w.template}
    names |= {r.template for w in workflows.values() for r in w.reminders}
    return names | set(COMMAND_TEMPLATES)  # the configured folder's, or else the shipped ones
