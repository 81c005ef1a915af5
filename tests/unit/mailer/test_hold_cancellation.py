"""A cancelled hold (予約解除, also one already 貸出可能: the patron phones, Q9) gets no ready
mail: its cancellation is recorded in ``mail_returned``, drops the hold's waiting ready
report, stops a report collected later (out of order, redelivered), and is left out by the
run; a report secured *after* the cancellation is a new hold and is mailed. A re-posted
cancellation is the same mail (keyed by the hold and its pickup deadline).

Pure rules, keys, and the collector against in-memory buckets with real compare-and-set.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest

from services.mailer.collect.handlers import Collector
from services.mailer.collect.store import PendingStore
from services.mailer.plan import eligibility, grouping, keys
from services.mailer.plan.model import PendingEntry, PendingEvent
from services.mailer.plan.work import prompt_work
from shared.clock import JST, ManualClock
from shared.contracts.ils import HoldCancelled, HoldReady
from tests.integration.mailer.events import DELIVERY, WorkRecorder, hold_cancelled, hold_ready
from tests.support.fakekv import FakeKV
from tests.unit.mailer.builders import suspended

SECURED = datetime(2026, 12, 4, 15, 0, tzinfo=JST)  # Friday 15:00
CANCELLED = datetime(2026, 12, 4, 18, 0, tzinfo=JST)  # Friday 18:00, by phone
DEADLINE = date(2026, 12, 12)
SATURDAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 4, 18, 1, tzinfo=JST)
RUN = keys.hold_ready_run(SATURDAY)


def _ready(hold: str = "H-77", secured: datetime = SECURED, **changes: object) -> HoldReady:
    return hold_ready("P900", hold, secured, DEADLINE).model_copy(update=changes)


def _cancel(
    hold: str = "H-77", at: datetime = CANCELLED, deadline: date | None = DEADLINE
) -> HoldCancelled:
    event = hold_cancelled("P900", "p900@example.jp", hold, at=at)
    update = {
        "event_id": f"cancel-{hold}-{at.isoformat()}",
        "reason": "patron_request",
        "pickup_deadline": deadline,
    }
    return event.model_copy(update=update)


def _entry(*held: PendingEvent) -> PendingEntry:
    return PendingEntry(kind="hold_ready", patron_id="P900", events=held)


# -- the pure rules ----------------------------------------------------------------------


def test_a_report_secured_at_or_before_the_cancellation_is_cancelled() -> None:
    cancel = _cancel()
    assert eligibility.is_cancelled(_ready(), cancel)
    assert eligibility.is_cancelled(_ready(secured=CANCELLED), cancel)
    # Made ready again after the cancellation: a new hold under the same id.
    assert not eligibility.is_cancelled(_ready(secured=CANCELLED + timedelta(minutes=1)), cancel)
    assert not eligibility.is_cancelled(_ready("H-78"), cancel)
    assert not eligibility.is_cancelled(_ready(), None)
    assert not eligibility.is_cancelled(cancel, cancel)


def test_the_cancellation_drops_only_the_holds_waiting_report() -> None:
    other = _ready("H-78", event_id="ready-H-78")
    again = _ready(secured=CANCELLED + timedelta(hours=16), event_id="ready-again")
    marked = _ready(event_id="ready-marked")
    entry = _entry(
        PendingEvent(event=_ready()),
        PendingEvent(event=other),
        PendingEvent(event=again),
    )
    kept = eligibility.drop_holds(entry, _cancel())
    assert [p.event for p in kept.events] == [other, again]
    # A report a run has marked stays: that run's set is frozen; the sender leaves it out.
    frozen = _entry(PendingEvent(event=marked, run=RUN))
    assert eligibility.drop_holds(frozen, _cancel()) == frozen


def test_the_newest_cancellation_is_kept() -> None:
    first, second = _cancel(), _cancel(at=CANCELLED + timedelta(days=2))
    assert eligibility.newer_cancellation(None, first) is first
    assert eligibility.newer_cancellation(first, second) is second
    assert eligibility.newer_cancellation(second, first) is second  # redelivered older one
    assert eligibility.newer_cancellation(first, first.model_copy()) is first


def test_the_run_neither_takes_nor_keeps_a_cancelled_hold() -> None:
    # A report collected while its cancellation was being handled is still in the entry.
    cancelled, other = _ready(), _ready("H-78", event_id="ready-H-78")
    again = _ready(secured=CANCELLED + timedelta(hours=1), event_id="ready-again")
    cancellations = {"H-77": _cancel()}
    eligible = eligibility.hold_ready_eligible(SATURDAY, cancellations)
    useless = eligibility.hold_ready_useless(SATURDAY, cancellations)
    entry = _entry(PendingEvent(event=cancelled), PendingEvent(event=other))
    result = grouping.assign(entry, RUN, eligible, useless)
    assert result.taken == (other,)
    assert [p.event for p in result.entry.events] == [other]
    assert eligible(again) and not useless(again)
    # Without cancellations the rules are as before.
    assert eligibility.hold_ready_eligible(SATURDAY)(cancelled)
    assert not eligibility.hold_ready_useless(SATURDAY)(cancelled)


# -- keys --------------------------------------------------------------------------------


def test_a_reposted_cancellation_is_the_same_mail() -> None:
    first = _cancel()
    repost = first.model_copy(update={"event_id": "ils-repost-0001"})
    one = prompt_work(first, recipient="p900@example.jp", now=NOW)
    two = prompt_work(repost, recipient="p900@example.jp", now=NOW + timedelta(hours=1))
    assert (one.business_key, one.mail_id) == (two.business_key, two.mail_id)
    # Made ready again (a new deadline) and cancelled again: a mail of its own.
    later = _cancel(at=CANCELLED + timedelta(days=3), deadline=DEADLINE + timedelta(days=7))
    assert prompt_work(later, recipient="p900@example.jp", now=NOW).mail_id != one.mail_id
    assert keys.prompt_run(_cancel(deadline=None)) == "cancel-H-77-none"
    assert keys.prompt_run(_cancel("H:7.7")).startswith("cancel-h-")  # not KV-safe


def test_a_suspension_keeps_its_event_key() -> None:
    first = suspended(event_id="suspended-0001")
    repost = suspended(event_id="suspended-0002")
    assert keys.prompt_run(first) == "event-suspended-0001"
    assert keys.prompt_run(first) != keys.prompt_run(repost)


def test_cancelled_holds_and_returned_loans_never_share_a_key() -> None:
    assert keys.cancelled_key("X-1") == "hold.X-1"
    assert keys.returned_key("X-1") == "loan.X-1"
    assert keys.cancelled_key("X.1").startswith("hold.h-")


# -- the collector ---------------------------------------------------------------------


class FailingOnce(FakeKV):
    """A bucket whose next write of ``fail_on`` fails once (a crash between the steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_on: str | None = None

    def _fail(self, key: str) -> None:
        if key == self.fail_on:
            self.fail_on = None
            raise ConnectionError("broker gone")

    async def put(self, key: str, value: bytes) -> int:
        self._fail(key)
        return await super().put(key, value)

    async def delete(self, key: str, last: int | None = None) -> bool:
        self._fail(key)
        return await super().delete(key, last)


def _collector(
    pending: FakeKV | None = None, returned: FakeKV | None = None
) -> tuple[Collector, WorkRecorder, PendingStore]:
    store = PendingStore(None, pending or FakeKV(), returned or FakeKV())  # type: ignore[arg-type]
    recorder = WorkRecorder()
    collector = Collector(
        store=store, publish=recorder, clock=ManualClock(NOW), staff_address="s@x.jp"
    )
    return collector, recorder, store


async def test_a_cancellation_drops_the_waiting_ready_report_and_mails_once() -> None:
    pending, returned = FakeKV(), FakeKV()
    collector, recorder, store = _collector(pending, returned)
    await collector.on_ils(_ready(), DELIVERY)
    assert await store.read("hr.P900") is not None

    await collector.on_ils(_cancel(), DELIVERY)
    await collector.on_ils(_cancel(), DELIVERY)  # redelivered: the same three steps

    assert await store.read("hr.P900") is None  # nothing left to mail: deleted
    assert await store.cancellation("H-77") == _cancel()
    assert [w.kind for w in recorder.works] == ["hold_cancelled"] * 2
    assert len({w.mail_id for w in recorder.works}) == 1  # the ledger sends it once
    assert set(returned.data) == {"hold.H-77"}


async def test_a_ready_report_after_its_cancellation_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector, _, store = _collector()
    await collector.on_ils(_cancel(), DELIVERY)  # out of order: the cancellation first
    with caplog.at_level(logging.INFO, logger="services.mailer.collect.handlers"):
        await collector.on_ils(_ready(), DELIVERY)
    assert await store.read("hr.P900") is None
    (record,) = [r for r in caplog.records if r.getMessage() == "collect.hold_already_cancelled"]
    assert record.patron_id == "P900"  # type: ignore[attr-defined]
    assert "p900@example.jp" not in str(record.__dict__)


async def test_a_hold_made_ready_again_after_its_cancellation_is_collected() -> None:
    collector, _, store = _collector()
    await collector.on_ils(_ready(), DELIVERY)
    await collector.on_ils(_cancel(), DELIVERY)
    again = _ready(
        secured=CANCELLED + timedelta(hours=15),
        pickup_deadline=DEADLINE + timedelta(days=2),
        event_id="ready-again",
    )
    await collector.on_ils(again, DELIVERY)
    await collector.on_ils(_cancel(), DELIVERY)  # the old cancellation redelivered
    held = await store.read("hr.P900")
    assert held is not None and [p.event for p in held.entry.events] == [again]


async def test_a_cancelled_report_left_by_a_race_does_not_hold_off_the_new_one() -> None:
    collector, _, store = _collector()
    await store.record_cancelled(_cancel())
    # Collected while the cancellation was handled (its check came before the record).
    await store.add("hr.P900", "hold_ready", "P900", _ready())
    again = _ready(secured=CANCELLED + timedelta(hours=15), event_id="ready-again")
    await collector.on_ils(again, DELIVERY)
    held = await store.read("hr.P900")
    assert held is not None and [p.event for p in held.entry.events] == [again]


async def test_a_redelivered_older_cancellation_does_not_undo_a_newer_one() -> None:
    collector, _, store = _collector()
    newer = _cancel(at=CANCELLED + timedelta(days=2))
    await collector.on_ils(newer, DELIVERY)
    await collector.on_ils(_cancel(), DELIVERY)
    assert await store.cancellation("H-77") == newer
    # A report secured between the two is ended by the newer one.
    between = _ready(secured=CANCELLED + timedelta(days=1), event_id="ready-between")
    await collector.on_ils(between, DELIVERY)
    assert await store.read("hr.P900") is None
    assert await store.cancelled_among({"H-77", "H-78"}) == {"H-77": newer}


async def test_a_crash_between_the_steps_is_repaired_by_the_redelivery() -> None:
    pending = FailingOnce()
    collector, recorder, store = _collector(pending=pending)
    await collector.on_ils(_ready(), DELIVERY)
    # Recorded, then the drop fails: the handler raises, the message is redelivered.
    pending.fail_on = "hr.P900"
    with pytest.raises(ConnectionError):
        await collector.on_ils(_cancel(), DELIVERY)
    assert await store.cancellation("H-77") == _cancel()
    assert recorder.works == []  # nothing mailed before the report is gone
    await collector.on_ils(_cancel(), DELIVERY)
    assert await store.read("hr.P900") is None
    assert [w.kind for w in recorder.works] == ["hold_cancelled"]


def test_a_report_secured_later_supersedes_the_waiting_earlier_one() -> None:
    first = _ready()
    again = _ready(secured=SECURED + timedelta(hours=5), event_id="ils-ready-again")
    entry = grouping.add_event(PendingEntry(kind="hold_ready", patron_id="P900"), first)
    assert entry is not None
    entry = grouping.add_event(entry, again)
    assert entry is not None
    assert [p.event.event_id for p in entry.events] == ["ils-ready-again"]
    # The same report posted again (same secured time) is still held already.
    assert grouping.add_event(entry, again.model_copy(update={"event_id": "x"})) is None
    # A report a run has marked is not replaced: the run is mailing it.
    marked = PendingEntry(
        kind="hold_ready", patron_id="P900", events=(PendingEvent(event=first, run="hr-run"),)
    )
    assert grouping.add_event(marked, again) is None
