"""/link and /unlink: requests linked by hand, shown on both issues, in any repository.

Each issue carries one marked "Related requests" comment whose marker data
holds the links pinned and suppressed by people, so they survive restarts and
anyone can see them. A public repository's comment never shows the title or
the name of an issue in a private repository.
"""

from __future__ import annotations

from ..linking.linkdata import LinkData
from ..linking.linker import Linker
from ..plan.actions import IssueRef
from ..workflows import forms
from .grammar import Command
from .run import CommandError, CommandRun


class LinkState:
    """The issues one comment's commands link, planned as their comments when it ends."""

    def __init__(self, run: CommandRun) -> None:
        self.run = run
        self.linker = Linker(run.ctx)
        self.linker.remember_issue(run.ref, run.issue, run.repo_private)
        self.touched: list[IssueRef] = []

    async def of(self, ref: IssueRef) -> LinkData:
        if ref not in self.touched:
            self.touched.append(ref)
        return await self.linker.data_of(ref)

    async def plan(self) -> None:
        """Each touched issue's comment: its pinned links, and its automatic ones."""
        for ref in sorted(self.touched):
            await self.linker.plan_comment(ref, self.linker.known(ref))


def _state(run: CommandRun) -> LinkState:
    state = run.gathered.get("links")
    if not isinstance(state, LinkState):
        state = run.gathered["links"] = LinkState(run)
        run.finishers.append(state.plan)
    return state


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
        elif await _state(run).linker.issue(ref) is None:
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


async def link(run: CommandRun, command: Command) -> None:
    """/link REF… → each issue lists the other under "Related requests"."""
    await _change(run, command, pin=True)


async def unlink(run: CommandRun, command: Command) -> None:
    """/unlink REF… → the link is removed from both, and kept suppressed."""
    await _change(run, command, pin=False)


async def _change(run: CommandRun, command: Command, *, pin: bool) -> None:
    state = _state(run)
    for target in await _targets(run, command):
        await state.of(run.ref)
        await state.of(target)
        await state.linker.set_link(run.ref, target, pin=pin)
        index = run.ctx.index
        if index is not None:  # a labelled pair: what people decided, with linking's score
            index.decisions.record(
                state.linker.installation,
                str(run.ref),
                str(target),
                "link" if pin else "unlink",
                score=state.linker.pair_score(run.ref, target),
                by=run.commenter.login,
            )
    run.done(command)
