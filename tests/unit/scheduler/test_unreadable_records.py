"""Unreadable values in the scheduler's buckets: errors that carry the key and revision
(never the value), pauses that count as paused, hints for staff (no sockets)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.scheduler import commands, errors
from services.scheduler.records import PauseRecord, RuntimeClosure, TriggerState
from services.scheduler.store import StateStore
from tests.support.fakekv import FakeKV

from .support import jst

MARKER = "patron-7@example.jp"
GARBAGE = f'{{"note": "{MARKER}"}}'.encode()


def _store() -> tuple[StateStore, FakeKV]:
    kv = FakeKV()
    return StateStore(kv), kv  # type: ignore[arg-type]


async def test_an_unreadable_state_raises_with_its_key_and_revision_not_its_value() -> None:
    store, kv = _store()
    revision = await kv.put("trigger.daily-overdue", GARBAGE)

    with pytest.raises(errors.SchedulerError) as raised:
        await store.get("daily-overdue")

    unreadable = raised.value
    assert isinstance(unreadable, errors.UnreadableRecord)
    assert (unreadable.bucket, unreadable.key) == ("schedule_state", "trigger.daily-overdue")
    assert unreadable.revision == revision
    assert "handled_through" in unreadable.detail  # what is wrong, by field
    assert MARKER not in str(unreadable) and MARKER not in unreadable.detail


async def test_the_rebuilt_state_replaces_the_unreadable_one_only_at_its_revision() -> None:
    store, kv = _store()
    revision = await kv.put("trigger.daily-overdue", b"")
    state = TriggerState(handled_through=jst(2026, 12, 5, 10), by="a", updated_at=jst(2026, 12, 5))

    with pytest.raises(errors.UnreadableRecord):
        await store.get("daily-overdue")
    await store.save("daily-overdue", state, last=revision)
    found = await store.get("daily-overdue")
    assert found is not None and found[0] == state

    with pytest.raises(errors.StateConflict):
        await store.save("daily-overdue", state, last=revision)


async def test_an_unreadable_pause_raises_and_resume_still_removes_it() -> None:
    store, kv = _store()
    await kv.put("pause.daily-overdue", b"not json")

    with pytest.raises(errors.UnreadableRecord) as raised:
        await store.paused("daily-overdue")
    assert raised.value.key == "pause.daily-overdue"

    assert await store.resume("daily-overdue") is True
    assert await store.paused("daily-overdue") is None
    assert await store.resume("daily-overdue") is False


async def test_a_readable_pause_is_read() -> None:
    store, _ = _store()
    record = PauseRecord(paused_at=jst(2026, 12, 5), by="staff@host", note="見直し")
    await store.pause("daily-overdue", record)
    assert await store.paused("daily-overdue") == record


def test_a_runtime_closure_that_ends_before_it_starts_is_not_a_record() -> None:
    with pytest.raises(ValidationError, match="before it starts"):
        RuntimeClosure(
            start=date(2027, 2, 19),
            end=date(2027, 2, 18),
            reason="臨時休館",
            added_at=jst(2027, 2, 1),
            by="staff@host",
        )


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        pytest.param(
            "closure.2027-02-18.2027-02-19",
            "otayori schedule reopen --from 2027-02-18 --to 2027-02-19",
            id="closure-key",
        ),
        pytest.param(
            "closure.2027-02-30.2027-03-01",
            "nats kv del schedule_closures closure.2027-02-30.2027-03-01",
            id="no-such-day",
        ),
        pytest.param(
            "closure.1999-12-31.1999-12-31",
            "nats kv del schedule_closures closure.1999-12-31.1999-12-31",
            id="out-of-the-cli-range",
        ),
        pytest.param(
            "closure.2027-2-18.2027-2-18",
            "nats kv del schedule_closures closure.2027-2-18.2027-2-18",
            id="not-iso",
        ),
        pytest.param("notes", "nats kv del schedule_closures notes", id="other-key"),
    ],
)
def test_the_way_to_remove_an_unreadable_closure(key: str, hint: str) -> None:
    assert commands.closure_removal(key) == hint
