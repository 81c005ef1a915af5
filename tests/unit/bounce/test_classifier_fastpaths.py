"""Speed paths answer exactly as the slow code they stand in for: ``flufl_scan.all_failures``
as ``flufl.bounce.all_failures``, ``freetext._marker`` as the plain marker search."""

from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import compat32
from functools import cache
from pathlib import Path

import pytest
from flufl.bounce import all_failures as library_all_failures
from flufl.bounce._detectors.simplematch import PATTERNS as MATCH_PATTERNS
from flufl.bounce._detectors.simplewarning import PATTERNS as WARNING_PATTERNS
from hypothesis import given, settings
from hypothesis import strategies as st

from services.bounce.classifier import freetext
from services.bounce.classifier.flufl_scan import all_failures, presearch
from tests.support.servers import require
from tests.unit.bounce import corpus


def _message(text: str) -> Message:
    return email.message_from_string(text, policy=compat32)


@cache
def _corpus_texts() -> tuple[str, ...]:
    paths = sorted(corpus.EML.rglob("*.eml")) if corpus.available() else []
    return tuple(Path(p).read_bytes().decode("latin-1") for p in paths)


def test_same_answers_as_the_library_over_the_corpus() -> None:
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    for text in _corpus_texts():
        want = library_all_failures(_message(text))
        assert all_failures(_message(text)) == want


def test_presearch_is_used_for_most_start_patterns() -> None:
    starts = [s for s, _, _ in MATCH_PATTERNS + WARNING_PATTERNS]
    assert sum(presearch(s) is not None for s in starts) >= len(starts) - 2


@pytest.mark.parametrize(
    ("source", "joined"),
    [("^Your message\\s*$", "^Your message\\s*"), ("a(?<!b)c", None), ("x\\Z", None)],
)
def test_presearch_drops_only_a_trailing_dollar_and_refuses_unsound_patterns(
    source: str, joined: str | None
) -> None:
    found = presearch(re.compile(source, re.IGNORECASE))
    assert (found.pattern if found is not None else None) == joined


_PHRASES = sorted(
    {p.pattern.strip("^$").replace("\\s*", " ").replace("\\", "") for t in MATCH_PATTERNS
     for p in t if "(?P" not in p.pattern and len(p.pattern) < 60}
)  # fmt: skip
_LINE = st.one_of(
    st.sampled_from(_PHRASES),
    st.sampled_from(["  p@example.jp", "<p@example.jp>", "<a@b.example>:", "---", "", " x@y.jp "]),
    st.text(alphabet="abc@<>:-. \t\r", max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=30), st.booleans())
def test_same_answers_as_the_library_on_random_line_soups(lines: list[str], mime: bool) -> None:
    body = "\n".join(lines)
    if mime:
        text = (
            'Content-Type: multipart/mixed; boundary="B"\n\n--B\n\n'
            f"{body}\n--B\nContent-Type: text/plain\n\n{body[::-1]}\n--B--\n"
        )
    else:
        text = f"From: MAILER-DAEMON@example.net\nSubject: failure\n\n{body}"
    assert all_failures(_message(text)) == library_all_failures(_message(text))


def _plain_marker(body: str) -> tuple[int, int] | None:
    found = freetext._ORIGINAL_MARKERS.search(body, 0, freetext._MARKER_SCAN)
    return found.span() if found else None


def _fast_marker(body: str) -> tuple[int, int] | None:
    found = freetext._marker(body)
    return found.span() if found else None


def test_marker_search_agrees_over_the_corpus() -> None:
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    for text in _corpus_texts():
        body = text.partition("\n\n")[2]
        assert _fast_marker(body) == _plain_marker(body)


_MARKER_PIECES = st.sampled_from(
    ["\n", " ", "\t", "-", "--", "==", "**", ">", "|", "x", "\u00e9", "RETURNED MESSAGE",
     "Returned message", "original message follows", "content-type: message/rfc822", "K"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_MARKER_PIECES, max_size=24))
def test_marker_search_agrees_on_random_texts(pieces: list[str]) -> None:
    body = "".join(pieces)
    assert _fast_marker(body) == _plain_marker(body)
