"""A missed daily run fired later by staff (``otayori schedule fire``, docs/scheduler.md).

Its mails count their usefulness from when the run is made, not from its nominal time:
an overdue run fired two days late takes the reminders waiting now, and they must go out,
not expire unsent while their tombstones keep the day's own run off them.
"""

from __future__ import annotations

from datetime import datetime

from shared.clock import JST
from tests.integration.mailer.conftest import Mailer
from tests.integration.mailer.events import fired, overdue


async def test_a_past_overdue_run_fired_late_mails_the_waiting_reminders(mailer: Mailer) -> None:
    # Mailer clock: Saturday 2026-12-05 09:00 JST; the reminder waits for a run.
    await mailer.publish(overdue("P700", "L-70"))
    await mailer.wait_pending("od.P700", 1)
    # Staff fire Thursday's missed run now (nominal Thursday 10:00), then Saturday's own run.
    await mailer.publish(fired("daily-overdue", datetime(2026, 12, 3, 10, 0, tzinfo=JST)))
    await mailer.wait_idle()
    await mailer.publish(fired("daily-overdue", datetime(2026, 12, 5, 10, 0, tzinfo=JST)))
    await mailer.wait_idle()
    outcomes = [(o.outcome, o.cause) for o in await mailer.outcomes()]
    assert outcomes == [("sent", None)], outcomes
    assert mailer.smtp.count() == 1
