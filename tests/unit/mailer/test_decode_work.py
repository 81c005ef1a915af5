"""The send consumer's fast decode gives exactly what the full model gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.mailer.plan.model import (
    KIND_OF_EVENT,
    MailWork,
    WorkChunk,
    carry,
    chunk_event_id,
    decode_send,
    decode_work,
)
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


def _chunk(kind: str, n: int) -> WorkChunk:
    base = work_of(kind)
    works = [
        base.model_copy(update={"mail_id": f"{i:032x}", "event_id": f"work-{i:032x}"})
        for i in range(n)
    ]
    chunk = carry(works, NOW)
    assert isinstance(chunk, WorkChunk)
    return chunk


@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_a_chunk_of_each_kind_decodes_as_the_full_model_does(kind: str) -> None:
    chunk = _chunk(kind, 3)
    data = chunk.model_dump_json().encode()
    assert chunk.subject() == f"mail.send.{kind}.chunk"
    fast = decode_send(chunk.subject(), data)
    full = WorkChunk.model_validate_json(data)
    assert isinstance(fast, WorkChunk)
    assert fast == full
    assert fast.model_dump_json() == full.model_dump_json() == data.decode()
    assert [type(w) for w in fast.works] == [MailWork] * 3


def test_a_single_work_item_is_carried_alone_and_decoded_as_before() -> None:
    work = work_of("online_loan")
    assert carry([work], NOW) is work
    assert decode_send(work.subject(), work.model_dump_json().encode()) == work


def test_a_chunk_id_names_its_mails_whatever_their_order() -> None:
    ids = [f"{i:032x}" for i in range(5)]
    assert chunk_event_id(ids) == chunk_event_id(list(reversed(ids)))
    assert chunk_event_id(ids) != chunk_event_id(ids[:4])


def test_a_chunk_of_mixed_kinds_or_the_same_mail_twice_is_refused() -> None:
    chunk = _chunk("online_loan", 2)
    mixed = chunk.model_dump(mode="json")
    mixed["works"][1] = work_of("hold_ready").model_dump(mode="json")
    with pytest.raises(ValidationError, match="kinds"):
        decode_send("mail.send.online_loan.chunk", json.dumps(mixed).encode())
    twice = chunk.model_dump(mode="json")
    twice["works"][1] = twice["works"][0]
    with pytest.raises(ValidationError, match="same mail twice"):
        decode_send("mail.send.online_loan.chunk", json.dumps(twice).encode())


def test_an_unknown_send_subject_is_refused() -> None:
    data = _chunk("overdue", 2).model_dump_json().encode()
    with pytest.raises(LookupError):
        decode_send("mail.send.overdue.bundle", data)
    with pytest.raises(LookupError):
        decode_send("mail.outcome.sent", data)
