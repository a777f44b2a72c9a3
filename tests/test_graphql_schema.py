"""Every GraphQL document Flywheel sends is valid against GitHub's own schema.

The fake GitHub answers whatever shape our documents ask for, so a misspelt field
or a wrong input type would pass every other test and fail on GitHub. GitHub's
schema is published as ``@octokit/graphql-schema``; graphql-js validates against
it. Needs node and npm: skipped without them, unless ``FLYWHEEL_SCHEMA_TEST=required``
(as ``.ci/run`` sets it), where their absence fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.github import batch, projects

HERE = Path(__file__).resolve().parent / "graphql"
PACKAGES = ("graphql@16", "@octokit/graphql-schema@15")


def documents() -> dict[str, str]:
    return {
        "batched writes, every kind": batch.document(list(batch.MUTATIONS)),
        "batched writes, two of one kind": batch.document(["addComment", "addComment"]),
        "board fields": projects.PROJECT_FIELDS,
        "add to board": projects.ADD_ITEM,
        "set fields": projects.set_fields_document(3, 2),
        "create field": projects.CREATE_FIELD,
    }


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("FLYWHEEL_SCHEMA_TEST") == "required":
            pytest.fail("node and npm are required here (FLYWHEEL_SCHEMA_TEST=required)")
        pytest.skip("no node/npm here: GitHub's GraphQL schema check needs them")
    folder = tmp_path_factory.mktemp("graphql-schema")
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", *PACKAGES],
        cwd=folder, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    shutil.copy(HERE / "validate.mjs", folder / "validate.mjs")
    return folder


def test_our_graphql_documents_are_valid_against_githubs_schema(validator: Path) -> None:
    out = subprocess.run(
        ["node", "validate.mjs"],
        cwd=validator, input=json.dumps(documents()), capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    found = json.loads(out.stdout)
    assert set(found) == set(documents())
    assert {name: errors for name, errors in found.items() if errors} == {}


def test_a_wrong_document_is_caught(validator: Path) -> None:
    """The check itself works: a field GitHub does not have is reported."""
    wrong = batch.document(["addComment"]).replace("fullDatabaseId", "databaseIdentifier")
    out = subprocess.run(
        ["node", "validate.mjs"], cwd=validator, input=json.dumps({"wrong": wrong}),
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    (errors,) = json.loads(out.stdout).values()
    assert any("databaseIdentifier" in e for e in errors)
