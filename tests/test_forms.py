"""The issue-form parser: never raises, reads what GitHub writes, respects code fences."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.config.model import FieldSpec, Match, Workflow
from app.workflows import forms

WORKFLOW = Workflow(
    id="t",
    title="t",
    source="t.yaml",
    match=Match(labels=("t",)),
    fields=(
        FieldSpec("name", "Community name", "text", True),
        FieldSpec("slug", "Community slug", "slug", True),
        FieldSpec("start", "Target start date", "date"),
        FieldSpec("url", "Hub URL", "url"),
        FieldSpec("people", "Representatives", "handles"),
        FieldSpec("cloud", "Cloud", "choice", False, ("AWS", "GCP")),
        FieldSpec("extras", "Extras", "checkboxes"),
    ),
)


@given(st.text())
def test_reading_any_text_never_raises(body: str) -> None:
    values = forms.read(WORKFLOW, body)
    assert set(values.values) == {f.id for f in WORKFLOW.fields}
    assert set(values.missing) <= {"name", "slug"}


@given(
    st.dictionaries(
        st.sampled_from([f.heading for f in WORKFLOW.fields]),
        st.text(alphabet=st.characters(blacklist_characters="#\r"), max_size=40),
    )
)
def test_sections_round_trip_what_github_writes(answers: dict[str, str]) -> None:
    body = "\n\n".join(f"### {h}\n\n{v}" for h, v in answers.items())
    found = forms.sections(body)
    for heading, value in answers.items():
        if "```" in value or "~~~" in value:
            break  # an unclosed fence makes the rest code, in GitHub's rendering and ours
        if not any(line.lstrip().startswith("###") for line in value.split("\n")):
            assert found[heading.lower()] == value.strip()


def test_github_form_body_is_read_and_typed() -> None:
    body = (
        "### Community name\n\nHypatia College\n\n### Community slug\n\nHypatia College!\n\n"
        "### Target start date\n\n2027-01-15\n\n### Hub URL\n\nnot a url\n\n"
        "### Representatives\n\n@ada, @grace @ada\n\n### Cloud\n\ngcp\n\n"
        "### Extras\n\n- [X] GPUs\n- [ ] Dask\n"
    )
    values = forms.read(WORKFLOW, body)
    assert values.values == {
        "name": "Hypatia College",
        "slug": "hypatia-college",
        "start": "2027-01-15",
        "url": "",
        "people": "ada, grace",
        "cloud": "GCP",
        "extras": "GPUs",
    }
    assert values.problems == {"url": "needs a web address starting with https://"}
    assert values.missing == ()


def test_no_response_and_fenced_headings() -> None:
    empty = forms.read(WORKFLOW, "### Community name\n\n_No response_\n")
    assert empty.missing == ("name", "slug")
    fenced = forms.read(WORKFLOW, "### Community name\n\nA\n\n```\n### Community slug\n```\n")
    assert fenced.missing == ("slug",)
    assert "### Community slug" in fenced.get("name")
