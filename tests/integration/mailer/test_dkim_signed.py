"""A mailer configured with a DKIM key sends mail whose signature verifies (the unit test
signs a fixed message; this one goes through the sender, the pool and a real relay)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dkim

from tests.integration.mailer.conftest import MailerFactory
from tests.integration.mailer.events import hold_cancelled
from tests.support.dkim import dkim_key


async def test_mail_sent_with_a_dkim_key_verifies(
    mailer_factory: MailerFactory, tmp_path: Path
) -> None:
    key, public = dkim_key(tmp_path)
    mailer = mailer_factory(dkim_selector="otayori", dkim_key_file=key)
    await mailer.start()
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    await mailer.publish(*(hold_cancelled(f"P{n}", f"p{n}@example.jp", at=at) for n in range(3)))
    await mailer.wait_outcomes(3, "sent")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"otayori._domainkey.plib.pref.aomori.lg.jp."
        return b"v=DKIM1; k=rsa; p=" + public

    received = mailer.smtp.received
    assert len(received) == 3
    for mail in received:
        assert mail.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(mail.data, dnsfunc=dns)
