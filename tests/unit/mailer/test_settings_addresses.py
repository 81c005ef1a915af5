"""The library's own addresses, domain and sender name are checked at startup, not at
every send (where a typo would fail every mail)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.mailer.settings import MailerSettings


@pytest.mark.parametrize("field", ["mail_from_address", "mail_reply_to", "staff_digest_address"])
@pytest.mark.parametrize(
    "bad",
    [
        "online lending@plib.pref.aomori.lg.jp",
        "online-lending@plib",
        "貸出担当 <online-lending@plib.pref.aomori.lg.jp>",
        "online-lending@plib.pref.aomori.lg.jp\r\nBcc: someone@example.jp",
        "ｏｎｌｉｎｅ@plib.pref.aomori.lg.jp",
        "online-lending@plib-.jp",
        "online-lending@plib.123",
    ],
)
def test_a_malformed_address_of_ours_is_refused_at_startup(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MailerSettings(**{field: bad})  # type: ignore[arg-type]
    assert field in str(caught.value)


@pytest.mark.parametrize("field", ["mail_from_address", "mail_reply_to", "staff_digest_address"])
def test_a_plain_address_is_accepted(field: str) -> None:
    settings = MailerSettings(**{field: "online-lending+x@plib.pref.aomori.lg.jp"})  # type: ignore[arg-type]
    assert getattr(settings, field) == "online-lending+x@plib.pref.aomori.lg.jp"


@pytest.mark.parametrize(
    "domain",
    ["plib.pref.aomori.lg.jp ", "plib", "plib..jp", "-plib.jp", "plib_pref.jp", "図書館.jp"],
)
def test_a_malformed_mail_domain_is_refused(domain: str) -> None:
    with pytest.raises(ValidationError, match="must be a domain name"):
        MailerSettings(mail_domain=domain)


@pytest.mark.parametrize("name", ["\u202e担当", "担当\u200b", "", "   "])
def test_an_invisible_or_blank_sender_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        MailerSettings(mail_from_name=name)
