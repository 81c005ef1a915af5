"""A hold-ready mail sent after one of its holds' pickup deadlines leaves that hold out.

A hold-ready mail lives until its *latest* deadline, so retries (a carrier answering 4xx
for days) can carry it past an earlier hold's deadline. That hold has been cancelled (with
its own mail) or is being: the late mail lists only the holds still waiting.
"""

from __future__ import annotations

from datetime import date, timedelta

from services.mailer.plan.work import make_work
from shared.contracts.ils import HoldReady
from tests.integration.mailer.conftest import SATURDAY, Mailer
from tests.integration.mailer.events import hold_ready


def _late_mail(*holds: HoldReady) -> object:
    # The run that made it was days ago (Wednesday); it is sent now, on Saturday.
    made = SATURDAY - timedelta(days=3)
    return make_work(
        "hold_ready",
        list(holds),
        patron_id="P-1",
        recipient="p-1@example.jp",
        run_id="daily-hold-ready:2026-12-02",
        run_date=made.date(),
        batch=None,
        nominal_time=made,
        now=made,
    )


def _hold(hold: str, title: str, deadline: date) -> HoldReady:
    event = hold_ready("P-1", hold, SATURDAY - timedelta(days=4), deadline)
    return event.model_copy(update={"title": title})


async def test_a_late_mail_lists_only_the_holds_still_waiting(mailer: Mailer) -> None:
    over = _hold("H-1", "締切の過ぎた本", date(2026, 12, 4))  # Friday: over on Saturday
    due_today = _hold("H-2", "今日が期限の本", date(2026, 12, 5))  # still collectable today
    later = _hold("H-3", "来週までの本", date(2026, 12, 12))
    await mailer.publish(_late_mail(over, due_today, later))  # type: ignore[arg-type]
    await mailer.wait_outcomes(1, "sent")
    (received,) = mailer.smtp.received
    body = received.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "今日が期限の本" in text and "来週までの本" in text
    assert "締切の過ぎた本" not in text
    assert "12月4日" not in text and "12月4日" not in str(received.message["Subject"])
    (sent,) = await mailer.outcomes("sent")
    assert over.event_id not in sent.source_event_ids


async def test_a_mail_past_every_deadline_expires_unsent(mailer: Mailer) -> None:
    # Its expiry is its latest deadline: nothing is left to say, nothing goes out.
    over = _hold("H-1", "締切の過ぎた本", date(2026, 12, 4))
    await mailer.publish(_late_mail(over))  # type: ignore[arg-type]
    await mailer.wait_outcomes(1, "expired")
    (expired,) = await mailer.outcomes("expired")
    assert expired.cause == "past_usefulness"
    assert mailer.smtp.received == []
