"""``smtp_command`` travels from the SMTP reply through the ledger into every outcome."""

from __future__ import annotations

from datetime import datetime

from services.mailer.plan.claims import new_record
from services.mailer.plan.model import MailWork
from services.mailer.plan.outcomes import Result, build_outcome, replayed_result
from shared.clock import JST
from shared.mailrecord import MailRecord
from tests.integration.mailer.events import online_loan_work

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
DOMAIN = "plib.pref.aomori.lg.jp"


def _work() -> MailWork:
    return online_loan_work("P1", "L-1", "p1@docomo.ne.jp")


def test_the_outcome_names_the_command_that_refused_the_mail() -> None:
    result = Result("failed", 550, "5.1.1 Unknown user", "smtp_permanent", smtp_command="rcpt")
    event = build_outcome(_work(), result, attempt=1, now=NOW, domain=DOMAIN, verp_key=b"k")
    assert event.smtp_command == "rcpt"
    assert '"smtp_command":"rcpt"' in event.model_dump_json()


def test_a_replayed_outcome_keeps_the_command_from_the_ledger() -> None:
    record = new_record(_work(), DOMAIN, NOW).model_copy(
        update={
            "state": "failed",
            "smtp_code": 550,
            "smtp_text": "filtered",
            "smtp_command": "data",
        }
    )
    again = MailRecord.model_validate_json(record.model_dump_json())
    assert replayed_result(again).smtp_command == "data"


def test_a_ledger_record_written_before_the_field_existed_still_decodes() -> None:
    record = new_record(_work(), DOMAIN, NOW).model_copy(update={"state": "sent"})
    old = record.model_dump_json(exclude={"smtp_command"})
    assert "smtp_command" not in old
    decoded = MailRecord.model_validate_json(old)
    assert decoded.smtp_command is None
    assert replayed_result(decoded).smtp_command is None
