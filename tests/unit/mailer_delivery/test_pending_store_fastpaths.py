"""The pending store's assign and release write what the general code wrote.

(Their writes for many entries go out together: ``_apply_all``; here one entry at a time,
with a concurrent writer, against the general code's one ``change`` per entry.)

``PendingStore.assign`` / ``release`` skip the deep ``new == current`` comparison (the
pure change knows whether it changed anything), the store decodes entries with a narrow
model and encodes them straight to bytes. ``GeneralStore`` below is the store as it was:
both run against an in-memory bucket with real compare-and-set, a concurrent writer
optionally getting in first, and must leave the same writes, revisions and answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.mailer.collect.store import PendingStore, Stored
from services.mailer.plan.grouping import Eligible, Siblings
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource
from shared.bus import kvscan
from tests.support.fakekv import FakeKV
from tests.unit.mailer.builders import BATCH, loan_item, online_loan
from tests.unit.mailer_delivery.pending_strategies import (
    RUNS,
    assert_same_entry,
    entries,
    pending_sources,
    predicates,
    reference_assign,
    reference_release,
    release_days,
    siblings,
)

KEYS = ("ol.2026-12-03.P1", "hr.P1", "od.P1")


class FakeBucket(FakeKV):
    """The in-memory bucket, logging every write. A ``racer`` value is written by "another
    replica" just before the first update lands."""

    def __init__(self, racer: bytes | None = None) -> None:
        super().__init__()
        self.log: list[tuple[str, str, bytes, int | None]] = []
        self._racer = racer

    async def create(self, key: str, value: bytes) -> int:
        revision = await super().create(key, value)
        self.log.append(("create", key, value, None))
        return revision

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        if self._racer is not None:
            await self.put(key, self._racer)
            self._racer = None
        revision = await super().update(key, value, last or 0)
        self.log.append(("update", key, value, last))
        return revision

    async def delete(self, key: str, last: int | None = None) -> bool:
        await super().delete(key, last)
        self.log.append(("delete", key, b"", last))
        return True


class GeneralStore(PendingStore):
    """The store as it was: full decode, ``change`` with its comparison, str then bytes."""

    async def read(self, key: str) -> Stored | None:
        entry, revision = await kvscan.get_model(self._kv, key, PendingEntry)
        return None if entry is None else Stored(key, entry, revision)

    async def assign(
        self,
        stored: Sequence[Stored],
        run: str,
        eligible: Eligible,
        useless: Eligible,
        siblings: Siblings | None = None,
    ) -> list[tuple[tuple[PendingSource, ...], Stored | None]]:
        answers: list[tuple[tuple[PendingSource, ...], Stored | None]] = []
        for one in stored:
            taken: tuple[PendingSource, ...] = ()

            def change(entry: PendingEntry) -> PendingEntry | None:
                nonlocal taken
                result = reference_assign(entry, run, eligible, useless, siblings)
                taken = result.taken
                return result.entry if result.changed else None

            written = await self.change(one.key, change, hint=one)
            answers.append((taken, written))
        return answers

    async def release(
        self, entries: Sequence[tuple[str, Stored | None]], run: str, *, today: date | None = None
    ) -> None:
        for key, hint in entries:
            await self.change(key, lambda entry: reference_release(entry, run, today), hint=hint)

    async def _write(self, key: str, entry: PendingEntry, last: int) -> Stored | None:
        if not entry.events and not entry.mailed and not entry.recent:
            if last:
                await self._cas_delete(key, last)
            return None
        data = entry.model_dump_json().encode()
        rev = await (
            self._writes.update(key, data, last=last) if last else self._writes.create(key, data)
        )
        return Stored(key, entry, rev)


def _store(cls: type[PendingStore], bucket: FakeBucket) -> PendingStore:
    return cls(None, bucket, bucket)  # type: ignore[arg-type]


async def _run(
    cls: type[PendingStore], bucket: FakeBucket, key: str, steps: list[Any], today: date | None
) -> list[Any]:
    """A run's steps on one entry: assign (from the scanned entry), release (hinted)."""
    store = _store(cls, bucket)
    answers: list[Any] = []
    for run, eligible, useless, sibling in steps:
        stored = await store.read(key)
        if stored is None:
            answers.append(None)
            continue
        [(taken, written)] = await store.assign([stored], run, eligible, useless, sibling)
        await store.release([(key, written)], run, today=today)
        answers.append((taken, written))
    return answers


@settings(max_examples=250, deadline=None)
@given(
    entries(),
    st.sampled_from(KEYS),
    st.lists(st.tuples(st.sampled_from(RUNS), predicates, predicates, siblings), max_size=3),
    st.one_of(st.none(), entries(), pending_sources),
    release_days,
)
def test_assign_and_release_write_what_the_general_store_wrote(
    entry: PendingEntry,
    key: str,
    steps: list[Any],
    racer: PendingEntry | PendingSource | None,
    today: date | None,
) -> None:
    initial = entry.model_dump_json().encode()
    if isinstance(racer, PendingSource):  # the entry plus one more event, arriving meanwhile
        racer = PendingEntry(kind=entry.kind, patron_id="P1", events=(PendingEvent(event=racer),))
    racing = racer.model_dump_json().encode() if racer is not None else None
    buckets = FakeBucket(racing), FakeBucket(racing)
    for bucket in buckets:
        bucket.data[key] = (initial, 7)
        bucket.rev = 7

    fast = asyncio.run(_run(PendingStore, buckets[0], key, steps, today))
    general = asyncio.run(_run(GeneralStore, buckets[1], key, steps, today))

    assert buckets[0].log == buckets[1].log
    assert buckets[0].data == buckets[1].data
    for mine, theirs in zip(fast, general, strict=True):
        assert (mine is None) == (theirs is None)
        if mine is None:
            continue
        assert mine[0] == theirs[0]
        assert (mine[1] is None) == (theirs[1] is None)
        if mine[1] is not None:
            assert (mine[1].key, mine[1].revision) == (theirs[1].key, theirs[1].revision)
            assert_same_entry(mine[1].entry, theirs[1].entry, decoded=True)


def test_change_writes_nothing_for_an_equal_entry_or_the_same_one() -> None:
    async def scenario() -> None:
        bucket = FakeBucket()
        store = _store(PendingStore, bucket)
        entry = PendingEntry(kind="overdue", patron_id="P1", mailed=("L1",))
        bucket.data["od.P1"] = (entry.model_dump_json().encode(), 3)
        current = await store.read("od.P1")
        assert current is not None
        assert await store.change("od.P1", lambda e: e, hint=current) is current
        same = await store.change("od.P1", lambda e: e.model_copy(), hint=current)
        assert same is current
        assert await store.change("od.P1", lambda e: None, hint=current) is current
        assert bucket.log == []
        written = await store.change(
            "od.P1", lambda e: e.model_copy(update={"mailed": ("L2",)}), hint=current
        )
        assert written is not None and written.revision == bucket.rev
        assert bucket.log == [
            (
                "update",
                "od.P1",
                b'{"kind":"overdue","patron_id":"P1","events":[],"mailed":["L2"]}',
                3,
            )
        ]

    asyncio.run(scenario())


def test_an_entry_gone_since_the_scan_takes_nothing() -> None:
    """Another replica's run mailed and removed the entry after this run scanned it: the
    write on the stale hint meets a conflict, the re-read finds nothing, and nothing is
    taken (a review found the hint's events still returned as this run's mail)."""

    async def scenario() -> None:
        bucket = FakeBucket()
        store = _store(PendingStore, bucket)
        event = PendingEvent(event=online_loan([loan_item(1)], patron_id="P1"))
        entry = PendingEntry(kind="online_loan", patron_id="P1", events=(event,))
        key = KEYS[0]
        bucket.data[key] = (entry.model_dump_json().encode(), 3)
        scanned = await store.read(key)
        assert scanned is not None
        await bucket.delete(key)  # the other replica released and removed it
        [(taken, written)] = await store.assign(
            [scanned], BATCH.batch_id, lambda source: True, lambda source: False
        )
        assert (taken, written) == ((), None)

    asyncio.run(scenario())
