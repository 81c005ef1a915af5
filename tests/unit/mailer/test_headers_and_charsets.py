"""Header injection, missing values, and the ISO-2022-JP choice with its UTF-8 fallback."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.mailer.compose import ComposedMail, Envelope, compose, render
from services.mailer.errors import ComposeError, HeaderInjection, InvalidAddress
from tests.unit.mailer.builders import (
    BATCH,
    RUN_DATE,
    body_of,
    envelope,
    hold_ready,
    loan_item,
    online_loan,
    parse,
)

JIS_DOMAINS = frozenset({"docomo.ne.jp", "ezweb.ne.jp"})


def _loan_mail(
    env: Envelope,
    title: str = "津軽のむかし話",
    iso2022jp_domains: frozenset[str] = frozenset(),
) -> ComposedMail:
    events = [online_loan([loan_item(1, title)])]
    return compose(
        "online_loan",
        events,
        batch=BATCH,
        run_date=RUN_DATE,
        envelope=env,
        iso2022jp_domains=iso2022jp_domains,
    )


@pytest.mark.parametrize(
    ("field", "header"),
    [
        ("to", "To"),
        ("from_addr", "From"),
        ("from_name", "From"),
        ("message_id", "Message-ID"),
        ("reply_to", "Reply-To"),
    ],
)
@pytest.mark.parametrize(
    "bad",
    # CR, LF, NUL, and the other line boundaries ``email.header.Header`` splits at.
    ["\r\nBcc: victim@example.com", "\n", "\r", "\0", "\x0bBcc: v@example.com", "\x0c", "\u2028"],
)
def test_cr_lf_or_nul_in_a_header_value_raises(field: str, header: str, bad: str) -> None:
    base = {"reply_to": "counter@plib.pref.aomori.lg.jp"}
    value = f"x{bad}" if field != "to" else f"taro@example.jp{bad}"
    env = envelope(**{**base, field: value})
    with pytest.raises(HeaderInjection) as caught:
        _loan_mail(env)
    assert caught.value.header == header
    assert bad not in str(caught.value)


def test_header_injection_is_a_compose_error() -> None:
    assert issubclass(HeaderInjection, ComposeError)


def test_an_invalid_recipient_raises_invalid_address() -> None:
    with pytest.raises(InvalidAddress) as caught:
        _loan_mail(envelope("taro@docomo,ne,jp"))
    assert caught.value.code == "comma_for_dot"


def test_a_naive_date_raises() -> None:
    with pytest.raises(ComposeError, match="timezone-aware"):
        _loan_mail(envelope(date=datetime(2026, 12, 5, 9, 0)))


def test_reply_to_is_set_when_given() -> None:
    msg = parse(_loan_mail(envelope(reply_to="counter@plib.pref.aomori.lg.jp")))
    assert msg["Reply-To"] == "counter@plib.pref.aomori.lg.jp"
    assert parse(_loan_mail(envelope()))["Reply-To"] is None


def test_a_missing_template_value_raises_compose_error() -> None:
    context = {"ref_year": 2026, "run_date": RUN_DATE, "items": [], "first_deadline": RUN_DATE}
    with pytest.raises(ComposeError, match="missing value"):
        render("hold_ready", {k: v for k, v in context.items() if k != "first_deadline"})
    with pytest.raises(ComposeError, match="ref_year"):
        render("hold_ready", {k: v for k, v in context.items() if k != "ref_year"})


def test_a_none_value_raises_instead_of_printing_none() -> None:
    context = {"ref_year": 2026, "run_date": RUN_DATE, "first_deadline": RUN_DATE}
    with pytest.raises(ComposeError):
        render("hold_ready", {**context, "items": [{"title": None, "pickup_deadline": RUN_DATE}]})


@pytest.mark.parametrize(
    "to", ["taro..hanako.@docomo.ne.jp", "jiro@ezweb.ne.jp", "a@x.docomo.ne.jp"]
)
def test_listed_domains_and_their_subdomains_get_iso_2022_jp(to: str) -> None:
    mail = _loan_mail(envelope(to), iso2022jp_domains=JIS_DOMAINS)
    msg = parse(mail)
    assert mail.charset == "iso-2022-jp" == msg.get_content_charset()
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert b"=?iso-2022-jp?b?" in mail.data
    assert b"\x1b$B" in mail.data  # JIS escape in the body
    assert msg["From"].addresses[0].display_name == "オンライン貸出サービス担当"
    assert str(msg["Subject"]) == mail.subject
    assert msg["To"].addresses[0].addr_spec == to
    body = body_of(mail)
    assert "津軽のむかし話" in body
    assert "12月6日(日)から12月13日(日)まで" in body
    assert "9:00〜19:00" in body  # FULLWIDTH TILDE mapped to the JIS wave dash


def test_an_unlisted_domain_stays_utf_8() -> None:
    mail = _loan_mail(envelope("taro@notdocomo.ne.jp"), iso2022jp_domains=JIS_DOMAINS)
    assert mail.charset == "utf-8"


@pytest.mark.parametrize("title", ["丸数字①の本", "髙橋家の記録", "絵文字の本📚", "ﾊﾝｶｸｶﾅ"])
def test_text_outside_iso_2022_jp_falls_back_to_utf_8(title: str) -> None:
    mail = _loan_mail(envelope("taro@docomo.ne.jp"), title=title, iso2022jp_domains=JIS_DOMAINS)
    assert mail.charset == "utf-8"
    assert title in body_of(mail)


def test_a_very_long_title_is_wrapped_within_998_octets_in_iso_2022_jp() -> None:
    title = "あ" * 500
    mail = _loan_mail(envelope("taro@docomo.ne.jp"), title=title, iso2022jp_domains=JIS_DOMAINS)
    assert mail.charset == "iso-2022-jp"
    assert all(len(line) <= 998 for line in mail.data.split(b"\r\n"))
    assert body_of(mail).count("あ") == 500


def test_titles_with_line_breaks_stay_on_one_line() -> None:
    events = [hold_ready(1, date(2026, 12, 12), title="上巻\r\n下巻")]
    mail = compose("hold_ready", events, batch=None, run_date=RUN_DATE, envelope=envelope())
    assert "1. 上巻 下巻\n" in body_of(mail)
