"""The send consumer's fast decode gives exactly what the full model gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.mailer.plan.model import KIND_OF_EVENT, MailWork, decode_work
from services.mailer.plan.work import make_work, prompt_work
from shared.contracts.ils import LoanOnlineIssued
from shared.contracts.registry import decode
from shared.contracts.schedule import BatchWindow

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "examples"
SUBJECTS = {
    "online_loan": "ils.loan.online_issued",
    "hold_ready": "ils.hold.ready",
    "hold_cancelled": "ils.hold.cancelled",
    "overdue": "ils.loan.overdue",
    "loan_suspended": "ils.patron.loan_suspended",
    "bounce_digest": "bounce.digest",
}
NOW = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def work_of(kind: str) -> MailWork:
    subject = SUBJECTS[kind]
    event = decode(subject, (EXAMPLES / f"{subject}.json").read_bytes())
    if isinstance(event, LoanOnlineIssued):
        batch = BatchWindow(
            thursday=event.batch_thursday,
            pickup_start=event.batch_thursday + timedelta(days=3),
            pickup_deadline=event.batch_thursday + timedelta(days=10),
        )
        return make_work(
            "online_loan",
            [event],
            patron_id=event.patron_id,
            recipient="taro@example.jp",
            run_id=batch.batch_id,
            run_date=event.batch_thursday + timedelta(days=2),
            batch=batch,
            nominal_time=NOW,
            now=NOW,
        )
    return prompt_work(event, recipient="taro@example.jp", now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_each_kind_decodes_as_the_full_model_does(kind: str) -> None:
    assert set(SUBJECTS) == set(KIND_OF_EVENT.values())
    work = work_of(kind)
    data = work.model_dump_json().encode()
    fast = decode_work(work.subject(), data)
    full = MailWork.model_validate_json(data)
    assert fast == full == work
    assert type(fast.events[0]) is type(full.events[0])
    assert fast.model_dump_json() == full.model_dump_json()


def test_a_payload_under_the_wrong_kind_still_gets_the_full_models_answer() -> None:
    work = work_of("hold_ready")
    data = work.model_dump_json().encode()
    # Filed under another kind's subject: the narrow model refuses, the full one decides.
    assert decode_work("mail.send.overdue", data) == work


def test_an_invalid_payload_is_refused_with_the_full_models_errors() -> None:
    with pytest.raises(ValidationError):
        decode_work("mail.send.online_loan", b'{"kind": "online_loan"}')
