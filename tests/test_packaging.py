"""The wheel's package list names every package of app/ (a missing one installs a Flywheel
that fails on import), and what the App reads at run time ships with it."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_app_package_is_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join(("flywheel", *path.parent.relative_to(ROOT / "app").parts))
        for path in (ROOT / "app").rglob("__init__.py")
    }
    assert found <= listed, found - listed
    assert {"flywheel.templates", "flywheel.templates.dashboard", "flywheel.workflow_config"} <= (
        listed
    )
    assert setuptools["package-dir"]["flywheel"] == "app"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["flywheel"] == "flywheel.__main__:main"


def test_every_source_folder_is_a_package() -> None:
    """A folder without __init__.py is a namespace package: the wheel would leave it out."""
    folders = {p.parent for p in (ROOT / "app").rglob("*.py")}
    assert [f for f in folders if not (f / "__init__.py").exists()] == []
