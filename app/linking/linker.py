"""Related requests across communities: what each issue's "Related requests" comment says.

One marked comment per issue (key ``links``) lists the requests of *other*
communities about the same need, found by the request index, and the links
people pinned with ``/link``. Its marker data keeps what must survive a
rebuilt index: the links pinned and suppressed by hand, and the automatic
links last shown (so that when one disappears, the other side is told too).

Privacy: a public issue's comment and marker data never carry the title,
community or name of an issue in a private repository; it says only that a
related request exists there. Private repositories show each other in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..config.render import renderer_for, trusted
from ..github.errors import PermanentGitHubError, classify
from ..plan.actions import EnsureLabels, EnsureProjectItem, IssueRef, UpsertComment
from ..plan.context import HandlerContext
from ..workflows.markers import LINKS_KEY
from .index import RequestIndex
from .linkdata import LinkData, Shown, toggle
from .refs import _short, forms_of, opaque, parse_ref, ref_of
from .requests import scoring_of
from .scoring import Related, Request

LINKS_TEMPLATE = "links.md.j2"


class Linker:
    """Plans "Related requests" comments for one delivery; reads each issue's comment once."""

    def __init__(self, ctx: HandlerContext, index: RequestIndex | None = None) -> None:
        self.ctx = ctx
        self.index = index if index is not None else ctx.index
        self.settings = ctx.config.settings.linking
        self.installation = int((ctx.data.get("installation") or {}).get("id") or 0)
        self.key = ctx.link_key
        self.scoring = scoring_of(self.settings)
        if self.index is not None and self.index.meaning is not None:
            # Enough decisions by people here move where a link is posted (decisions.py).
            shipped = self.settings.meaning_threshold
            calibrated = self.index.decisions.calibrated(self.installation, shipped)
            self.scoring = replace(self.scoring, meaning_threshold=calibrated)
        self.data: dict[IssueRef, LinkData] = {}
        self.issues: dict[IssueRef, dict[str, Any] | None] = {}
        self.private: dict[str, bool] = {}
        self._opaque: dict[str, Request] | None = None
        self._related: dict[str, list[Related]] = {}

    # -- what GitHub holds ------------------------------------------------------------

    async def data_of(self, ref: IssueRef) -> LinkData:
        if ref not in self.data:
            gh = self.ctx.gh
            found = await self.ctx.comments.marker_data(gh, ref, LINKS_KEY) if gh else None
            self.data[ref] = LinkData() if found is None else LinkData.from_marker(found, True)
        return self.data[ref]

    def pair_score(self, a: IssueRef, b: IssueRef) -> float | None:
        """The score linking gives two indexed requests (kept with people's decisions)."""
        first, second = self.known(a), self.known(b)
        if self.index is None or first is None or second is None:
            return None
        if self.index.meaning is not None:
            return self.index.meaning.score(first, second, self.scoring)
        found = self.index.score(first, second, replace(self.scoring, threshold=-1.0))
        return found.score if found else None

    async def set_link(self, a: IssueRef, b: IssueRef, *, pin: bool) -> tuple[LinkData, ...]:
        """Link two issues by hand (or unlink them), each side naming the other as its
        readers may see it; the comments are planned by the caller."""
        a_private, b_private = await self.is_private(a.repo), await self.is_private(b.repo)
        data_a, data_b = await self.data_of(a), await self.data_of(b)
        toggle(data_a, b, pin=pin, hide=b_private and not a_private, key=self.key)
        toggle(data_b, a, pin=pin, hide=a_private and not b_private, key=self.key)
        return data_a, data_b

    def known(self, ref: IssueRef) -> Request | None:
        if self.index is None:
            return None
        return self.index.get(self.installation, ref.repo, ref.number)

    async def issue(self, ref: IssueRef) -> dict[str, Any] | None:
        """The issue, read with the installation's token: None when it cannot be seen."""
        if ref not in self.issues:
            gh = self.ctx.gh
            if gh is None:
                self.issues[ref] = {"number": ref.number, "title": "", "state": "open"}
            else:
                try:
                    self.issues[ref] = await gh.getitem(f"/repos/{ref.repo}/issues/{ref.number}")
                except Exception as exc:
                    error = classify(exc)
                    if isinstance(error, PermanentGitHubError) and error.status in (404, 410):
                        self.issues[ref] = None
                    else:
                        raise error from exc
        return self.issues[ref]

    def remember_issue(self, ref: IssueRef, issue: dict[str, Any], private: bool) -> None:
        self.issues[ref] = issue
        self.private[ref.repo.lower()] = private

    async def is_private(self, repo: str) -> bool:
        if repo.lower() not in self.private:
            gh = self.ctx.gh
            answer = await gh.getitem(f"/repos/{repo}") if gh is not None else {}
            # Unknown visibility is treated as private: hiding is the safe mistake.
            self.private[repo.lower()] = bool(answer.get("private", gh is not None))
        return self.private[repo.lower()]

    # -- which links ------------------------------------------------------------------

    def automatic(
        self, request: Request, data: LinkData, include: Sequence[Request] = ()
    ) -> list[Related]:
        """The index's related requests, plus those shown before or asked for that still
        qualify (so both sides agree), minus what people pinned or suppressed."""
        if self.index is None or not self.settings.enabled:
            return []
        found = {r.request.ref: r for r in self.index.related(request, self.scoring)}
        again = [self.resolve(text) for text in data.auto]
        for other in [*again, *include]:
            if other is not None and other.ref not in found:
                scored = self.index.score(request, other, self.scoring)
                if scored is not None:
                    found[other.ref] = scored
        chosen = [
            r
            for r in found.values()
            if not data.mentions(ref_of(r.request), "suppressed", self.key)
            and not data.mentions(ref_of(r.request), "pinned", self.key)
        ]
        chosen.sort(key=lambda r: (-r.score, r.request.ref))
        return chosen[: self.settings.max_links]

    def neighbours(self, request: Request) -> list[Request]:
        """Every request related to this one, searched wider than a comment's own lookup.

        A lookup searches with the request's rarest words, so A may find B
        while B's search misses A. When a request changes, both its comment and
        its neighbours' are planned from this wider search, so the two sides
        agree whichever was written first.
        """
        if self.index is None or not self.settings.enabled:
            return []
        wide = replace(self.scoring, query_terms=12, candidates=60)
        found = self.index.related(request, wide)[: 3 * self.settings.max_links]
        return [r.request for r in found]

    def resolve(self, text: str) -> Request | None:
        ref = parse_ref(text)
        if ref is not None:
            return self.known(ref)
        if self.index is None:
            return None
        if self._opaque is None:  # built once per delivery, from the private requests only
            private = self.index.all(self.installation, private_only=True)
            self._opaque = {form: r for r in private for form in forms_of(r.ref, self.key)}
        return self._opaque.get(text)

    async def shown_before(self, ref: IssueRef) -> list[Request]:
        """The requests the issue's comment showed automatically, as the index knows them."""
        data = await self.data_of(ref)
        return [r for r in map(self.resolve, data.auto) if r is not None]

    async def refresh(
        self, refs: Iterable[str], *, include: Sequence[Request] = (), create: bool = True
    ) -> None:
        """Plan the comments of these indexed requests (by ref), each computed afresh."""
        for text in sorted(refs):
            other = self.resolve(text)
            if other is not None:
                shown = await self.plan_comment(
                    ref_of(other), other, include=include, create=create
                )
                # A need becomes shared from whichever side sees three communities: the
                # request that arrived last may see fewer than one it links to.
                self.plan_shared_need(other, shown.links)

    def group(self, request: Request, links: Sequence[Related]) -> list[Request]:
        """The request, those it links to, and theirs: a need is shared by the group, so
        every member's comment names the same communities whichever arrived last."""
        members = {request.ref: request}
        for r in links:
            members.setdefault(r.request.ref, r.request)
        for r in links:
            for further in self._related_of(r.request):
                members.setdefault(further.request.ref, further.request)
        return list(members.values())

    def _related_of(self, request: Request) -> list[Related]:
        """A linked request's own links, looked up once per delivery: a comment's sentence and
        the shared-need labels both ask for the same group."""
        if self.index is None:
            return []
        if request.ref not in self._related:
            self._related[request.ref] = self.index.related(request, self.scoring)
        return self._related[request.ref]

    def communities(self, request: Request, links: Sequence[Related]) -> list[str]:
        return sorted({member.community for member in self.group(request, links)} - {""})

    # -- the comment ------------------------------------------------------------------

    async def plan_comment(
        self,
        ref: IssueRef,
        request: Request | None,
        *,
        include: Sequence[Request] = (),
        create: bool = True,
        fresh: bool = False,
    ) -> Shown:
        """Plan the issue's comment (if it has something to say, or exists); say what it shows.

        ``fresh``: the issue was just opened, so it has no comment of ours yet
        unless it has something to show; nothing is read when it has not.
        """
        if fresh and request is not None and not self.automatic(request, LinkData(), include):
            return Shown(ref, [])
        data = await self.data_of(ref)
        here_private = request.private if request else await self.is_private(ref.repo)
        links = self.automatic(request, data, include) if request else []
        entries = [self._entry(r, ref, here_private) for r in links]
        pinned = [await self._pinned_entry(text, ref, here_private) for text in data.pinned]
        data.auto = [
            opaque(r.request.ref, self.key)
            if r.request.private and not here_private
            else r.request.ref
            for r in links
        ]
        shared = self._shared_need(request, links, here_private) if request else None
        if not (data.exists or (create and (entries or pinned))):
            return Shown(ref, links)
        body = renderer_for(self.ctx.config.settings.templates_dir).render(
            LINKS_TEMPLATE,
            related=entries,
            pinned=pinned,
            suppressed=len(data.suppressed),
            shared=shared,
            footer=trusted(self.ctx.config.settings.help_footer),
        )
        if request is not None:
            self.note_node_id(request)
        self.ctx.add(UpsertComment(ref, LINKS_KEY, body, data=data.as_data()))
        data.exists = True
        return Shown(ref, links)

    def _entry(self, related: Related, here: IssueRef, here_private: bool) -> dict[str, Any]:
        other = related.request
        if other.private and not here_private:
            return {"hidden": True}
        reasons = []
        if related.shared_terms:
            reasons.append("both mention " + ", ".join(related.shared_terms))
        elif related.by_meaning:
            reasons.append("the same need in other words")
        if related.shared_labels:
            reasons.append("same labels: " + ", ".join(related.shared_labels))
        return {
            "hidden": False,
            "ref": _short(ref_of(other), here.repo),
            "title": other.title,
            "community": other.community,
            "state": other.state,
            "reason": "; ".join(reasons),
        }

    async def _pinned_entry(self, text: str, here: IssueRef, here_private: bool) -> dict[str, Any]:
        other = parse_ref(text)
        if other is None:  # a private request, kept opaque in a public comment
            return {"hidden": True}
        if not here_private and await self._private_ref(other):
            return {"hidden": True}
        known = self.known(other)
        if known is not None:
            title, state, community = known.title, known.state, known.community
        else:
            issue = await self.issue(other) or {}
            title, state, community = issue.get("title", ""), issue.get("state", ""), ""
        return {
            "hidden": False,
            "ref": _short(other, here.repo),
            "title": title,
            "community": community,
            "state": state,
        }

    async def _private_ref(self, ref: IssueRef) -> bool:
        known = self.known(ref)
        return known.private if known is not None else await self.is_private(ref.repo)

    def _shared_need(
        self, request: Request, links: Sequence[Related], here_private: bool
    ) -> dict[str, Any] | None:
        """The sentence about a shared need: the communities a reader here may see, named."""
        group = self.group(request, links)
        if len({m.community for m in group} - {""}) < self.settings.shared_need.min_communities:
            return None
        visible = {request.community}
        hidden = set()
        for member in group:
            (hidden if member.private and not here_private else visible).add(member.community)
        return {"named": sorted(visible - {""}), "private_only": len(hidden - visible - {""})}

    def note_node_id(self, request: Request) -> None:
        """GitHub's id of a request's issue, as the index knows it: what batched writes take."""
        if self.ctx.caches is not None:
            self.ctx.caches.note_node_id(ref_of(request), request.node_id)

    # -- a shared need ----------------------------------------------------------------

    def plan_shared_need(self, request: Request, links: Sequence[Related]) -> None:
        """Label every request of the group, and put each on the roadmap board."""
        spec = self.settings.shared_need
        communities = self.communities(request, links)
        if len(communities) < spec.min_communities:
            return
        self.ctx.note(f"shared need of {len(communities)} communities: {', '.join(communities)}")
        for member in [request, *(r.request for r in links)]:
            ref = ref_of(member)
            self.note_node_id(member)
            self.ctx.add(EnsureLabels(ref, add=(spec.label,), present=member.labels))
            # A workflow issue (an initiative) has its own place and Status on its board: the
            # group does not move it to "Shared need" (nor race its workflow for the Status).
            on_board = spec.board_owner and spec.board_number and member.node_id
            on_board = on_board and not member.workflow
            if on_board and (spec.private_on_board or not member.private):
                self.ctx.add(
                    EnsureProjectItem(
                        ref,
                        member.node_id,
                        str(spec.board_owner),
                        int(spec.board_number or 0),
                        spec.board_fields,
                        initial=True,
                    )
                )
