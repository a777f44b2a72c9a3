"""Workflows are data: strict validation with lines, and a fifth workflow from YAML alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config.errors import ConfigError, ConfigErrors
from app.config.formcheck import check_forms, workflow_of_form
from app.config.loader import load_config
from app.config.model import Config
from tests import payloads
from tests.conftest import ORG, REPO, ROOT
from tests.forms_render import FORMS, load_form
from tests.test_service_process import run_cli

EVENT_HUB = """
workflow: event-hub
title: Event hub
match:
  labels: ["event"]
fields:
  event_name: {heading: "Event name", required: true}
  community: {heading: "Community slug", type: slug, required: true}
  start: {heading: "Event start", type: date, required: true}
community_field: community
labels:
  - {name: event, color: "fbca04", description: "A short-lived hub for an event"}
  - {name: "community: {community}", color: "c5def5"}
comment:
  template: event-hub.md.j2
board:
  owner: example-org
  number: 1
  on_open: {Status: "Up Next", "Start date": "{start}"}
"""


def write_config(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    (folder / "flywheel.yaml").write_text(f"templates: {ROOT / 'templates'}\n")
    (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "match: {labels: [x]}\nfields:\n  a: {heading: A, type: colour}\n",
            3,
            "field type 'colour'",
        ),
        (
            "match: {labels: [x]}\ncomment: {template: nope.md.j2}\n",
            2,
            "template 'nope.md.j2' does not exist",
        ),
        (
            "match: {labels: [x]}\nboard:\n  owner: o\n  number: 1\n"
            "  on_open: {Status: a, status: b}\n",
            5,
            "named twice",
        ),
        ("match: {labels: [x]}\nlabels:\n  - {name: 'c: {nope}'}\n", 3, "{nope} is not a field"),
        ("match: {labels: [x]}\nboard: {owner: o, number: one}\n", 2, "'number' must be a number"),
        ("match: [\n", 2, "not valid YAML"),
        ("title: no match\n", 1, "a workflow needs 'match'"),
    ],
)
def test_bad_config_is_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    folder = write_config(tmp_path, "broken.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert caught.value.file == "broken.yaml"
    assert caught.value.line == line, str(caught.value)
    assert reason in caught.value.reason


async def test_a_fifth_workflow_needs_no_python(
    make_flywheel: Any, fake_url: str, fake: Any, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "event-hub.md.j2").write_text(
        "## Event hub: {{ values.event_name }}\n\n- [ ] Hub scaled up before {{ values.start }}\n"
    )
    folder = write_config(tmp_path, "event-hub.yaml", EVENT_HUB)
    (folder / "flywheel.yaml").write_text(f"templates: {templates}\n")
    config = load_config(folder)
    fake.add_board(ORG, 1, "Partnerships", {"Status": ["Up Next", "Done"], "Start date": "DATE"})
    flywheel = await make_flywheel(fake_url, config)
    body = (
        "### Event name\n\nOcean Hackweek\n\n### Community slug\n\noceanhackweek\n\n"
        "### Event start\n\n2027-08-02"
    )
    issue = fake.add_issue(REPO, "Event hub for Ocean Hackweek", body, labels=("event",))
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done"
    assert set(fake.issue(REPO, issue.number).labels) == {"event", "community: oceanhackweek"}
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "## Event hub: Ocean Hackweek" in comment["body"]
    assert fake.board_values(ORG, 1, issue.node_id) == {
        "Status": "Up Next",
        "Start date": "2027-08-02",
    }


def test_every_shipped_form_feeds_its_workflow_without_drift(config: Config) -> None:
    fed = set()
    for path in FORMS.glob("*.yml"):
        workflow, how = workflow_of_form(config, load_form(path.name))
        assert workflow is not None and how == "label", path.name
        fed.add(workflow.id)
    assert fed == {"onboarding", "offboarding", "initiative", "consortium"}
    assert check_forms(config, FORMS) == []


def test_check_config_reports_a_drifted_form_with_its_line(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    text = (FORMS / "onboarding.yml").read_text()
    text = text.replace("label: Hub URL", "label: Hub address")
    text = text.replace('"Azure", ', '"Azure", "OVH", ')
    (forms / "onboarding.yml").write_text(text)
    initiative = (FORMS / "initiative.yml").read_text()
    (forms / "initiative.yml").write_text(initiative.replace('labels: ["platform initiative"]', ""))
    result = run_cli("check-config", str(ROOT / "workflow-config"), "--forms", str(forms))
    assert result.returncode == 1
    err = result.stderr
    assert "onboarding.yml:1: workflow onboarding reads the heading 'Hub URL'" in err
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "OVH" in t)
    assert f"onboarding.yml:{line}: dropdown 'Cloud provider' offers 'OVH'" in err
    assert "initiative.yml:1: feeds workflow initiative (by headings) but does not apply" in err


def readme_commands_yaml() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Slash commands") :]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_commands_example_is_valid_config(tmp_path: Path) -> None:
    folder = write_config(
        tmp_path, "event-hub.yaml", EVENT_HUB.replace("comment:\n  template: event-hub.md.j2\n", "")
    )
    (folder / "flywheel.yaml").write_text(
        f"templates: {ROOT / 'templates'}\n" + readme_commands_yaml()
    )
    commands = load_config(folder).settings.commands
    assert commands.levels["label"] == "team:community-team"
    assert commands.resolve("unlabel") == "remove-label"
    assert commands.resolve("offboard") is None
    assert commands.representatives_team == "{community}-representatives"


@pytest.mark.parametrize(
    ("commands_yaml", "line", "reason"),
    [
        ("commands:\n  permissions: {lable: triage}\n", 2, "'lable' is not a command"),
        (
            "commands:\n  permissions:\n    label: wizard\n",
            3,
            "permission of /label must be one of",
        ),
        ("commands:\n  aliases: {l: nothing}\n", 2, "alias 'l' must name a command"),
        ("commands:\n  disabled: [teleport]\n", 2, "'teleport' is not a command"),
        ("commands:\n  representatives_team: reps\n", 2, "must contain {community}"),
        ("commands:\n  colour: blue\n", 2, "unknown key 'colour' in commands"),
        ("linking:\n  threshold: 3\n", 2, "'threshold' must be between 0 and 1"),
        ("linking:\n  threshold: high\n", 2, "'threshold' must be a number"),
        ("linking:\n  max_links: -1\n", 2, "'max_links' must be 0 or more"),
        ("linking:\n  thesaurus:\n    GPU: [cuda]\n", 3, "thesaurus group 'GPU'"),
        ("linking:\n  thesaurus:\n    gpu: {a: b}\n", 3, "must be text or a list of text"),
        ("linking:\n  shared_need: {min_communities: 1}\n", 2, "2 communities or more"),
        ("linking:\n  shared_need:\n    board: {owner: o}\n", 3, "board needs 'number'"),
    ],
)
def test_bad_command_config_names_the_line(
    tmp_path: Path, commands_yaml: str, line: int, reason: str
) -> None:
    folder = write_config(
        tmp_path, "event-hub.yaml", EVENT_HUB.replace("comment:\n  template: event-hub.md.j2\n", "")
    )
    (folder / "flywheel.yaml").write_text(f"templates: {ROOT / 'templates'}\n" + commands_yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert (caught.value.file, caught.value.line) == ("flywheel.yaml", line + 1)
    assert reason in caught.value.reason


def test_a_macro_printed_without_safe_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_macros.md.j2").write_text(
        "{% macro footer(t) %}<sub>{{ t }}</sub>{% endmacro %}"
    )
    (templates / "event-hub.md.j2").write_text(
        '{% import "_macros.md.j2" as m %}\nHello\n{{ m.footer(footer) }}\n'
    )
    folder = write_config(tmp_path, "event-hub.yaml", EVENT_HUB)
    (folder / "flywheel.yaml").write_text(f"templates: {templates}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert (caught.value.file, caught.value.line) == ("event-hub.md.j2", 3)


def test_every_problem_of_every_file_is_reported_in_one_run(tmp_path: Path) -> None:
    folder = write_config(
        tmp_path,
        "first.yaml",
        "match: {labels: [x]}\n"
        "fields:\n"
        "  a: {heading: A, type: colour}\n"
        "  b: {heading: B, requried: true}\n"
        "labels:\n"
        "  - {name: 'c: {nope}', color: blue}\n",
    )
    (folder / "second.yaml").write_text("match: {labels: [y]}\nboard: {owner: o, number: one}\n")
    (folder / "flywheel.yaml").write_text(
        f"templates: {ROOT / 'templates'}\nlinking:\n  threshold: 3\n  max_links: -1\n"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_config(folder)
    found = {(e.file, e.line, e.path) for e in caught.value.errors}
    assert found == {
        ("first.yaml", 3, "fields.a.type"),
        ("first.yaml", 4, "fields.b.requried"),
        ("first.yaml", 6, "labels.0.color"),
        ("second.yaml", 2, "board.number"),
        ("flywheel.yaml", 3, "linking.threshold"),
        ("flywheel.yaml", 4, "linking.max_links"),
    }
    reasons = " | ".join(e.reason for e in caught.value.errors)
    assert "unknown key 'requried' in field 'b' (known: choices, heading, required, type)" in (
        reasons
    )
    assert "label colour 'blue' must be six hex digits" in reasons
    # The placeholder check runs on what the schema accepted: it needs a valid label first.
    result = run_cli("check-config", str(folder), "--forms", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "configuration refused (6 problems)" in result.stderr
    assert "second.yaml:2: 'number' must be a number (at board.number)" in result.stderr


def test_one_problem_is_a_plain_config_error_with_its_key_path(tmp_path: Path) -> None:
    folder = write_config(tmp_path, "w.yaml", "match: {labels: [x]}\nroles: {Tester: 1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert not isinstance(caught.value, ConfigErrors)
    assert (caught.value.line, caught.value.path) == (2, "roles.Tester")
    assert str(caught.value) == "w.yaml:2: 'Tester' must be text (at roles.Tester)"


def test_check_config_validates_forms_against_githubs_form_schema(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    text = (FORMS / "onboarding.yml").read_text()
    broken = text.replace("attributes:", "atributes:", 1)
    (forms / "onboarding.yml").write_text(broken)
    bug = "name: Bug\ndescription: b\nbody:\n  - type: dropdown\n    attributes:\n      label: OS\n"
    (forms / "bug.yml").write_text(bug)
    result = run_cli("check-config", str(ROOT / "workflow-config"), "--forms", str(forms))
    assert result.returncode == 1
    typo = next(n for n, t in enumerate(broken.splitlines(), 1) if "atributes:" in t)
    assert f"onboarding.yml:{typo}: not a form GitHub can show:" in result.stderr
    assert "('atributes' is not a key GitHub knows)" in result.stderr
    assert "bug.yml:5: not a form GitHub can show: body.0.attributes: 'options' is required" in (
        result.stderr
    )
