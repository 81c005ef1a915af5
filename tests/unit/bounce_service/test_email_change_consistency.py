"""An email change resolves the flag and lifts its suppressions consistently: after a
failure half-way (redelivery completes it), and whichever way it interleaves with a bounce.

Consistent: the patron holds the address's suppression exactly while their queue entry
is open or contacted and names the address (``queue.holds_address``). A change without
``old_email`` (the ILS does not always know it) leaves the bounced address in the index,
so a bounce racing the change still flags and suppresses. The interleavings are forced
deterministically by running the other party's whole turn inside a bucket call (no
sleeps, no threads), as in ``test_resolve_consistency``.
"""

from __future__ import annotations

from typing import Any

import pytest

import services.bounce.suppress as suppress_mod
from services.bounce.patrons import PatronEvents
from services.bounce.queue import EMAIL_CHANGED_NOTE
from shared.bus.consume import Delivery, Retry
from shared.contracts.bounce import PatronFlagUpdated
from shared.contracts.ils import PatronEmailChanged
from tests.unit.bounce_service.fakes import T0, Recorder, World, world
from tests.unit.bounce_service.test_resolve_consistency import (
    ADDR,
    MAIL_1,
    MAIL_2,
    FailingOnce,
    bounce,
    once,
    state,
)

NEW = "taro.new@example.jp"
#: The ILS did not say which address was replaced.
CHANGE = PatronEmailChanged(event_id="ils-email-1", occurred_at=T0, patron_id="P1", new_email=NEW)
CHANGE_FROM_ADDR = CHANGE.model_copy(update={"event_id": "ils-email-2", "old_email": ADDR})


def delivery(n: int = 1) -> Delivery:
    return Delivery(CHANGE.subject(), CHANGE.event_id, n, 7, raw=None)  # type: ignore[arg-type]


def events(w: World, publish: Any = None) -> PatronEvents:
    return PatronEvents(w.stores, publish or w.publish, w.clock)


def updates(publish: Recorder) -> list[tuple[str, str]]:
    return [(e.event_id, e.status) for e in publish.of(PatronFlagUpdated)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("change", [CHANGE, CHANGE_FROM_ADDR], ids=["no-old", "old-email"])
async def test_a_change_whose_lift_timed_out_is_retried_and_completed_by_redelivery(
    monkeypatch: pytest.MonkeyPatch, change: PatronEmailChanged
) -> None:
    w = world()
    await bounce(w, MAIL_1)
    assert await state(w) == ("open", True, True)
    monkeypatch.setattr(w.stores.suppressions, "update", FailingOnce(w.stores.suppressions.update))
    with pytest.raises(Retry):  # an explicit outcome: nak, redeliver later
        await events(w).handle(change, delivery(1))
    assert await state(w) == ("open", True, True)  # nothing half-done left behind
    assert w.publish.of(PatronFlagUpdated) == []
    await events(w).handle(change, delivery(2))
    assert await state(w) == ("resolved", False, False)
    assert updates(w.publish) == [(f"flag-updated-P1-{change.event_id}", "resolved")]


async def test_a_change_whose_event_was_not_published_is_published_by_redelivery() -> None:
    w = world()
    await bounce(w, MAIL_1)
    publish = Recorder()
    with pytest.raises(TimeoutError):  # a publish failure is the consumer's to retry
        await events(w, FailingOnce(publish)).email_changed(CHANGE)
    assert await state(w) == ("resolved", False, False)
    await events(w, publish).handle(CHANGE, delivery(2))
    entry, _ = await w.stores.queue.get("P1")
    assert entry is not None and [n.text for n in entry.notes].count(EMAIL_CHANGED_NOTE) == 1
    assert updates(publish) == [("flag-updated-P1-ils-email-1", "resolved")]
    assert await state(w) == ("resolved", False, False)


async def test_a_redelivered_change_of_a_resolved_flag_changes_nothing() -> None:
    w = world()
    await bounce(w, MAIL_1)
    await events(w).handle(CHANGE, delivery(1))
    before = await w.stores.queue.get("P1")
    await events(w).handle(CHANGE, delivery(2))
    assert await w.stores.queue.get("P1") == before
    assert await state(w) == ("resolved", False, False)


async def test_a_bounce_between_the_changes_mark_and_its_settling_reopens_consistently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bounce lands right after the flag was marked resolved: it re-opens the flag,
    and the address it names stays suppressed (it was not lifted after the re-open)."""
    w = world()
    await bounce(w, MAIL_1)

    async def second_bounce() -> None:
        await bounce(w, MAIL_2)

    once(monkeypatch, w.stores.queue, "update", second_bounce, after=True)
    await events(w).handle(CHANGE, delivery())
    assert await state(w) == ("open", True, True)


async def test_a_bounce_between_the_changes_lift_and_its_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bounce re-suppresses after the lift, on the still open flag; the mark follows
    and the settling lifts the suppression again."""
    w = world()
    await bounce(w, MAIL_1)

    async def second_bounce() -> None:
        await bounce(w, MAIL_2)

    once(monkeypatch, w.stores.suppressions, "update", second_bounce, after=True)
    await events(w).handle(CHANGE, delivery())
    entry, _ = await w.stores.queue.get("P1")
    assert entry is not None and entry.status == "resolved"
    assert entry.bounce_count == 2  # the second bounce was counted before the mark
    assert await state(w) == ("resolved", False, False)


async def test_a_change_between_a_bounces_queue_write_and_its_suppression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The processor has written the entry, not yet the suppression, when the change runs."""
    w = world()

    async def change() -> None:
        await events(w).handle(CHANGE, delivery())

    once(monkeypatch, w.stores.suppressions, "update", change, after=False)
    await bounce(w, MAIL_1)
    assert await state(w) == ("resolved", False, False)
    assert len(w.publish.of(PatronFlagUpdated)) == 1


async def test_a_change_whose_settling_timed_out_after_the_mark_is_completed_by_redelivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bounce re-suppresses between the lift and the mark; the mark lands (addresses
    cleared), settling times out. The redelivery finds nothing to resolve, yet settles
    what the mark recorded as lifted (the reviewer's case)."""
    w = world()
    await bounce(w, MAIL_1)

    async def second_bounce() -> None:
        await bounce(w, MAIL_2)

    once(monkeypatch, w.stores.suppressions, "update", second_bounce, after=True)
    monkeypatch.setattr(suppress_mod, "settle", FailingOnce(suppress_mod.settle))
    with pytest.raises(Retry):
        await events(w).handle(CHANGE, delivery(1))
    assert await state(w) == ("resolved", False, True)  # the half-done state
    await events(w).handle(CHANGE, delivery(2))
    assert await state(w) == ("resolved", False, False)
    entry, _ = await w.stores.queue.get("P1")
    assert entry is not None and entry.lifted_unsettled == []
    assert updates(w.publish) == [("flag-updated-P1-ils-email-1", "resolved")]
