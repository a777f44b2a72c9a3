"""How a link names an issue: by owner/repo#N, or, for an issue of a private repository seen
from a public one, by a digest that does not say which issue it is.
"""

from __future__ import annotations

import hashlib

from app.linking.scoring import Request
from app.plan.actions import IssueRef
from app.workflows import forms

OPAQUE = "private:"


def opaque(ref: IssueRef | str) -> str:
    """How a public issue's marker data names a private issue: not by its name.

    Marker data is readable by anyone who can read the comment; a hash still
    lets /unlink, typed by someone who knows the private issue, find the entry.
    """
    digest = hashlib.sha256(str(ref).lower().encode()).hexdigest()[:20]
    return OPAQUE + digest


def parse_ref(text: str) -> IssueRef | None:
    found = forms.resolve_issue_ref(forms.parse_issue_ref(text), "")
    return IssueRef(*found) if found and found[0] else None


def ref_of(request: Request) -> IssueRef:
    return IssueRef(request.repo, request.number)


def _short(ref: IssueRef, here: str) -> str:
    return f"#{ref.number}" if ref.repo.lower() == here.lower() else str(ref)
