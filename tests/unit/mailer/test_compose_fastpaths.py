"""Compose's speed paths answer exactly as the general code they stand in for.

``address._plainly_valid`` decides the common case of ``check_address`` with one regex;
``wire`` writes the Date header and the base64 body without the stdlib helpers; the
Jinja2 environment hands templates a plain dict of globals instead of a ``ChainMap``.
"""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.mailer.compose.address import _check_all, _plainly_valid
from services.mailer.compose.dates import JST
from services.mailer.compose.render import environment
from services.mailer.compose.wire import _crlf_lines, _date_header, body_base64
from services.mailer.errors import InvalidAddress

#: Characters around the edges of the address rules: specials, the comma typed for a dot,
#: spaces and controls, full-width and other non-ASCII letters and digits.
_EDGY = "@.-_+'!#$%&*/=?^`{|}~,;:()<>[]\\\" \t\n\x00\x7f\x85\u3000＠．ｔ１たöé٣²"
_LABEL_OK = string.ascii_letters + string.digits + "-"
_LABEL = st.text(alphabet=_LABEL_OK, max_size=64) | st.text(alphabet=_LABEL_OK + _EDGY, max_size=9)
_LOCAL_OK = string.ascii_letters + string.digits + ".-_+'"
_LOCAL = st.text(alphabet=_LOCAL_OK, max_size=70) | st.text(alphabet=_LOCAL_OK + _EDGY, max_size=70)


@st.composite
def _addresses(draw: st.DrawFn) -> str:
    """Mostly address-shaped strings, so that both answers come up often."""
    local = draw(_LOCAL)
    labels = draw(st.lists(_LABEL, min_size=1, max_size=5))
    return f"{local}@{'.'.join(labels)}"


def _accepted_by_the_checks(address: str) -> bool:
    try:
        _check_all(address, address)
    except InvalidAddress:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.one_of(_addresses(), st.text(alphabet=string.printable + _EDGY, max_size=80)))
@example("taro..hanako.@docomo.ne.jp")
@example("taro@192.168.0.1")
@example("taro@docomo.ne.jp\n")
@example("taro,hanako@docomo.ne.jp")
@example("taro@docomo,ne,jp")
@example("a" * 65 + "@docomo.ne.jp")
@example("taro@" + "b" * 64 + ".jp")
@example("taro@docomo_ne.jp")
@example("taro@docomo-.ne.jp")
@example("taro＠docomo.ne.jp")
@example("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".jp")
@example("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".jp")
def test_the_address_fast_path_accepts_exactly_what_the_checks_accept(address: str) -> None:
    assert _plainly_valid(address) == _accepted_by_the_checks(address)


@given(st.one_of(st.binary(), st.text(alphabet="あa\r\n", max_size=40).map(str.encode)))
@example(b"")
@example(b"\n")
@example(b"a\r\r\nb\n\n")
def test_crlf_lines_ends_every_line_as_splitlines_would(data: bytes) -> None:
    assert _crlf_lines(data) == b"\r\n".join(data.splitlines()) + b"\r\n"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=600))
@example("")
@example("本文\r\n二行目")
def test_the_body_is_the_stdlib_base64_in_76_character_lines(body: str) -> None:
    lines = b"\r\n".join(body.encode("utf-8").splitlines()) + b"\r\n"
    assert body_base64(body) == base64.encodebytes(lines).replace(b"\n", b"\r\n")


_ZONES = st.sampled_from(
    [
        JST,
        UTC,
        ZoneInfo("America/New_York"),
        ZoneInfo("Asia/Kolkata"),
        timezone(timedelta(hours=-11, minutes=-30)),
        timezone(timedelta(seconds=4321)),
    ]
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES)
)
@example(datetime(2026, 12, 5, 9, 0, tzinfo=JST))
@example(datetime(1949, 6, 1, tzinfo=JST))  # JST had summer time then: +1000
@example(datetime(1880, 1, 1, tzinfo=JST))  # Tokyo mean time: +091859
def test_the_date_header_is_format_datetime_in_japan_time(moment: datetime) -> None:
    assert _date_header(moment) == format_datetime(moment.astimezone(JST))


def test_templates_still_see_the_jinja_default_globals() -> None:
    template = environment().from_string("{{ range(3)|list }} {{ dict(a=1) }}")
    assert template.render() == "[0, 1, 2] {'a': 1}"
