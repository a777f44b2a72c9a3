"""Composes every concern's router into the one the worker dispatches with.

Removing a feature is: delete its module, its tests and its line here.
A test checks that every module in this package is listed.
"""

from __future__ import annotations

from gidgethub.routing import Router

from . import commands, config_check, connections, installations, linking, workflows

MODULES = (commands, config_check, connections, installations, linking, workflows)


def build_router() -> Router:
    return Router(*(module.router for module in MODULES))
