"""A staff resolve and the suppression it lifts end consistent: after a failure half-way,
and whichever way it interleaves with a bounce being processed.

Consistent: the patron holds the address's suppression exactly while their queue entry
is open or contacted and names the address (``queue.holds_address``, spelled out here).
The interleavings are forced deterministically by running the other party's whole turn
inside a bucket call (no sleeps, no threads).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import services.bounce.suppress as suppress_mod
from services.bounce.errors import InvalidTransition
from services.bounce.staff_api import StaffActions
from services.bounce.stores import patron_key
from shared.contracts.bounce import PatronFlagUpdated
from shared.contracts.staff import MailOutcomeLine, QueueEntry, QueueUpdateRequest
from shared.mailrecord import MailRecord, address_key
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, Recorder, World, world

ADDR = "taro@docomo.ne.jp"
AKEY = address_key(ADDR)
MAIL_1 = ledger_record("online_loan:P1:b1", "P1", ADDR)
MAIL_2 = ledger_record("hold_ready:P1:h2", "P1", ADDR)
MAIL_3 = ledger_record("online_loan:P1:b3", "P1", ADDR)
REQ = QueueUpdateRequest(patron_id="P1", note="電話で確認済み", by="staff-k")

Turn = Callable[[], Awaitable[object]]


async def _no_outcomes(_: str) -> list[MailOutcomeLine]:
    return []


def staff(w: World, publish: Recorder | None = None) -> StaffActions:
    return StaffActions(w.stores, publish or w.publish, w.clock, _no_outcomes)


async def bounce(w: World, record: MailRecord) -> None:
    await w.stores.ledger.put(record.mail_id, record)
    raw = build_dsn(recipient=ADDR, verp_to=verp_for(KEY, record),
                    bounce_message_id=f"<dsn-{record.mail_id[:8]}@mx>")  # fmt: skip
    assert await w.processor.handle_message(raw) == "processed"


async def state(w: World) -> tuple[str | None, bool, bool]:
    """(entry status, entry holds the address, the patron holds the suppression)."""
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    sup, _ = await w.stores.suppressions.get(AKEY)
    held = sup is not None and "P1" in sup.patron_ids
    if entry is None:
        return None, False, held
    return entry.status, entry.status in ("open", "contacted") and AKEY in entry.address_keys, held


def once(mp: pytest.MonkeyPatch, obj: object, name: str, turn: Turn, *, after: bool) -> None:
    """Run ``turn`` once, right before (or after) the next call of ``obj.name``."""
    original: Callable[..., Awaitable[Any]] = getattr(obj, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        mp.setattr(obj, name, original)
        if not after:
            await turn()
        result = await original(*args, **kwargs)
        if after:
            await turn()
        return result

    mp.setattr(obj, name, wrapper)


class FailingOnce:
    """Raises ``TimeoutError`` (a NATS timeout) on its first call, then delegates."""

    def __init__(self, inner: Callable[..., Awaitable[Any]]) -> None:
        self.inner = inner
        self.failed = False

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise TimeoutError("nats: timeout")
        return await self.inner(*args, **kwargs)


async def test_a_resolve_whose_lift_timed_out_is_completed_by_sending_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = world()
    await bounce(w, MAIL_1)
    assert await state(w) == ("open", True, True)
    monkeypatch.setattr(w.stores.suppressions, "update", FailingOnce(w.stores.suppressions.update))
    actions = staff(w)
    with pytest.raises(TimeoutError):
        await actions.update(REQ, "resolved")
    assert await state(w) == ("open", True, True)  # nothing half-done left behind
    reply = await actions.update(REQ, "resolved")
    assert reply.entry is not None and reply.entry.status == "resolved"
    assert await state(w) == ("resolved", False, False)
    assert [e.status for e in w.publish.of(PatronFlagUpdated)] == ["resolved"]  # type: ignore[attr-defined]


async def test_a_resolve_whose_event_was_not_published_is_published_by_sending_it_again() -> None:
    w = world()
    await bounce(w, MAIL_1)
    publish = Recorder()
    fail = FailingOnce(publish)
    actions = StaffActions(w.stores, fail, w.clock, _no_outcomes)
    with pytest.raises(TimeoutError):
        await actions.update(REQ, "resolved")
    reply = await actions.update(REQ, "resolved")
    assert reply.entry is not None and reply.entry.status == "resolved"
    assert [n.text for n in reply.entry.notes].count(REQ.note) == 1  # marked once
    (event,) = publish.of(PatronFlagUpdated)
    assert isinstance(event, PatronFlagUpdated)
    assert event.event_id == f"flag-updated-P1-{len(reply.entry.notes)}"
    assert await state(w) == ("resolved", False, False)


async def test_another_resolve_of_a_resolved_flag_is_still_refused() -> None:
    w = world()
    await bounce(w, MAIL_1)
    await staff(w).update(REQ, "resolved")
    other = QueueUpdateRequest(patron_id="P1", note="別の担当者", by="staff-s")
    with pytest.raises(InvalidTransition):
        await staff(w).update(other, "resolved")


async def test_a_resolve_between_a_bounces_queue_write_and_its_suppression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reviewer's race: the processor has written the entry, not the suppression."""
    w = world()

    async def resolve() -> None:
        await staff(w).update(REQ, "resolved")

    once(monkeypatch, w.stores.suppressions, "update", resolve, after=False)
    await bounce(w, MAIL_1)
    assert await state(w) == ("resolved", False, False)
    assert len(w.publish.of(PatronFlagUpdated)) == 1


async def test_a_resolve_before_a_bounces_queue_write_leaves_the_reopened_flag_suppressed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resolve lifts the hold the new bounce relies on; the bounce then re-opens."""
    w = world()
    await bounce(w, MAIL_1)

    async def resolve() -> None:
        await staff(w).update(REQ, "resolved")

    once(monkeypatch, w.stores.queue, "update", resolve, after=False)
    await bounce(w, MAIL_2)
    assert await state(w) == ("open", True, True)


async def test_a_bounce_between_a_resolves_lift_and_its_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bounce re-suppresses after the lift, on the still open entry; the mark follows."""
    w = world()
    await bounce(w, MAIL_1)

    async def second_bounce() -> None:
        await bounce(w, MAIL_2)

    once(monkeypatch, w.stores.suppressions, "update", second_bounce, after=True)
    reply = await staff(w).update(REQ, "resolved")
    assert reply.entry is not None and reply.entry.status == "resolved"
    assert reply.entry.bounce_count == 2  # the second bounce was counted before the mark
    assert await state(w) == ("resolved", False, False)


async def _resolved_but_unsettled(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounce re-suppresses between the resolve's lift and its mark; the mark lands
    (``address_keys`` cleared), then settling fails with a NATS timeout."""
    await bounce(w, MAIL_1)

    async def second_bounce() -> None:
        await bounce(w, MAIL_2)

    once(monkeypatch, w.stores.suppressions, "update", second_bounce, after=True)
    monkeypatch.setattr(suppress_mod, "settle", FailingOnce(suppress_mod.settle))
    with pytest.raises(TimeoutError):
        await staff(w).update(REQ, "resolved")
    assert await state(w) == ("resolved", False, True)  # the half-done state


async def test_a_resolve_whose_settling_timed_out_after_the_mark_is_completed_by_sending_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry finds the flag resolved and its addresses cleared; the mark recorded
    what it lifted, so the retry still settles it (the reviewer's case)."""
    w = world()
    await _resolved_but_unsettled(w, monkeypatch)
    reply = await staff(w).update(REQ, "resolved")
    assert reply.entry is not None and reply.entry.status == "resolved"
    assert reply.entry.lifted_unsettled == []
    assert await state(w) == ("resolved", False, False)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.lifted_unsettled == []


async def test_a_refused_resolve_still_settles_what_an_earlier_resolve_left_unsettled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = world()
    await _resolved_but_unsettled(w, monkeypatch)
    other = QueueUpdateRequest(patron_id="P1", note="別の担当者", by="staff-s")
    with pytest.raises(InvalidTransition):
        await staff(w).update(other, "resolved")
    assert await state(w) == ("resolved", False, False)


async def test_a_bounce_after_an_unsettled_resolve_reopens_the_flag_suppressed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lifts still recorded as unsettled do not lift the re-opened flag's address;
    a later resolve settles them all."""
    w = world()
    await _resolved_but_unsettled(w, monkeypatch)
    await bounce(w, MAIL_3)
    assert await state(w) == ("open", True, True)
    await staff(w).update(REQ, "resolved")
    assert await state(w) == ("resolved", False, False)


def test_entries_stored_before_lifted_unsettled_read_as_nothing_unsettled() -> None:
    old = (
        '{"patron_id":"P1","status":"resolved","first_seen":"2026-12-05T09:00:00Z",'
        '"last_seen":"2026-12-05T09:00:00Z","updated_at":"2026-12-05T09:00:00Z"}'
    )
    entry = QueueEntry.model_validate_json(old)
    assert entry.lifted_unsettled == []
    assert "lifted_unsettled" not in entry.model_dump_json()  # older readers forbid it
