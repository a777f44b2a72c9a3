"""``flywheel setup``: from zero to working labels and boards, shown first, applied on request.

It reads the config for the labels every workflow applies and the board
fields (and single-select options) its rules set, compares them with what the
organisation has, and creates what is missing. Options missing from an
existing single-select field are only reported: the API can add them only by
replacing every option, which would wipe that field on every item.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..config.labels import LabelSpec
from ..config.model import Config, Workflow, fill, placeholders
from ..github import projects
from ..github.client import GitHubClient

OPTION_COLORS = ("GRAY", "BLUE", "GREEN", "YELLOW", "ORANGE", "RED", "PINK", "PURPLE")


def wanted_labels(config: Config) -> list[LabelSpec]:
    """Labels with fixed names (placeholder ones, like ``community: {community}``, come later)."""
    found: dict[str, LabelSpec] = {}
    for workflow in config.enabled():
        for rule in workflow.labels:
            if not rule.placeholders():
                found.setdefault(
                    rule.name.lower(), LabelSpec(rule.name, rule.color, rule.description)
                )
        if workflow.missing.label is not None:
            rule = workflow.missing.label
            found.setdefault(rule.name.lower(), LabelSpec(rule.name, rule.color, rule.description))
        per_field = workflow.missing.per_field_label
        if per_field is not None:
            for spec in workflow.fields:
                if spec.required:
                    name = fill(per_field.name, {"field": spec.id}) or ""
                    description = fill(per_field.description, {"field": spec.heading}) or ""
                    found.setdefault(name.lower(), LabelSpec(name, per_field.color, description))
    linking = config.settings.linking
    if linking.enabled:
        found.setdefault(linking.shared_need.label.name.lower(), linking.shared_need.label)
    return sorted(found.values(), key=lambda spec: spec.name.lower())


@dataclass
class FieldNeed:
    name: str
    data_type: str  # SINGLE_SELECT, TEXT, DATE or NUMBER
    options: list[str] = field(default_factory=list)


def _value_type(workflow: Workflow, value: str) -> tuple[str, str | None]:
    """(data type, constant option or None) for a rule's value: a constant or a {field}."""
    names = placeholders(value)
    if not names:
        return "SINGLE_SELECT", value
    spec = workflow.field(names[0])
    kind = spec.type if spec else "text"
    return {"date": "DATE", "number": "NUMBER"}.get(kind, "TEXT"), None


def wanted_fields(config: Config) -> dict[tuple[str, int], dict[str, FieldNeed]]:
    """Per board: every field a rule sets, with the type and options the rules need."""
    boards: dict[tuple[str, int], dict[str, FieldNeed]] = {}
    for workflow in config.enabled():
        board = workflow.board
        if board is None:
            continue
        needs = boards.setdefault((board.owner, board.number), {})
        for name, value in board.all_rules():
            data_type, option = _value_type(workflow, value)
            need = needs.setdefault(name.lower(), FieldNeed(name, data_type))
            if option and option.lower() not in {o.lower() for o in need.options}:
                need.options.append(option)
    shared = config.settings.linking.shared_need
    if config.settings.linking.enabled and shared.board_owner and shared.board_number:
        needs = boards.setdefault((shared.board_owner, shared.board_number), {})
        for name, value in shared.board_fields:
            need = needs.setdefault(name.lower(), FieldNeed(name, "SINGLE_SELECT"))
            if value.lower() not in {o.lower() for o in need.options}:
                need.options.append(value)
    return boards


@dataclass
class Step:
    description: str
    run: Callable[[], Awaitable[None]] | None  # None: a person must do it (said why)


@dataclass
class SetupPlan:
    steps: list[Step] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    @property
    def todo(self) -> list[Step]:
        return [s for s in self.steps if s.run is not None]

    @property
    def manual(self) -> list[Step]:
        return [s for s in self.steps if s.run is None]


async def plan_labels(gh: GitHubClient, config: Config, repos: list[str], plan: SetupPlan) -> None:
    wanted = wanted_labels(config)
    for repo in repos:
        have = {
            label["name"].lower()
            async for label in gh.getiter(f"/repos/{repo}/labels?per_page=100")
        }
        for spec in wanted:
            if spec.name.lower() in have:
                plan.present.append(f"label {spec.name!r} in {repo}")
                continue

            async def create(repo: str = repo, spec: LabelSpec = spec) -> None:
                await gh.post(
                    f"/repos/{repo}/labels",
                    data={
                        "name": spec.name,
                        "color": spec.color,
                        "description": spec.description[:100],
                    },
                )

            plan.steps.append(Step(f"create label {spec.name!r} (#{spec.color}) in {repo}", create))


async def plan_boards(gh: GitHubClient, config: Config, plan: SetupPlan) -> None:
    for (owner, number), needs in sorted(wanted_fields(config).items()):
        data = await gh.graphql_data(projects.PROJECT_FIELDS, owner=owner, number=number)
        board = projects.parse_board(owner, number, data)
        if board is None:
            plan.steps.append(
                Step(
                    f"board {owner}/{number} does not exist or the App cannot see it: create it "
                    "(or fix the number in the config) and give the App Organization projects "
                    "access",
                    None,
                )
            )
            continue
        for need in needs.values():
            existing = board.field(need.name)
            where = f"board {owner}/{number} ({board.title})"
            if existing is None:
                plan.steps.append(
                    Step(
                        f"create field {need.name!r} ({need.data_type}"
                        + (f": {', '.join(need.options)}" if need.options else "")
                        + f") on {where}",
                        _field_creator(gh, board.id, need),
                    )
                )
                continue
            if need.data_type == "SINGLE_SELECT" and existing.data_type == "SINGLE_SELECT":
                missing = [o for o in need.options if o.lower() not in existing.options]
                if missing:
                    plan.steps.append(
                        Step(
                            f"field {existing.name!r} on {where} lacks option(s) "
                            f"{', '.join(missing)}: add them in the board's settings (the API "
                            "can only replace every option, which would clear this field on "
                            "every item)",
                            None,
                        )
                    )
                    continue
            plan.present.append(f"field {existing.name!r} on {where}")


def _field_creator(
    gh: GitHubClient, project_id: str, need: FieldNeed
) -> Callable[[], Awaitable[None]]:
    async def create() -> None:
        spec: dict[str, object] = {
            "projectId": project_id,
            "dataType": need.data_type,
            "name": need.name,
        }
        if need.data_type == "SINGLE_SELECT":
            spec["singleSelectOptions"] = [
                {"name": option, "color": OPTION_COLORS[i % len(OPTION_COLORS)], "description": ""}
                for i, option in enumerate(need.options)
            ]
        await gh.graphql_data(projects.CREATE_FIELD, input=spec)

    return create


async def make_plan(gh: GitHubClient, config: Config, repos: list[str]) -> SetupPlan:
    plan = SetupPlan()
    await plan_labels(gh, config, repos, plan)
    await plan_boards(gh, config, plan)
    return plan
