"""SMTP answers become outcomes: 250 sent, 4xx/dropped deferred then retried, 5xx failed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from shared.contracts.ils import HoldCancelled
from shared.mailrecord import Suppression, address_key
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import hold_cancelled, online_loan, saturday_trigger
from tests.support.smtp import DROP

ADDRESS = "p100@example.jp"


def _cancelled(email: str, hold: str = "H-1") -> HoldCancelled:
    return hold_cancelled("P100", email, hold, at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC))


def _fail_first(reply: str, times: int = 1):  # type: ignore[no-untyped-def]
    seen: Counter[str] = Counter()

    def script(phase: str, rcpt: str) -> str | None:
        if phase != "rcpt":
            return None
        seen[rcpt] += 1
        return reply if seen[rcpt] <= times else None

    return script


@pytest.mark.parametrize(
    "reply",
    ["452 4.2.2 Mailbox full", "421 4.7.0 Try again later", DROP],
    ids=["mailbox_full_452", "throttled_421", "dropped_connection"],
)
async def test_a_transient_failure_is_deferred_then_sent(mailer: Mailer, reply: str) -> None:
    mailer.smtp.set_script(_fail_first(reply))
    await mailer.publish(_cancelled(ADDRESS))
    await mailer.wait_outcomes(1, "sent")
    deferred = await mailer.outcomes("deferred")
    assert len(deferred) == 1
    assert deferred[0].attempt == 1 and deferred[0].next_attempt_at is not None
    assert deferred[0].smtp_command == "rcpt"
    if reply != DROP:
        assert deferred[0].smtp_code == int(reply[:3])
        assert deferred[0].smtp_text and reply[4:] in deferred[0].smtp_text
    else:
        assert deferred[0].cause == "connection_lost"
    sent = await mailer.outcomes("sent")
    assert sent[0].attempt == 2
    assert sent[0].smtp_command == "data"
    assert sent[0].message_id == deferred[0].message_id
    assert mailer.smtp.count() == 1


async def test_a_permanent_refusal_is_a_failed_outcome_with_code_and_text(
    mailer: Mailer,
) -> None:
    refusal = "550 5.1.1 <p100@example.jp>: Recipient address rejected: User unknown"
    mailer.smtp.set_script(lambda phase, rcpt: refusal if phase == "rcpt" else None)
    await mailer.publish(_cancelled(ADDRESS))
    await mailer.wait_outcomes(1, "failed")
    (failed,) = await mailer.outcomes("failed")
    assert failed.smtp_code == 550
    assert failed.smtp_text is not None and "User unknown" in failed.smtp_text
    assert failed.cause == "smtp_permanent"
    assert failed.smtp_command == "rcpt"
    assert failed.patron_id == "P100" and failed.kind == "hold_cancelled"
    assert failed.verp_token and failed.message_id
    await mailer.wait_idle()
    assert mailer.smtp.count() == 0
    assert not await mailer.outcomes("sent")


async def test_a_refusal_at_data_is_told_apart_from_one_at_rcpt(mailer: Mailer) -> None:
    refusal = "550 5.7.1 Message rejected by the recipient's reception settings"
    mailer.smtp.set_script(lambda phase, rcpt: refusal if phase == "data" else None)
    await mailer.publish(_cancelled(ADDRESS))
    await mailer.wait_outcomes(1, "failed")
    (failed,) = await mailer.outcomes("failed")
    assert (failed.smtp_code, failed.smtp_command) == (550, "data")
    assert mailer.smtp.count() == 0


async def test_a_suppressed_address_is_not_mailed(mailer: Mailer) -> None:
    kv = await mailer.js.key_value("suppressions")
    record = Suppression(reason="550 user unknown", category="bad_address", since=datetime.now(UTC))
    await kv.put(address_key(ADDRESS), record.model_dump_json().encode())
    await mailer.publish(_cancelled(ADDRESS))
    await mailer.wait_outcomes(1, "suppressed")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 0
    assert mailer.smtp.handler.rcpt_attempts == Counter()


@pytest.mark.parametrize(
    "registered",
    ["p100docomo.ne.jp", "p100@docomo,ne,jp", "ｐ100@docomo.ne.jp"],
    ids=["no_at_sign", "comma_for_dot", "full_width"],
)
async def test_an_invalid_address_is_a_failed_outcome_staff_can_act_on(
    mailer: Mailer, registered: str
) -> None:
    await mailer.publish(_cancelled(registered))
    await mailer.wait_outcomes(1, "failed")
    (failed,) = await mailer.outcomes("failed")
    assert failed.cause == "invalid_address"
    assert failed.detail and any("\u3040" <= ch <= "\u9fff" for ch in failed.detail)
    assert failed.smtp_code is None
    assert mailer.smtp.count() == 0


async def test_an_invalid_payload_is_dead_lettered_with_its_reason(mailer: Mailer) -> None:
    bad = online_loan("P200", "L-1").model_dump(mode="json")
    bad["batch_thursday"] = "2026-12-04"  # a Friday
    import json

    await mailer.js.publish("ils.loan.online_issued", json.dumps(bad).encode())
    await mailer.publish(saturday_trigger())
    await mailer.wait_idle()
    letters = await mailer.dead_letters()
    assert len(letters) == 1
    assert letters[0].original_subject == "ils.loan.online_issued"
    assert any("batch_thursday" in line for line in letters[0].errors)
    assert mailer.smtp.count() == 0
