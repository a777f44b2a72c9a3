"""/link and /unlink: requests linked by hand, shown on both issues, in any repository.

Each issue carries one marked "Related requests" comment whose marker data
holds the links pinned and suppressed by people, so they survive restarts and
anyone can see them. A public repository's comment never shows the title or
the name of an issue in a private repository.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import forms
from ..commands import Command
from ..github import PermanentGitHubError, classify
from ..handlers.workflows import existing_marker_data
from ..plan import IssueRef, UpsertComment
from ..render import renderer_for, trusted
from .run import CommandError, CommandRun

LINKS_KEY = "links"
LINKS_TEMPLATE = "links.md.j2"


class LinkState:
    """The links data of every issue one comment's commands touch, and what they look like."""

    def __init__(self, run: CommandRun) -> None:
        self.run = run
        self.data: dict[IssueRef, dict[str, list[str]]] = {}
        self.issues: dict[IssueRef, dict[str, Any]] = {run.ref: run.issue}
        self.private: dict[str, bool] = {run.ref.repo.lower(): run.repo_private}

    async def of(self, ref: IssueRef) -> dict[str, list[str]]:
        if ref not in self.data:
            found = await existing_marker_data(self.run.ctx, ref, LINKS_KEY)
            self.data[ref] = {
                "pinned": _refs(found.get("pinned")),
                "suppressed": _refs(found.get("suppressed")),
            }
        return self.data[ref]

    async def issue(self, ref: IssueRef) -> dict[str, Any] | None:
        """The issue, read with the installation's token: None when it cannot be seen."""
        if ref not in self.issues:
            gh = self.run.ctx.gh
            if gh is None:
                return {"number": ref.number, "title": "", "state": "open"}
            try:
                self.issues[ref] = await gh.getitem(f"/repos/{ref.repo}/issues/{ref.number}")
            except Exception as exc:
                error = classify(exc)
                if isinstance(error, PermanentGitHubError) and error.status in (404, 410):
                    return None
                raise error from exc
        return self.issues[ref]

    async def is_private(self, repo: str) -> bool:
        if repo.lower() not in self.private:
            gh = self.run.ctx.gh
            answer = await gh.getitem(f"/repos/{repo}") if gh is not None else {}
            # Unknown visibility is treated as private: hiding is the safe mistake.
            self.private[repo.lower()] = bool(answer.get("private", gh is not None))
        return self.private[repo.lower()]

    async def plan(self) -> None:
        """One comment per touched issue, listing its pinned links as that issue may show them."""
        ctx = self.run.ctx
        for ref, data in sorted(self.data.items()):
            here_private = await self.is_private(ref.repo)
            entries = []
            for text in data["pinned"]:
                other = _parse(text)
                if other is None:  # a private request, kept opaque in a public comment
                    entries.append({"ref": "", "title": "", "state": "", "hidden": True})
                    continue
                issue = await self.issue(other) or {}
                hidden = not here_private and await self.is_private(other.repo)
                entries.append(
                    {
                        "ref": "" if hidden else _short(other, ref.repo),
                        "title": "" if hidden else issue.get("title", ""),
                        "state": "" if hidden else issue.get("state", ""),
                        "hidden": hidden,
                    }
                )
            body = renderer_for(ctx.config.settings.templates_dir).render(
                LINKS_TEMPLATE,
                pinned=entries,
                suppressed=len(data["suppressed"]),
                footer=trusted(ctx.config.settings.help_footer),
            )
            ctx.add(UpsertComment(ref, LINKS_KEY, body, data=dict(data)))


def _refs(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if _parse(str(v)) or str(v).startswith(OPAQUE)]


OPAQUE = "private:"


def opaque(ref: IssueRef) -> str:
    """How a public issue's marker data names a private issue: not by its name.

    Marker data is readable by anyone who can read the comment; a hash still
    lets /unlink, typed by someone who knows the private issue, find the entry.
    """
    digest = hashlib.sha256(str(ref).lower().encode()).hexdigest()[:20]
    return OPAQUE + digest


def _parse(text: str) -> IssueRef | None:
    found = forms.resolve_issue_ref(forms.parse_issue_ref(text), "")
    return IssueRef(*found) if found and found[0] else None


def _short(ref: IssueRef, here: str) -> str:
    return f"#{ref.number}" if ref.repo.lower() == here.lower() else str(ref)


def _state(run: CommandRun) -> LinkState:
    if run.links is None:
        run.links = LinkState(run)
        run.finishers.append(run.links.plan)
    return run.links


async def _targets(run: CommandRun, command: Command) -> list[IssueRef]:
    targets, bad, missing = [], [], []
    for arg in command.args:
        found = forms.resolve_issue_ref(forms.parse_issue_ref(arg), run.ref.repo)
        if found is None:
            bad.append(arg)
            continue
        ref = IssueRef(*found)
        if ref == run.ref:
            bad.append(arg)
        elif await _state(run).issue(ref) is None:
            missing.append(arg)
        else:
            targets.append(ref)
    if bad:
        raise CommandError("invalid", "bad_ref", values=bad)
    if missing:
        raise CommandError("invalid", "ref_not_found", values=missing)
    level = run.settings.levels.get("link", "triage")
    for ref in targets:  # writing on the other issue needs the same right there
        if ref.repo.lower() != run.ref.repo.lower():
            await run.require(level, repo=ref.repo, repo_name=ref.repo)
    return targets


def _toggle(data: dict[str, list[str]], ref: IssueRef, *, pin: bool, hide: bool) -> None:
    forms_of_ref = {str(ref), opaque(ref)}
    data["pinned"] = [r for r in data["pinned"] if r not in forms_of_ref]
    data["suppressed"] = [r for r in data["suppressed"] if r not in forms_of_ref]
    data["pinned" if pin else "suppressed"].append(opaque(ref) if hide else str(ref))


async def link(run: CommandRun, command: Command) -> None:
    """/link REF… → each issue lists the other under "Related requests"."""
    await _change(run, command, pin=True)


async def unlink(run: CommandRun, command: Command) -> None:
    """/unlink REF… → the link is removed from both, and kept suppressed."""
    await _change(run, command, pin=False)


async def _change(run: CommandRun, command: Command, *, pin: bool) -> None:
    state = _state(run)
    here_private = await state.is_private(run.ref.repo)
    for target in await _targets(run, command):
        there_private = await state.is_private(target.repo)
        hide_there = there_private and not here_private
        _toggle(await state.of(run.ref), target, pin=pin, hide=hide_there)
        _toggle(await state.of(target), run.ref, pin=pin, hide=here_private and not there_private)
    run.done(command)
