"""Online-loan items already mailed in their batch are never mailed again.

After the Saturday run has mailed a patron's items and released them from
``mail_pending``, the same ``ils.loan.online_issued`` can reach the collector again: a
JetStream redelivery (its ack was lost, e.g. the mailer was killed right after collecting
it) or an ILS re-post. The entry keeps the batch's mailed loan ids (tombstones), so such
an event is not a late item; only loans never mailed in the batch are.
"""

from __future__ import annotations

import email.policy
from email import message_from_bytes

from shared.bus.publish import MSG_ID, encode
from shared.contracts.ils import LoanItem, LoanOnlineIssued
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import online_loan, saturday_trigger
from tests.support.nats import stream_messages

PATRON = "P700"
ENTRY = "ol.2026-12-03.P700"


async def _deliver_again(mailer: Mailer, event: LoanOnlineIssued, tag: str) -> None:
    """The consumer meets ``event`` again, as after a redelivery.

    Published under another ``Nats-Msg-Id``: the stream's duplicate window would drop a
    re-publish, while a redelivery (or an ILS re-post after the window) reaches the
    handler with the same event id and items.
    """
    await mailer.js.publish(
        event.subject(), encode(event), headers={MSG_ID: f"{tag}-{event.event_id}"}
    )


async def _saturday_mail(mailer: Mailer, event: LoanOnlineIssued) -> None:
    await mailer.publish(event)
    await mailer.wait_pending(ENTRY, 1)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()


async def _work_items(mailer: Mailer) -> int:
    return len(await stream_messages(mailer.js, "MAIL", "mail.send.>"))


def _body(data: bytes) -> str:
    msg = message_from_bytes(data, policy=email.policy.default)
    part = msg.get_body(("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


def _with_items(
    event: LoanOnlineIssued, *loans: str, event_id: str | None = None
) -> LoanOnlineIssued:
    """``event`` listing its own items plus ``loans`` (same event id unless given)."""
    due = event.items[0].due_date
    extra = [LoanItem(loan_id=n, item_id=f"item-{n}", title=f"本 {n}", due_date=due) for n in loans]
    update: dict[str, object] = {"items": [*event.items, *extra]}
    if event_id is not None:
        update["event_id"] = event_id
    return event.model_copy(update=update)


async def test_an_event_redelivered_after_the_saturday_mail_is_not_mailed_again(
    mailer: Mailer,
) -> None:
    event = online_loan(PATRON, "L-1", "L-2")
    await _saturday_mail(mailer, event)

    await _deliver_again(mailer, event, "redelivery")
    await mailer.wait_idle()

    assert [r.rcpt_tos for r in mailer.smtp.received] == [["p700@example.jp"]]
    assert await _work_items(mailer) == 1  # the re-collected event made no work item
    assert len(await mailer.outcomes()) == 1
    assert await mailer.pending_events(ENTRY) == 0


async def test_an_ils_repost_with_a_new_event_id_and_the_same_items_is_not_mailed_again(
    mailer: Mailer,
) -> None:
    event = online_loan(PATRON, "L-1")
    await _saturday_mail(mailer, event)

    await mailer.publish(event.model_copy(update={"event_id": "ils-resent-0700"}))
    await mailer.wait_idle()

    assert mailer.smtp.count() == 1
    assert await _work_items(mailer) == 1


async def test_a_repost_with_an_additional_item_mails_the_new_item_alone(mailer: Mailer) -> None:
    event = online_loan(PATRON, "L-1")
    await _saturday_mail(mailer, event)

    # The ILS re-posts the event with one more item: same event id, then a new one.
    await _deliver_again(mailer, _with_items(event, "L-2"), "repost")
    await mailer.wait_outcomes(2, "sent")
    await mailer.publish(_with_items(event, "L-3", event_id="ils-resent-0701"))
    await mailer.wait_outcomes(3, "sent")
    await mailer.wait_idle()

    bodies = [_body(r.data) for r in mailer.smtp.received]
    assert len(bodies) == 3
    assert "本 L-1" in bodies[0]
    assert "本 L-2" in bodies[1] and "本 L-1" not in bodies[1]
    assert "本 L-3" in bodies[2] and "本 L-1" not in bodies[2] and "本 L-2" not in bodies[2]
    # Each again: nothing more.
    await _deliver_again(mailer, _with_items(event, "L-2"), "again")
    await mailer.publish(_with_items(event, "L-2", "L-3", event_id="ils-resent-0702"))
    await mailer.wait_idle()
    assert mailer.smtp.count() == 3
    assert await _work_items(mailer) == 3
