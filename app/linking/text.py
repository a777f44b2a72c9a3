"""A request's words as linking compares them: markdown, form headings, links and code
stripped, stop words dropped, light stemming.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_FORM_NOISE = re.compile(r"^#{1,6} .*$|_No response_|https?://\S+|\S+@\S+|@[\w-]+", re.M)
_LINKS = re.compile(r"<!--.*?-->|<[^>]+>|!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)", re.S)
_MARKS = re.compile(r"[#>*_~|\[\]-]+")
WORD = re.compile(r"[a-z0-9]+")
# Words any request may use: they say nothing about the need.
_STOPWORDS_TEXT = """
a about after all also am an and any are as at be been being but by can could did do does done
for from get got has have hub hubs how i if in into is it its just like may me more most much my
need needs no not now of on one or our out please should so some such than that the their them
then there these they this those to too up us use used using very want was way we were what when
where which while who why will with would you your response none other others thanks thank hello
hi able make new etc
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def plain_text(markdown: str | None) -> str:
    """Markdown reduced to the words people wrote: no code, links, markup, headings, handles."""
    text = _FORM_NOISE.sub(" ", _LINKS.sub(" ", _CODE.sub(" ", markdown or "")))
    return " ".join(_MARKS.sub(" ", text).split())


def terms(text: str) -> list[str]:
    """The stems of a text's meaningful words, in order (stopwords, numbers, short words out)."""
    return [
        stem(w)
        for w in WORD.findall(text.lower())
        if len(w) > 2 and w not in STOPWORDS and not w.isdigit()
    ]


_SUFFIXES = ("ations", "ation", "ising", "izing", "ised", "ized", "ise", "ize", "ments", "ment")


def stem(word: str) -> str:
    """A light English stemmer: "quotas"/"quota", "grading"/"grade", "culled"/"cull" meet.

    Light on purpose: it only has to be the same on both sides of a comparison,
    and over-stemming joins needs that differ ("stor-age", "stor-y").
    """
    w = word
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # running → run
            break
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w
