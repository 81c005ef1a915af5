"""The light MIME splitter builds exactly the stdlib's ``Message`` tree, or declines."""

from __future__ import annotations

import email
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.bounce.classifier import mime, wire
from tests.support.servers import require
from tests.unit.bounce import corpus

Tree = tuple[object, ...]


def _tree(msg: Message) -> Tree:
    payload = msg.get_payload()
    body: object = (
        tuple(_tree(p) for p in payload if isinstance(p, Message))
        if isinstance(payload, list)
        else payload
    )
    return (tuple(msg.items()), msg.get_content_type(), msg.get_unixfrom(), body)


def _same_as_stdlib(text: str) -> None:
    built = mime.build(text, wire._Part)
    if built is not None:
        expected = email.message_from_string(text, wire._Part, policy=compat32)
        assert _tree(built) == _tree(expected)


def _text(raw: bytes) -> str:
    return wire.trim_returned(wire.normalise(raw)).decode("ascii", "surrogateescape")


def test_every_corpus_message_gets_the_stdlib_tree() -> None:
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    paths = sorted(corpus.EML.rglob("*.eml"))
    built = 0
    for path in paths:
        text = _text(Path(path).read_bytes())
        _same_as_stdlib(text)
        built += mime.build(text, wire._Part) is not None
    assert built > len(paths) // 2  # the fast path is the common path


EDGE_CASES = [
    "",
    "\n",
    "Subject: x",
    "Subject: x\n\nbody\n",
    "Subject: x\n folded\n\tagain\nTo: a@b\n\nbody",
    "From someone\nSubject: x\n\nbody",
    " leading continuation\nSubject: x\n\nbody",
    "Subject: x\nnot a header line\n\nbody",
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n\ntwo\n--b--\n',
    'Content-Type: multipart/mixed; boundary="b"\n\npre\n--b\nA: 1\n\none\n\n--b--\nepi',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n--b\n\ntwo\n--b--\n',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\nunclosed\n',
    'Content-Type: multipart/mixed; boundary="b"\n\nno boundary at all\n',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n\nunclosed',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n'
    'Content-Type: multipart/alternative; boundary="i"\n\n--i\n\nx\n--i--\n',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: multipart/'
    'alternative; boundary="i"\n\n--i\n\nunclosed inner\n--b--\n',
    'Content-Type: multipart/mixed; boundary="b"\n\n--b  \n\nblank tail\n--b-- \n',
    'Content-Type: multipart/mixed; boundary="b"\n\n--bx\n\nnot a boundary\n--b--\n',
    "Content-Type: multipart/mixed\n\n--b\n\nno boundary parameter\n--b--\n",
    'Content-Type: multipart/digest; boundary="b"\n\n--b\n\nA: 1\n\nx\n--b--\n',
    'Content-Type: multipart/report; boundary="o"\n\n--o\nContent-Type: multipart/'
    'alternative; boundary="i"\n\n--i\n\ntext\n--i--\n\n--o\nContent-Type: message/'
    "delivery-status\n\nReporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b\nStatus:"
    " 5.1.1\n\n--o\nContent-Type: message/rfc822\n\nSubject: s\n\nbody\n--o--\n",
    'Content-Type: multipart/report; boundary="o"\n\n--o\nContent-Type: message/'
    "feedback-report\n\nFeedback-Type: abuse\n\n\n--o--\n",
    # a DSN block itself typed as a container (found by the hypothesis test below)
    "Content-Type: message/delivery-status\n\nContent-Type: message/delivery-status",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_match_the_stdlib_or_decline(text: str) -> None:
    _same_as_stdlib(text)


_LINES = st.sampled_from(
    [
        "Subject: x",
        " folded",
        "Content-Type: multipart/mixed; boundary=b",
        "Content-Type: message/delivery-status",
        "Content-Type: text/plain",
        "Status: 5.1.1",
        "--b",
        "--b--",
        "",
        "body text",
        "From x",
        "Content-Type: multipart/alternative; boundary=c",
        "--c",
        "--c--",
        "--b  ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=30))
def test_random_line_soups_match_the_stdlib_or_decline(lines: list[str]) -> None:
    _same_as_stdlib("\n".join(lines))


DSN_CASES = [
    "Content-Type: message/delivery-status\n\nReporting-MTA: x\n\nFinal-Recipient: a\nAction: f\n",
    "Content-Type: message/delivery-status\n\nReporting-MTA: x\n\n\nFinal-Recipient: a\n\n",
    "Content-Type: message/delivery-status\n\nReporting-MTA: x\nStatus: 5.1.1\n folded\nA: f",
    "Content-Type: message/delivery-status\n\n\nReporting-MTA: x\n",
    "Content-Type: message/delivery-status\n\n",
    "Content-Type: message/delivery-status\n",
    "Content-Type: message/delivery-status\n\nReporting-MTA: x\nnot a field\n\nStatus: 5.0.0\n",
    'Content-Type: multipart/report; boundary="o"\n\n--o\nContent-Type: message/'
    "delivery-status\n\nReporting-MTA: dns; x\n\n\n\nFinal-Recipient: rfc822; a@b\n--o--\n",
]


@pytest.mark.parametrize("text", DSN_CASES)
def test_delivery_status_blocks_match_the_stdlib_or_decline(text: str) -> None:
    _same_as_stdlib(text)


_DSN_LINES = st.sampled_from(
    ["Status: 5.1.1", " folded", "", "Action: failed", "junk line", "From x", "\t", "X: "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DSN_LINES, max_size=20), st.booleans())
def test_random_delivery_status_bodies_match_the_stdlib(lines: list[str], nested: bool) -> None:
    body = "\n".join(lines)
    text = "Content-Type: message/delivery-status\n\n" + body
    _same_as_stdlib(text)
    if nested:
        _same_as_stdlib(
            'Content-Type: multipart/report; boundary="o"\n\n--o\n'
            f"Content-Type: message/delivery-status\n\n{body}\n--o--\n"
        )


@pytest.mark.parametrize(
    "ctype",
    [
        'multipart/mixed; boundary="b c "',
        "multipart/mixed; boundary=b",
        "multipart/mixed; charset=x; BOUNDARY = b;",
        'multipart/mixed;\n\tboundary="=_x";\n report-type=delivery-status',
        "multipart/mixed; boundary=<b>",
        'multipart/mixed; boundary="<b>"',
        "multipart/mixed; boundary=b; boundary=c",
        "multipart/mixed; boundary*=us-ascii''b",
        'multipart/mixed; boundary="a\\"b"',
        "multipart/mixed; boundary=",
        "multipart/mixed",
        "multipart/mixed; (comment) boundary=b",
        'multipart/mixed; x="; boundary=wrong"; boundary=right',
    ],
)
def test_boundary_fast_path_agrees_with_the_stdlib(ctype: str) -> None:
    msg = email.message_from_string(f"Content-Type: {ctype}\n\n", policy=compat32)
    assert mime._boundary(msg) == msg.get_boundary()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(['"', ";", "=", " ", "b", "boundary", "*", "\\", "<", ">", "x/y", "\t"]),
        max_size=16,
    )
)
def test_boundary_fast_path_agrees_on_random_values(pieces: list[str]) -> None:
    msg = email.message_from_string(f"Content-Type: multipart/mixed; {''.join(pieces)}\n\n")
    assert mime._boundary(msg) == msg.get_boundary()


_PARAM_CTYPES = [
    'text/plain; charset="UTF-8"',
    "text/plain; CHARSET = Shift_JIS",
    'text/plain;charset = "x y"',
    'text/plain; charset=""',
    "text/plain; charset=",
    'text/plain; charset="a"; charset=b',
    "text/plain; charset*=us-ascii''b",
    "text/plain; x-charset=a",
    'text/plain; x="; charset=wrong"; charset=right',
    'text/plain; charset="\u00e9"',
    "multipart/report; report-type=delivery-status; boundary=x",
    'multipart/report; Report-Type="Delivery-Status"',
    "text/plain",
]


@pytest.mark.parametrize("ctype", _PARAM_CTYPES)
@pytest.mark.parametrize("name", ["charset", "report-type"])
def test_plain_param_fast_path_agrees_with_the_stdlib(ctype: str, name: str) -> None:
    msg = email.message_from_string(f"Content-Type: {ctype}\n\n", policy=compat32)
    decided, value = mime.plain_param(msg, name)
    assert not decided or value == msg.get_param(name)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(['"', ";", "=", " ", "b", "charset", "report-type", "*", "\\", "(", "\t"]),
        max_size=16,
    )
)
def test_plain_param_fast_path_agrees_on_random_values(pieces: list[str]) -> None:
    msg = email.message_from_string(f"Content-Type: text/plain; {''.join(pieces)}\n\n")
    for name in ("charset", "report-type"):
        decided, value = mime.plain_param(msg, name)
        assert not decided or value == msg.get_param(name)
