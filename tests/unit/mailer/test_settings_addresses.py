"""The library's own addresses are checked at startup, not at every send."""

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
    ],
)
def test_a_malformed_address_of_ours_is_refused_at_startup(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MailerSettings(**{field: bad})  # type: ignore[arg-type]
    assert "must be a plain address" in str(caught.value)


@pytest.mark.parametrize("field", ["mail_from_address", "mail_reply_to", "staff_digest_address"])
def test_a_plain_address_is_accepted(field: str) -> None:
    settings = MailerSettings(**{field: "online-lending+x@plib.pref.aomori.lg.jp"})  # type: ignore[arg-type]
    assert getattr(settings, field) == "online-lending+x@plib.pref.aomori.lg.jp"
