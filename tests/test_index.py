"""The request index (SQLite FTS5): kept current by upserts and deletes, and what it links."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.linking.index import RequestIndex
from app.linking.scoring import Request
from app.linking.text import plain_text

GPU = Request(1, "example-org/hubs", 1, "GPU nodes for a summer course",
              "Our course needs GPU nodes with CUDA images for 40 students in July.",
              community="hypatia", labels=("support",))  # fmt: skip
GPU_TOO = Request(1, "example-org/other", 7, "CUDA images on GPU nodes",
                  "Students need GPU nodes and CUDA images for a deep learning course.",
                  community="lovelace", labels=("support",))  # fmt: skip
GPU_SAME_COMMUNITY = Request(1, "example-org/hubs", 3, "More GPU nodes for the course",
                             "The course needs more GPU nodes with CUDA images.",
                             community="hypatia")  # fmt: skip
STORAGE = Request(1, "example-org/hubs", 4, "Home directory quota is full",
                  "Users cannot save notebooks: the storage quota of 10 GB is reached.",
                  community="curie")  # fmt: skip


def test_related_finds_other_communities_only() -> None:
    index = RequestIndex()
    index.upsert_many([GPU, GPU_TOO, GPU_SAME_COMMUNITY, STORAGE])
    found = index.related(GPU)
    assert [r.request.ref for r in found] == ["example-org/other#7"]
    assert "gpu" in found[0].shared_terms and found[0].shared_labels == ("support",)


def test_upsert_updates_and_delete_removes() -> None:
    index = RequestIndex()
    index.upsert_many([GPU, GPU_TOO])
    index.upsert_many([Request(1, "example-org/other", 7, "Renamed", "Nothing about it now.",
                               community="lovelace", state="closed")])  # fmt: skip
    assert index.get(1, "example-org/other", 7).state == "closed"  # type: ignore[union-attr]
    assert index.related(GPU) == []
    index.delete(1, "example-org/hubs", 1)
    assert index.get(1, "example-org/hubs", 1) is None
    assert index.document_frequency("gpu") == 0


def test_installations_do_not_see_each_other() -> None:
    index = RequestIndex()
    index.upsert_many([GPU, Request(2, "elsewhere/hubs", 1, GPU_TOO.title, GPU_TOO.body)])
    assert index.related(GPU) == []


def test_markdown_is_reduced_to_words() -> None:
    text = plain_text("### Problem\n\nUse `kubectl` and [the docs](https://x.org) <!-- m -->")
    assert text == "Use and the docs"  # a form heading is not what was asked


@given(st.text(max_size=300), st.text(max_size=80))
def test_any_text_can_be_indexed_and_searched(body: str, title: str) -> None:
    index = RequestIndex()
    request = Request(1, "o/r", 1, title, body, community="a")
    index.upsert_many([request, Request(1, "o/r", 2, title, body, community="b")])
    index.related(request)  # never raises, whatever the text
