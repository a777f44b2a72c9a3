"""How a link names an issue: by owner/repo#N, or, for an issue of a private repository seen
from a public one, by a digest that does not say which issue it is.
"""

from __future__ import annotations

import hashlib
import hmac

from ..plan.actions import IssueRef
from ..workflows import forms
from .scoring import Request

OPAQUE = "private:"


def opaque(ref: IssueRef | str, key: bytes) -> str:
    """How a public issue's marker data names a private issue: not by its name.

    Marker data is readable by anyone who can read the comment. The digest is keyed (HMAC
    with the App's link key, ``Settings.link_key``), so a reader cannot hash candidate
    ``owner/repo#N`` names to find which private issue is meant; the App, which has the key,
    still finds the entry when someone who knows the issue types ``/unlink`` with it.
    """
    digest = hmac.new(key, str(ref).lower().encode(), hashlib.sha256).hexdigest()[:20]
    return OPAQUE + digest


def legacy_opaque(ref: IssueRef | str) -> str:
    """The unkeyed digest of earlier versions: still read, never written (comments that carry
    one are rewritten with the keyed form the next time they are planned)."""
    return OPAQUE + hashlib.sha256(str(ref).lower().encode()).hexdigest()[:20]


def forms_of(ref: IssueRef | str, key: bytes) -> set[str]:
    """Every way a marker may name ``ref``."""
    return {str(ref), opaque(ref, key), legacy_opaque(ref)}


def parse_ref(text: str) -> IssueRef | None:
    found = forms.resolve_issue_ref(forms.parse_issue_ref(text), "")
    return IssueRef(*found) if found and found[0] else None


def ref_of(request: Request) -> IssueRef:
    return IssueRef(request.repo, request.number)


def _short(ref: IssueRef, here: str) -> str:
    return f"#{ref.number}" if ref.repo.lower() == here.lower() else str(ref)
