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
