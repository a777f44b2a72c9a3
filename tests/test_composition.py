"""Every handler module is composed into the router, and every event it takes is documented."""

from __future__ import annotations

import importlib
import pkgutil
import re

import app.handlers as handlers
from tests.conftest import ROOT


def test_every_handler_module_is_registered() -> None:
    found = {
        importlib.import_module(f"app.handlers.{m.name}")
        for m in pkgutil.iter_modules(handlers.__path__)
    }
    assert found == set(handlers.MODULES)


def test_every_subscribed_event_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = readme[readme.index("Events the app handles today") :]
    for module in handlers.MODULES:
        for event, details in module.router._deep_routes.items():
            assert f"`{event}`" in documented, event
            for action in details.get("action", {}):
                assert re.search(rf"`{event}` \([^)]*\b{action}\b", documented), (event, action)


def test_readme_asks_for_exactly_the_permissions_the_code_uses() -> None:
    from app.github.manifest import PERMISSIONS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Register the GitHub App") :].split("\n## ", 1)[0]
    asked = set(re.findall(r"\*\*([A-Z][a-z]+(?: [a-z]+)?)\*\* (read & write|read)", section))
    table = {(p.title, "read & write" if p.access == "write" else "read") for p in PERMISSIONS}
    assert asked == table


def test_every_handled_event_is_subscribed_and_no_other() -> None:
    from app.github.manifest import ALWAYS_DELIVERED, EVENTS

    handled = {
        event
        for module in handlers.MODULES
        for event in module.router._deep_routes
        if not event.startswith("flywheel_")  # our own, from the journal
    }
    assert handled == set(EVENTS) | set(ALWAYS_DELIVERED)
