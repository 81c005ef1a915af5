"""A hold made ready again whose cancellation is handled after the new report.

ILS order: ready (Friday 15:00), cancelled (18:00), ready again (secured 20:00, a later
deadline). The mailer may handle the cancellation last (a retry after a NATS error, or its
handlers running side by side): the later report supersedes the waiting earlier one, and
the cancellation then ends the earlier one only. Same end state as in order: one
cancellation mail and one ready mail, for the report made ready again.
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.test_hold_cancellation import (
    CANCELLED,
    DEADLINE,
    _cancel,
    _ready,
    _run,
    _sent,
)


async def test_ready_again_handled_before_the_cancellation_is_mailed(mailer: Mailer) -> None:
    await mailer.publish(_ready())
    await mailer.wait_pending("hr.P900", 1)
    again = _ready(secured=CANCELLED + timedelta(hours=2), deadline=DEADLINE + timedelta(days=2))
    await mailer.publish(again)
    await mailer.wait_idle("mailer-ils")
    await mailer.publish(_cancel())
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()

    await _run(mailer)
    sent = await _sent(mailer)
    assert sorted(o.kind for o in sent) == ["hold_cancelled", "hold_ready"]
    (ready,) = [o for o in sent if o.kind == "hold_ready"]
    assert again.event_id in ready.source_event_ids
