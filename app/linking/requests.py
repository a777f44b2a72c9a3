"""Which issues are community requests, as the index keeps them, and the scoring settings config
gives linking.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config.model import Config, LinkingSettings
from ..workflows import forms
from ..workflows import rules as workflows
from .scoring import Request, Scoring, Thesaurus, is_need_label


def request_of(
    config: Config,
    installation: int,
    repository: Mapping[str, Any],
    issue: Mapping[str, Any],
) -> Request | None:
    """The issue as the index keeps it, or None when it is no community's request.

    A request is any issue labelled ``community: …``, or a workflow issue with
    a community whose workflow names the fields that state its need
    (``link_fields``); pull requests are not requests.
    """
    if "pull_request" in issue or not isinstance(issue.get("number"), int):
        return None
    labels = workflows.label_names(issue)
    workflow = workflows.match_workflow(config, issue)
    if workflow is not None:  # "new hub" says which workflow, not which need: the id does that
        own = {rule.name.lower() for rule in workflow.labels} | {
            name.lower() for name in workflow.match.labels
        }
        labels = [name for name in labels if name.lower() not in own]
    title, body = str(issue.get("title") or ""), str(issue.get("body") or "")
    if workflow is not None:
        if not workflow.link_fields:
            return None
        values = forms.read(workflow, issue.get("body"))
        community = workflows.community_of(workflow, values, labels)
        # Only the prose that states the need; the form's title prefix is no word of it.
        body = "\n\n".join(values.get(f) for f in workflow.link_fields)
        if workflow.match.title_prefix:
            title = title.removeprefix(workflow.match.title_prefix).strip()
    else:
        community = workflows.community_from_labels(labels)
    if not community:
        return None
    return Request(
        installation=installation,
        repo=str(repository.get("full_name", "")),
        number=int(issue["number"]),
        title=title,
        body=body,
        community=community,
        # Our own shared-need label is a conclusion drawn from links, never evidence for one.
        labels=tuple(
            name
            for name in labels
            if is_need_label(name)
            and name.lower() != config.settings.linking.shared_need.label.name.lower()
        ),
        workflow=workflow.id if workflow else "",
        state=str(issue.get("state") or "open"),
        private=bool(repository.get("private", True)),
        node_id=str(issue.get("node_id") or ""),
        updated_at=str(issue.get("updated_at") or ""),
        closed_at=str(issue.get("closed_at") or ""),
    )


def scoring_of(settings: LinkingSettings, now: datetime | None = None) -> Scoring:
    now = now or datetime.now(UTC)
    since = now - timedelta(days=settings.closed_within_days)
    return Scoring(
        threshold=settings.threshold,
        meaning_threshold=settings.meaning_threshold,
        suggest_threshold=settings.suggest_threshold,
        label_weight=settings.label_weight,
        workflow_weight=settings.workflow_weight,
        closed_since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        thesaurus=_thesaurus(settings),
    )


def _thesaurus(settings: LinkingSettings) -> Thesaurus:
    return _built_thesaurus(tuple((k, tuple(v)) for k, v in settings.thesaurus.items()))


@functools.lru_cache(maxsize=4)
def _built_thesaurus(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> Thesaurus:
    """Built once per thesaurus (a config reload with the same words reuses it)."""
    return Thesaurus.of(dict(groups))
