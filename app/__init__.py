"""Flywheel: a GitHub App that runs a community-relations team's workflows on issues and boards."""

__version__ = "0.1.0"
