"""The Saturday online-loan mail: one mail per patron per batch, listing every item."""

from __future__ import annotations

import email.policy
from email import message_from_bytes

from shared.verp import find_token, verify_token
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import online_loan, saturday_trigger


def _body(data: bytes) -> str:
    msg = message_from_bytes(data, policy=email.policy.default)
    part = msg.get_body(("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


async def test_one_mail_per_patron_per_batch_lists_every_item(mailer: Mailer) -> None:
    first = online_loan("P001", "L-1", "L-2")
    second = online_loan("P001", "L-3")
    other = online_loan("P002", "L-9")
    await mailer.publish(first, second, other)
    # The ILS posts the same event again, and the trigger fires twice: still one mail each.
    await mailer.publish(first.model_copy(update={"event_id": "ils-resent-0001"}))
    await mailer.wait_pending("ol.2026-12-03.P001", 2)
    await mailer.wait_pending("ol.2026-12-03.P002", 1)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(2, "sent")
    await mailer.publish(saturday_trigger().model_copy(update={"event_id": "refire-00001"}))
    await mailer.wait_idle()

    assert mailer.smtp.count() == 2
    by_rcpt = {r.rcpt_tos[0]: r for r in mailer.smtp.received}
    body = _body(by_rcpt["p001@example.jp"].data)
    for loan in ("L-1", "L-2", "L-3"):
        assert f"本 {loan}" in body
    sent = await mailer.outcomes("sent")
    assert {o.patron_id for o in sent} == {"P001", "P002"}
    for received in mailer.smtp.received:
        token = find_token(received.mail_from)
        assert token is not None
        mail_id = verify_token(mailer.settings.verp_key, token)
        assert received.message_id == f"<otayori.{mail_id}@plib.pref.aomori.lg.jp>"


async def test_events_arriving_before_the_trigger_wait_for_it(mailer: Mailer) -> None:
    await mailer.publish(online_loan("P010", "L-10"))
    await mailer.wait_pending("ol.2026-12-03.P010", 1)
    assert mailer.smtp.count() == 0
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(1, "sent")
    assert mailer.smtp.count() == 1


async def test_items_issued_after_the_saturday_run_are_mailed_separately(mailer: Mailer) -> None:
    await mailer.publish(online_loan("P020", "L-20"))
    await mailer.wait_pending("ol.2026-12-03.P020", 1)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(1, "sent")
    await mailer.publish(online_loan("P020", "L-21"))
    await mailer.wait_outcomes(2, "sent")
    await mailer.wait_idle()
    assert mailer.smtp.count() == 2
    assert "本 L-21" in _body(mailer.smtp.received[1].data)
    assert "本 L-20" not in _body(mailer.smtp.received[1].data)
