"""Daily runs: hold-ready never on the securing day; no reminder for a returned loan."""

from __future__ import annotations

from datetime import date, datetime

from shared.clock import JST
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import fired, hold_ready, overdue, returned

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=JST)
TUESDAY_MORNING = datetime(2026, 12, 8, 8, 30, tzinfo=JST)


async def test_hold_ready_is_not_mailed_on_the_day_the_item_was_secured(mailer: Mailer) -> None:
    secured_monday = hold_ready(
        "P300", "H-1", datetime(2026, 12, 7, 8, 0, tzinfo=JST), date(2026, 12, 15)
    )
    secured_sunday = hold_ready(
        "P300", "H-2", datetime(2026, 12, 6, 15, 0, tzinfo=JST), date(2026, 12, 14)
    )
    await mailer.publish(secured_monday, secured_sunday)
    await mailer.wait_pending("hr.P300", 2)

    await mailer.publish(fired("daily-hold-ready", MONDAY_MORNING))
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 1
    assert await mailer.pending_events("hr.P300") == 1  # Monday's item waits for Tuesday

    await mailer.publish(fired("daily-hold-ready", TUESDAY_MORNING))
    await mailer.wait_outcomes(2, "sent")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 2
    sent = await mailer.outcomes("sent")
    assert [o.source_event_ids for o in sent] == [
        [secured_sunday.event_id],
        [secured_monday.event_id],
    ]
    assert await mailer.pending_events("hr.P300") == 0


async def test_overdue_reminder_is_not_sent_for_a_returned_loan(mailer: Mailer) -> None:
    await mailer.publish(overdue("P400", "L-1"), overdue("P400", "L-2"), overdue("P401", "L-3"))
    await mailer.wait_pending("od.P400", 2)
    await mailer.wait_pending("od.P401", 1)
    await mailer.publish(returned("P400", "L-1"), returned("P401", "L-3"))
    await mailer.wait_idle("mailer-ils")

    await mailer.publish(fired("daily-overdue", datetime(2026, 12, 5, 8, 0, tzinfo=JST)))
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 1
    (sent,) = await mailer.outcomes("sent")
    assert sent.patron_id == "P400" and sent.kind == "overdue"
    assert len(sent.source_event_ids) == 1
    assert mailer.smtp.received[0].rcpt_tos == ["p400@example.jp"]


async def test_a_return_arriving_before_the_reminder_event_still_wins(mailer: Mailer) -> None:
    await mailer.publish(returned("P500", "L-5"))
    await mailer.wait_idle("mailer-ils")
    await mailer.publish(overdue("P500", "L-5"))
    await mailer.wait_idle("mailer-ils")
    await mailer.publish(fired("daily-overdue", datetime(2026, 12, 5, 8, 0, tzinfo=JST)))
    await mailer.wait_idle()
    assert mailer.smtp.count() == 0
    assert not await mailer.outcomes()


async def test_a_changed_deadline_and_a_run_fired_again_mail_nothing_more(
    mailer: Mailer,
) -> None:
    """The morning's run mailed the hold; the ILS then reported it again with another
    pickup deadline, and the run was fired again the same day
    (`otayori schedule fire daily-hold-ready --force`): one ready mail per hold."""
    first = hold_ready("P310", "H-9", datetime(2026, 12, 6, 15, 0, tzinfo=JST), date(2026, 12, 14))
    await mailer.publish(first)
    await mailer.wait_pending("hr.P310", 1)
    await mailer.publish(fired("daily-hold-ready", MONDAY_MORNING))
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()

    changed = first.model_copy(
        update={
            "event_id": "H-9-deadline-changed",
            "occurred_at": datetime(2026, 12, 7, 11, 0, tzinfo=JST),
            "pickup_deadline": date(2026, 12, 21),
        }
    )
    await mailer.publish(changed, first)  # and the first report again (a lost ack)
    await mailer.wait_idle()
    assert await mailer.pending_events("hr.P310") == 0
    again = fired("daily-hold-ready", MONDAY_MORNING).model_copy(update={"event_id": "refired-1"})
    await mailer.publish(again)
    await mailer.wait_idle()

    assert mailer.smtp.count() == 1
    assert len(await mailer.outcomes()) == 1
