"""An address change reported by the ILS redirects the patron's pending mail."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.mailer.plan.work import prompt_work
from shared.clock import JST
from shared.contracts.ils import PatronEmailChanged
from shared.contracts.mail import MailOutcome
from shared.mailrecord import MailRecord, mail_id_from_message_id
from tests.integration.mailer.conftest import SATURDAY, Mailer
from tests.integration.mailer.events import hold_cancelled, online_loan, saturday_trigger


def change(patron: str, new: str, when: datetime) -> PatronEmailChanged:
    return PatronEmailChanged(
        occurred_at=when, patron_id=patron, new_email=new, old_email=f"{patron.lower()}@example.jp"
    )


async def test_a_change_after_the_loan_event_redirects_the_saturday_mail(mailer: Mailer) -> None:
    await mailer.publish(online_loan("P700", "L-70"), online_loan("P701", "L-71"))
    later = change("P700", "new700@example.jp", datetime(2026, 12, 4, 9, 0, tzinfo=JST))
    earlier = change("P701", "old701@example.jp", datetime(2026, 12, 1, 9, 0, tzinfo=JST))
    await mailer.publish(later, earlier)
    await mailer.wait_idle("mailer-ils")

    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(2, "sent")
    await mailer.wait_idle()
    to = sorted(r for m in mailer.smtp.received for r in m.rcpt_tos)
    # P700 changed the address after the loan: the new one. P701's change predates the
    # loan event, whose own address is the newer fact.
    assert to == ["new700@example.jp", "p701@example.jp"]


async def test_a_redelivered_older_change_does_not_undo_a_newer_one(mailer: Mailer) -> None:
    first = change("P710", "first@example.jp", datetime(2026, 12, 3, 12, 0, tzinfo=JST))
    second = change("P710", "second@example.jp", datetime(2026, 12, 4, 12, 0, tzinfo=JST))
    await mailer.publish(online_loan("P710", "L-80"), second, first)
    await mailer.wait_idle("mailer-ils")

    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()
    assert [r for m in mailer.smtp.received for r in m.rcpt_tos] == ["second@example.jp"]


async def test_a_deferred_mail_is_retried_to_the_address_registered_meanwhile(
    mailer: Mailer,
) -> None:
    old, new = "p720@example.jp", "p720.new@example.jp"
    # The old mailbox stays full; the patron registers a new address after the deferral.
    mailer.smtp.set_script(lambda phase, rcpt: "452 4.2.2 Mailbox full" if rcpt == old else None)
    cancelled = hold_cancelled("P720", old, "H-720")
    await mailer.publish(cancelled)
    await mailer.wait_outcomes(1, "deferred")
    await mailer.publish(change("P720", new, datetime(2026, 12, 5, 8, 30, tzinfo=JST)))

    await mailer.wait_outcomes(1, "sent")
    (sent,) = await mailer.outcomes("sent")
    assert sent.recipient == new
    assert [r for m in mailer.smtp.received for r in m.rcpt_tos] == [new]
    assert {o.recipient for o in await mailer.outcomes("deferred")} == {old}
    ledger = await mailer.js.key_value("mail_ledger")
    entry = await ledger.get(_mail_id(sent))
    assert MailRecord.model_validate_json(entry.value or b"").recipient == new


def _mail_id(outcome: MailOutcome) -> str:
    assert outcome.message_id is not None
    return mail_id_from_message_id(outcome.message_id) or ""


async def test_a_mail_that_waited_in_the_queue_goes_to_the_address_registered_meanwhile(
    mailer: Mailer,
) -> None:
    old, new = "p730@example.jp", "p730.new@example.jp"
    cancelled = hold_cancelled("P730", old, "H-730", at=datetime(2026, 12, 5, 7, 0, tzinfo=JST))
    # Built an hour before the mailer's clock (as behind a throttled carrier's queue) ...
    work = prompt_work(cancelled, recipient=old, now=SATURDAY - timedelta(hours=1))
    # ... and meanwhile the patron registered a new address.
    await mailer.publish(change("P730", new, datetime(2026, 12, 5, 8, 30, tzinfo=JST)))
    await mailer.wait_idle("mailer-ils")
    await mailer.publish(work)

    await mailer.wait_outcomes(1, "sent")
    (sent,) = await mailer.outcomes("sent")
    assert sent.recipient == new
    assert [r for m in mailer.smtp.received for r in m.rcpt_tos] == [new]
