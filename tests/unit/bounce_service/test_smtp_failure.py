"""The mailer's synchronous refusals go through the classifier, phase included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.bounce.classify_port import classify_smtp_failure
from shared.contracts.mail import MailOutcome, SmtpCommand

DOMAIN = "plib.pref.aomori.lg.jp"


def failed(address: str, code: int, text: str, command: SmtpCommand | None) -> MailOutcome:
    domain = address.rpartition("@")[2]
    return MailOutcome(
        occurred_at=datetime(2026, 12, 5, 0, 0, tzinfo=UTC),
        mail_key="online_loan:P1:2026-12-03:abcd",
        kind="online_loan",
        outcome="failed",
        patron_id="P1",
        cause="smtp_permanent",
        recipient=address,
        recipient_domain=domain,
        carrier_group="docomo" if "docomo" in domain else "other",
        message_id=f"<m1@{DOMAIN}>",
        smtp_code=code,
        smtp_text=text,
        smtp_command=command,
    )


@pytest.mark.parametrize(
    ("address", "code", "text", "command", "category"),
    [
        # docomo answers "Unknown user" both for a mailbox that does not exist (at RCPT)
        # and for a reception-filter refusal (after DATA): the phase tells them apart.
        ("taro@docomo.ne.jp", 550, "Unknown user taro@docomo.ne.jp", "rcpt", "bad_address"),
        ("taro@docomo.ne.jp", 550, "Unknown user taro@docomo.ne.jp", "data", "domain_rejection"),
        ("hana@ezweb.ne.jp", 550, "5.1.1 <hana@ezweb.ne.jp>: User unknown", "rcpt", "bad_address"),
        ("ken@example.jp", 552, "5.2.2 Mailbox full", "data", "mailbox_full"),
        ("ken@example.jp", 550, "5.1.1 No such user", None, "bad_address"),
    ],
)
def test_a_refusal_at_send_time_is_classified_with_its_phase(
    address: str, code: int, text: str, command: SmtpCommand | None, category: str
) -> None:
    result = classify_smtp_failure(failed(address, code, text, command), DOMAIN)
    assert result.recipient == address
    assert str(result.category) == category


@pytest.mark.parametrize("command", ["connect", "ehlo", "mail"])
def test_a_relay_refusing_our_session_is_never_the_patrons_fault(command: SmtpCommand) -> None:
    outcome = failed("taro@docomo.ne.jp", 554, "5.3.2 Service currently unavailable", command)
    result = classify_smtp_failure(outcome, DOMAIN)
    assert str(result.category) == "sender_side"
