"""A cancelled hold gets no 貸出可能 mail (the mailer in-process, real nats-server, aiosmtpd).

Friday 15:00 the item of hold H-77 is secured and reported ready; Friday 18:00 the patron
phones to cancel it (Q9: a ready hold may be cancelled by phone). The cancellation mail
(予約解除) goes out at once; Saturday's hold-ready run must not mail the hold as ready —
whether the cancellation came after the ready report or before it, and a ready mail being
retried after a deferral leaves the hold out. A hold made ready again later (secured after
the cancellation) is a new hold and is mailed. A cancellation the ILS posts again under a
new event id is one mail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.mailer.collect.store import PendingStore
from services.mailer.plan.model import MailWork
from services.mailer.plan.work import make_work
from shared.clock import JST
from shared.contracts.ils import HoldCancelled, HoldReady
from shared.contracts.mail import MailOutcome
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import fired, hold_cancelled, hold_ready

PATRON = "P900"
ADDRESS = "p900@example.jp"
SECURED = datetime(2026, 12, 4, 15, 0, tzinfo=JST)  # Friday 15:00
CANCELLED = datetime(2026, 12, 4, 18, 0, tzinfo=JST)  # Friday 18:00, by phone
DEADLINE = date(2026, 12, 12)
SATURDAY_RUN = datetime(2026, 12, 5, 8, 0, tzinfo=JST)


def _ready(
    hold: str = "H-77",
    secured: datetime = SECURED,
    deadline: date = DEADLINE,
    title: str = "りんごの四季",
) -> HoldReady:
    event = hold_ready(PATRON, hold, secured, deadline)
    return event.model_copy(update={"title": title})


def _cancel(
    hold: str = "H-77", at: datetime = CANCELLED, deadline: date = DEADLINE
) -> HoldCancelled:
    event = hold_cancelled(PATRON, ADDRESS, hold, at=at)
    return event.model_copy(update={"reason": "patron_request", "pickup_deadline": deadline})


async def _run(mailer: Mailer) -> None:
    await mailer.publish(fired("daily-hold-ready", SATURDAY_RUN))
    await mailer.wait_idle()


async def _sent(mailer: Mailer) -> list[MailOutcome]:
    return await mailer.outcomes("sent")


async def test_a_hold_cancelled_after_its_ready_report_gets_only_the_cancellation_mail(
    mailer: Mailer,
) -> None:
    await mailer.publish(_ready())
    await mailer.wait_pending("hr.P900", 1)
    await mailer.publish(_cancel())
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()
    assert "hr.P900" not in await mailer.pending_keys()  # the report is gone

    await _run(mailer)
    assert [o.kind for o in await _sent(mailer)] == ["hold_cancelled"]
    assert mailer.smtp.count() == 1


async def test_a_ready_report_arriving_after_the_cancellation_is_not_mailed(
    mailer: Mailer,
) -> None:
    await mailer.publish(_cancel())  # out of order: the cancellation first
    await mailer.wait_outcomes(1, "sent")
    await mailer.publish(_ready())
    await mailer.wait_idle()
    assert "hr.P900" not in await mailer.pending_keys()

    await _run(mailer)
    assert [o.kind for o in await _sent(mailer)] == ["hold_cancelled"]


async def test_a_hold_made_ready_again_after_its_cancellation_is_mailed(mailer: Mailer) -> None:
    await mailer.publish(_ready())
    await mailer.wait_pending("hr.P900", 1)
    await mailer.publish(_cancel())
    await mailer.wait_outcomes(1, "sent")
    # Secured again Friday 20:00, after the cancellation: a new hold under the same id.
    again = _ready(secured=CANCELLED + timedelta(hours=2), deadline=DEADLINE + timedelta(days=2))
    await mailer.publish(again)
    await mailer.wait_pending("hr.P900", 1)
    await mailer.publish(_cancel().model_copy(update={"event_id": "ils-redelivered-01"}))
    await mailer.wait_idle()

    await _run(mailer)
    sent = await _sent(mailer)
    assert sorted(o.kind for o in sent) == ["hold_cancelled", "hold_ready"]
    (ready,) = [o for o in sent if o.kind == "hold_ready"]
    assert ready.source_event_ids == [again.event_id]


async def test_a_report_collected_while_the_cancellation_was_handled_is_not_mailed(
    mailer: Mailer,
) -> None:
    await mailer.publish(_cancel())
    await mailer.wait_outcomes(1, "sent")
    # Its collection checked for a cancellation just before it was recorded, and added
    # the report just after the cancellation's drop: the run must leave it out.
    store = await PendingStore.open(mailer.js)
    assert await store.add("hr.P900", "hold_ready", PATRON, _ready())

    await _run(mailer)
    assert [o.kind for o in await _sent(mailer)] == ["hold_cancelled"]
    assert "hr.P900" not in await mailer.pending_keys()  # dropped by the run


class Refusing:
    """Answers 451 to every recipient while ``on``."""

    def __init__(self) -> None:
        self.on = True

    def __call__(self, phase: str, rcpt: str) -> str | None:
        return "451 4.3.0 Try again later" if self.on and phase == "rcpt" else None


def _ready_mail(*holds: HoldReady) -> MailWork:
    """The hold-ready mail Saturday's run made (before the cancellation was handled)."""
    return make_work(
        "hold_ready",
        list(holds),
        patron_id=PATRON,
        recipient=ADDRESS,
        run_id="hold-ready-2026-12-05",
        run_date=SATURDAY_RUN.date(),
        batch=None,
        nominal_time=SATURDAY_RUN,
        now=SATURDAY_RUN,
    )


async def _deferred_then_cancelled(mailer: Mailer, work: MailWork, cancel: HoldCancelled) -> None:
    """``work`` is deferred, the cancellation is recorded meanwhile, then the relay accepts."""
    refusing = Refusing()
    mailer.smtp.set_script(refusing)
    await mailer.publish(work)
    await mailer.wait_outcomes(1, "deferred")
    await mailer.publish(cancel)
    await mailer.wait_idle("mailer-ils")  # the cancellation is handled
    refusing.on = False


async def test_a_deferred_ready_mail_sent_after_a_cancellation_leaves_the_hold_out(
    mailer: Mailer,
) -> None:
    cancelled = _ready("H-77", title="解除された本")
    other = _ready("H-78", title="まだ待っている本")
    await _deferred_then_cancelled(mailer, _ready_mail(cancelled, other), _cancel("H-77"))

    await mailer.wait_outcomes(2, "sent")  # the cancellation and the ready mail
    await mailer.wait_idle()
    (ready,) = [o for o in await _sent(mailer) if o.kind == "hold_ready"]
    assert ready.source_event_ids == [other.event_id]
    (mail,) = [r for r in mailer.smtp.received if r.message_id == ready.message_id]
    body = mail.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "まだ待っている本" in text and "解除された本" not in text


async def test_a_deferred_ready_mail_of_only_cancelled_holds_expires_unsent(
    mailer: Mailer,
) -> None:
    work = _ready_mail(_ready("H-77"))
    await _deferred_then_cancelled(mailer, work, _cancel("H-77"))

    await mailer.wait_outcomes(1, "expired")
    await mailer.wait_idle()
    (expired,) = await mailer.outcomes("expired")
    assert (expired.kind, expired.cause) == ("hold_ready", "all_cancelled")
    assert [o.kind for o in await _sent(mailer)] == ["hold_cancelled"]
    assert mailer.smtp.count() == 1


async def test_a_reposted_cancellation_is_one_mail_and_a_new_cancellation_another(
    mailer: Mailer,
) -> None:
    first = _cancel()
    await mailer.publish(first)
    await mailer.wait_outcomes(1, "sent")
    await mailer.publish(first.model_copy(update={"event_id": "ils-repost-0001"}))
    await mailer.wait_idle()
    assert mailer.smtp.count() == 1

    # Made ready again with a new deadline, and cancelled again: a mail of its own.
    later = _cancel(at=CANCELLED + timedelta(days=1), deadline=DEADLINE + timedelta(days=3))
    await mailer.publish(later)
    await mailer.wait_outcomes(2, "sent")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 2


async def test_a_deferred_ready_mail_left_with_only_past_holds_expires_with_its_outcome(
    mailer: Mailer,
) -> None:
    """Found by a review: the cancelled hold had the latest deadline (the mail's expiry)
    and the other's deadline passed while the mail was deferred. Nothing is left to mail:
    an ``expired`` outcome staff can read, not a compose error in a dead letter."""
    past = _ready("H-76", deadline=SATURDAY_RUN.date() - timedelta(days=1), title="期限切れの本")
    cancelled = _ready("H-77", title="解除された本")
    await _deferred_then_cancelled(mailer, _ready_mail(past, cancelled), _cancel("H-77"))

    await mailer.wait_outcomes(1, "expired")
    await mailer.wait_idle()
    (expired,) = await mailer.outcomes("expired")
    assert (expired.kind, expired.cause) == ("hold_ready", "past_usefulness")
    assert expired.source_event_ids == [past.event_id, cancelled.event_id]
    assert await mailer.dead_letters() == []
    assert [o.kind for o in await _sent(mailer)] == ["hold_cancelled"]
