"""Linking related requests of different communities, across repositories, end to end.

Each test drives the app over HTTP with GitHub's payload shapes and reads the
outcome from the fake GitHub: the "Related requests" comments on both sides,
labels and board items of a shared need, and the index against GitHub's state.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from app.linking.index import RequestIndex
from app.linking.linkdata import LinkData, toggle
from app.linking.refs import legacy_opaque, opaque
from app.linking.reindex import rebuild
from app.plan.actions import IssueRef
from app.settings import Settings
from app.workflows import markers
from tests import payloads
from tests.commenting import say
from tests.conftest import ORG, PRIVATE_REPO, REPO, ROOT, SECRET, Flywheel, stored_at
from tests.test_commands_basic import grant

SUPPORT = "example-org/support"  # a second public repository
VAULT = "example-org/vault"  # a second private repository
STATUS = ["Shared need", "Refined", "In progress", "Done"]

GPU_HYPATIA = (
    "GPU image with PyTorch for our deep learning course",
    "Students train networks on satellite imagery; we need an NVIDIA GPU profile and a "
    "PyTorch image with matching CUDA drivers.",
)
GPU_CURIE = (
    "CUDA and TensorFlow environment on GPU nodes",
    "Our lab wants TensorFlow to see a GPU from the hub: a GPU node pool and an image with "
    "cuda and cudnn.",
)
GPU_GOODALL = (
    "Machine learning profile with a GPU",
    "A profile that starts a server with a GPU for fine-tuning models, PyTorch preferred.",
)
GPU_TRAINING = (
    "CUDA image with TensorFlow on a GPU",
    "We need a GPU node and an image with TensorFlow and CUDA to train our models.",
)
QUOTA = (
    "Raise the home directory storage quota",
    "Users hit the 10 GB limit on home directories and notebooks fail to save.",
)


@pytest.fixture(autouse=True)
def repositories(fake: Any) -> None:
    fake.add_repo(SUPPORT)
    fake.add_repo(VAULT, private=True)


@pytest.fixture(autouse=True)
def roadmap(fake: Any) -> Any:
    return fake.add_board(ORG, 2, "Roadmap", {"Status": STATUS})


def request(fake: Any, repo: str, community: str, text: tuple[str, str], user: str = "ada") -> Any:
    return fake.add_issue(repo, text[0], text[1], user=user, labels=(f"community: {community}",))


async def opened(flywheel: Flywheel, issue: Any) -> dict[str, Any]:
    row = await flywheel.deliver("issues", payloads.issues_event(flywheel.fake, issue, "opened"))
    assert row["state"] == "done", row
    return row


def links(fake: Any, issue: Any) -> list[dict[str, Any]]:
    return [
        c
        for c in fake.bot_comments_on(issue.repo, issue.number)
        if "links" in markers.find(c["body"])
    ]


def links_body(fake: Any, issue: Any) -> str:
    (comment,) = links(fake, issue)
    return str(comment["body"])


async def test_related_requests_show_on_both_sides_and_are_updated_not_duplicated(
    flywheel: Flywheel, fake: Any
) -> None:
    first = request(fake, REPO, "hypatia", GPU_HYPATIA)
    await opened(flywheel, first)
    assert links(fake, first) == [], "nothing related yet: no comment at all"

    second = request(fake, SUPPORT, "curie", GPU_CURIE, user="grace")
    await opened(flywheel, second)
    theirs = links_body(fake, second)
    assert f"{REPO}#{first.number} **{GPU_HYPATIA[0]}**" in theirs
    assert "— hypatia, open. Both mention gpu" in theirs
    mine = links_body(fake, first)
    assert f"{SUPPORT}#{second.number} **CUDA and TensorFlow environment on GPU nodes**" in mine
    assert "— curie, open" in mine

    second.title = "GPU nodes with CUDA for TensorFlow"
    await flywheel.deliver(
        "issues",
        payloads.issues_event(
            fake, second, "edited", changes={"title": {"from": GPU_CURIE[0]}}, sender="grace"
        ),
    )
    assert "**GPU nodes with CUDA for TensorFlow**" in links_body(fake, first)
    first.state = "closed"
    await flywheel.deliver("issues", payloads.issues_event(fake, first, "closed"))
    assert "— hypatia, closed" in links_body(fake, second)
    assert len(links(fake, first)) == len(links(fake, second)) == 1

    same_community = request(fake, SUPPORT, "hypatia", GPU_GOODALL)
    await opened(flywheel, same_community)
    assert links(fake, same_community) == [] or "hypatia" not in links_body(fake, same_community)
    assert f"#{same_community.number}" not in links_body(fake, first)

    fake.delete_issue(SUPPORT, second.number)
    await flywheel.deliver("issues", payloads.issues_event(fake, second, "deleted"))
    assert "No related requests from other communities right now." in links_body(fake, first)
    assert len(links(fake, first)) == 1


async def test_unrelated_and_community_less_issues_stay_quiet(
    flywheel: Flywheel, fake: Any
) -> None:
    await opened(flywheel, request(fake, REPO, "hypatia", GPU_HYPATIA))
    quota = request(fake, SUPPORT, "curie", QUOTA)
    await opened(flywheel, quota)
    plain = fake.add_issue(SUPPORT, GPU_CURIE[0], GPU_CURIE[1], user="grace")
    fake.reset_calls()
    row = await opened(flywheel, plain)
    assert links(fake, quota) == [] and links(fake, plain) == []
    assert [c for c in fake.calls if c.method != "POST" or "access_tokens" not in c.path] == []
    assert flywheel.state.index is not None
    assert flywheel.state.index.get(1, SUPPORT, plain.number) is None, row


async def test_private_text_never_reaches_a_public_repository(
    flywheel: Flywheel, fake: Any
) -> None:
    public = request(fake, REPO, "hypatia", GPU_HYPATIA)
    await opened(flywheel, public)
    secret_title = "Confidential GPU budget for the curie lab, PyTorch CUDA image"
    secret = request(fake, PRIVATE_REPO, "curie", (secret_title, GPU_CURIE[1]))
    await opened(flywheel, secret)
    other_secret = request(fake, VAULT, "goodall", GPU_TRAINING)
    await opened(flywheel, other_secret)

    shown_in_public = links_body(fake, public)
    assert shown_in_public.count("A related request in a private repository") == 2
    leaks = ("Confidential", "curie", "goodall", "private-requests", "vault", "example\\u002dorg/")
    for leak in leaks:
        assert leak not in shown_in_public, leak
    in_private = links_body(fake, secret)
    assert f"{REPO}#{public.number} **GPU image with PyTorch" in in_private
    assert f"{VAULT}#{other_secret.number} **{GPU_TRAINING[0]}**" in in_private
    assert "goodall" in in_private, "private repositories show each other in full"

    # The public marker names the private issues by a keyed digest: hashing candidate
    # names (the old, unkeyed form) does not find them; the App, holding the key, does.
    auto = markers.find(links(fake, public)[0]["body"])["links"]["auto"]
    key = Settings(webhook_secret=SECRET).link_key
    for private in (f"{PRIVATE_REPO}#{secret.number}", f"{VAULT}#{other_secret.number}"):
        assert opaque(private, key) in auto
        assert legacy_opaque(private) not in auto and private not in auto


def test_markers_written_before_the_key_are_still_read() -> None:
    ref = IssueRef(VAULT, 7)
    old = LinkData(suppressed=[legacy_opaque(ref)])
    assert old.mentions(ref, "suppressed", b"any key")
    toggle(old, ref, pin=True, hide=True, key=b"k")
    assert old.pinned == [opaque(ref, b"k")] and old.suppressed == []
    assert opaque(ref, b"k") != opaque(ref, b"other") != legacy_opaque(ref)


async def test_a_need_shared_by_three_communities_is_labelled_and_put_on_the_roadmap(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    first = request(fake, REPO, "hypatia", GPU_HYPATIA)
    second = request(fake, SUPPORT, "curie", GPU_CURIE)
    await opened(flywheel, first)
    await opened(flywheel, second)
    assert "shared-need" not in fake.issue(REPO, first.number).labels
    assert "A shared need" not in links_body(fake, first)
    assert fake.board_values(ORG, 2, first.node_id) is None

    third = request(fake, SUPPORT, "goodall", GPU_GOODALL)
    await opened(flywheel, third)
    for issue in (first, second, third):
        assert "shared-need" in fake.issue(issue.repo, issue.number).labels
        assert fake.board_values(ORG, 2, issue.node_id) == {"Status": "Shared need"}
    assert "**A shared need:** curie, goodall, hypatia ask for this." in links_body(fake, third)
    assert "could propose an initiative, or form a consortium" in links_body(fake, third)

    # The team moves one on: Flywheel does not move it back.
    board_item = next(i for i in roadmap.items.values() if i["content"] == first.node_id)
    refined = next(o["id"] for f in roadmap.fields if f["name"] == "Status" for o in f["options"]
                   if o["name"] == "Refined")  # fmt: skip
    status_id = next(f["id"] for f in roadmap.fields if f["name"] == "Status")
    board_item["values"][status_id] = {"singleSelectOptionId": refined}
    third.body += "\n\nAlso JAX would be welcome."
    await flywheel.deliver(
        "issues",
        payloads.issues_event(fake, third, "edited", changes={"body": {"from": GPU_GOODALL[1]}}),
    )
    assert fake.board_values(ORG, 2, first.node_id) == {"Status": "Refined"}


async def test_pins_and_suppressions_survive_a_rebuilt_index(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    grant(fake, repo=SUPPORT)
    first = request(fake, REPO, "hypatia", GPU_HYPATIA)
    related = request(fake, SUPPORT, "curie", GPU_CURIE)
    unrelated = request(fake, SUPPORT, "meitner", QUOTA)
    for issue in (first, related, unrelated):
        await opened(flywheel, issue)
    assert f"{SUPPORT}#{related.number}" in links_body(fake, first)
    await say(
        flywheel,
        first,
        f"/link {SUPPORT}#{unrelated.number}\n/unlink {SUPPORT}#{related.number}",
        author="tomas",
    )

    index = flywheel.state.index
    assert index is not None
    index.delete_repos(1)  # the cache is lost
    event = payloads.installation_event(fake, "created", ORG, [REPO, SUPPORT, PRIVATE_REPO, VAULT])
    row = await flywheel.deliver("installation", event)
    assert any("indexed 3 request(s)" in note for note in row["outcome"]["notes"]), row
    first.body += "\n\nWe could share the image with others."
    await flywheel.deliver(
        "issues",
        payloads.issues_event(fake, first, "edited", changes={"body": {"from": GPU_HYPATIA[1]}}),
    )
    body = links_body(fake, first)
    assert f"{SUPPORT}#{unrelated.number} **Raise the home directory storage quota**" in body
    assert "Linked by hand:" in body
    assert f"{SUPPORT}#{related.number}" not in body
    assert "1 link removed by hand will not come back." in body
    assert len(links(fake, first)) == 1


async def test_index_rebuilt_from_github_equals_the_one_kept_from_events(
    flywheel: Flywheel, fake: Any
) -> None:
    issues = [
        request(fake, REPO, "hypatia", GPU_HYPATIA),
        request(fake, SUPPORT, "curie", GPU_CURIE),
        request(fake, PRIVATE_REPO, "goodall", GPU_GOODALL),
        request(fake, VAULT, "meitner", QUOTA),
    ]
    for issue in issues:
        await opened(flywheel, issue)
    edited = issues[0]
    edited.title = "GPU image with JAX and PyTorch"
    await flywheel.deliver(
        "issues",
        payloads.issues_event(fake, edited, "edited", changes={"title": {"from": GPU_HYPATIA[0]}}),
    )
    issues[3].state = "closed"
    await flywheel.deliver("issues", payloads.issues_event(fake, issues[3], "closed"))
    relabelled = issues[1]
    relabelled.labels = ["community: curie-lab", "support"]
    await flywheel.deliver(
        "issues", payloads.issues_event(fake, relabelled, "labeled", label="support")
    )
    plain = fake.add_issue(SUPPORT, "Dask gateway for our xarray work", "Clusters please.")
    await opened(flywheel, plain)
    plain.labels = ["community: carver"]
    await flywheel.deliver(
        "issues", payloads.issues_event(fake, plain, "labeled", label="community: carver")
    )
    gone = issues[2]
    fake.delete_issue(PRIVATE_REPO, gone.number)
    await flywheel.deliver("issues", payloads.issues_event(fake, gone, "deleted"))

    kept = flywheel.state.index
    assert kept is not None
    assert flywheel.state.github is not None
    fresh = RequestIndex()
    gh = await flywheel.state.github.for_installation(1)
    count = await rebuild(gh, fresh, flywheel.state.config, 1)
    assert count == 4
    assert fresh.all(1) == kept.all(1)
    assert {(r.repo, r.community, r.state) for r in fresh.all(1)} == {
        (REPO, "hypatia", "open"),
        (SUPPORT, "curie-lab", "open"),
        (SUPPORT, "carver", "open"),
        (VAULT, "meitner", "closed"),
    }


async def test_bot_label_changes_update_the_index_but_write_nothing(
    flywheel: Flywheel, fake: Any
) -> None:
    await opened(flywheel, request(fake, REPO, "hypatia", GPU_HYPATIA))
    other = fake.add_issue(SUPPORT, GPU_CURIE[0], GPU_CURIE[1])
    other.labels = ["community: curie"]
    fake.reset_calls()
    await flywheel.deliver(
        "issues",
        payloads.issues_event(
            fake, other, "labeled", label="community: curie", sender="flywheel[bot]"
        ),
    )
    assert flywheel.state.index is not None
    assert flywheel.state.index.get(1, SUPPORT, other.number) is not None
    assert [c for c in fake.calls if c.method in ("POST", "PATCH") and "comments" in c.path] == []


async def test_flywheel_index_rebuilds_the_cache_from_github(
    fake: Any, fake_url: str, private_key: str, database: dict[str, Any]
) -> None:
    request(fake, REPO, "hypatia", GPU_HYPATIA)
    request(fake, VAULT, "meitner", QUOTA).state = "closed"
    fake.add_issue(SUPPORT, "No community says this", "…")
    env = {
        **os.environ,
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": private_key,
        "GITHUB_API_URL": fake_url,
        "FLYWHEEL_DB": stored_at(database),
        "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "index", "--installation", "1",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()
    assert "indexed 2 community requests of installation 1" in out.decode()
    index = RequestIndex(stored_at(database))
    assert {(r.repo, r.state, r.private) for r in index.all(1)} == {
        (REPO, "open", False),
        (VAULT, "closed", True),
    }
    assert private_key not in out.decode()


async def test_a_repository_turned_private_disappears_from_public_comments(
    flywheel: Flywheel, fake: Any
) -> None:
    here = request(fake, REPO, "hypatia", GPU_HYPATIA)
    there = request(fake, SUPPORT, "curie", GPU_CURIE)
    await opened(flywheel, here)
    await opened(flywheel, there)
    assert GPU_CURIE[0] in links_body(fake, here)

    fake.repos[SUPPORT]["private"] = True
    event = {
        "action": "privatized",
        "repository": payloads.repository(fake, SUPPORT),
        "sender": payloads.user("maria"),
        "installation": payloads.installation(fake),
    }
    row = await flywheel.deliver("repository", event)
    assert row["state"] == "done", row
    body = links_body(fake, here)
    assert GPU_CURIE[0] not in body and "curie" not in body and SUPPORT not in body
    assert "A related request in a private repository" in body


async def test_an_initiative_in_a_shared_need_keeps_its_own_place_on_the_roadmap(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    """Found by the 2,000-delivery soak: the group's "Shared need" raced the initiative's Status."""
    from tests.forms_render import load_form, render_submission

    answers = {
        "Problem Statement": "Courses need a GPU image with PyTorch and CUDA drivers for deep "
        "learning; students train networks on satellite imagery.",
        "Proposed Solution": "A GPU profile with an NVIDIA node pool and a PyTorch CUDA image.",
        "Proposed Implementation": "Node pools with min size 0.",
        "How will this fit in the ecosystem?": "Upstream.",
        "Size": "M (<= 300 h)",
    }
    spec = load_form("initiative.yml")
    initiative = fake.add_issue(
        REPO, "GPU images for courses", render_submission(spec, answers),
        labels=(*spec["labels"], "community: goodall"),
    )  # fmt: skip
    others = (request(fake, REPO, "hypatia", GPU_HYPATIA),
              request(fake, SUPPORT, "curie", GPU_CURIE))  # fmt: skip
    for issue in others:
        await opened(flywheel, issue)
    # The initiative makes the third community: its own placement and the group's are
    # in one plan; the workflow's Status must be the one it gets.
    fake.latency = 0.02  # calls in flight together, as on GitHub
    await opened(flywheel, initiative)
    for issue in others:
        assert fake.board_values(ORG, 2, issue.node_id) == {"Status": "Shared need"}
    assert "shared-need" in fake.issue(REPO, initiative.number).labels
    assert fake.board_values(ORG, 2, initiative.node_id) == {"Status": "Refined"}
