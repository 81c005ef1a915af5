"""Generated pending entries, and the general code the fan-out's speed paths stand in for.

The ``reference_*`` functions are the grouping and key code as it was before the speed
paths (deep ``!=`` instead of identity, ``model_copy`` instead of a direct build, a
generator into the digest): the fast code must answer exactly as they do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from hypothesis import strategies as st

from services.mailer.plan import keys
from services.mailer.plan.grouping import Assignment, Eligible, Siblings, tombstone
from services.mailer.plan.model import (
    PendingEntry,
    PendingEvent,
    PendingSource,
    SourceEvent,
    Tombstone,
)
from shared.clock import JST
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanItem,
    LoanOnlineIssued,
    LoanOverdue,
    PatronLoanSuspended,
)
from shared.mailrecord import mail_id_for
from tests.unit.mailer.builders import bounce_digest, hold_cancelled, suspended

THURSDAY = date(2026, 12, 3)
RUN = f"batch-{THURSDAY.isoformat()}"
LATE = f"{RUN}-late-0123456789abcdef"
RUNS = (RUN, LATE, "hold-ready-2026-12-05", "overdue-2026-12-05", "")
EVENT_IDS = ("e-000001", "e-000002", "e-000003", "e-000004", "e-000005")
LOAN_IDS = ("L1", "L2", "L3", "L-4", "X.9")
#: Titles and addresses that exercise the JSON writer: quotes, escapes, controls,
#: non-ASCII, a line separator, an astral character.
TEXTS = ("本", '資料 "1"', "a\\b\n\tc", "\u2028x\x7f", "😀 全角　空白", "\x00\x1f")

_events_ids = st.sampled_from(EVENT_IDS)
_loan_ids = st.sampled_from(LOAN_IDS)
_texts = st.sampled_from(TEXTS)


@st.composite
def _when(draw: st.DrawFn) -> datetime:
    return datetime(2026, 12, draw(st.integers(1, 9)), draw(st.integers(0, 23)), tzinfo=JST)


@st.composite
def online_loans(draw: st.DrawFn) -> LoanOnlineIssued:
    loans = draw(st.lists(_loan_ids, min_size=1, max_size=4))
    return LoanOnlineIssued(
        event_id=draw(_events_ids),
        occurred_at=draw(_when()),
        patron_id="P1",
        email=f"p1{draw(_texts)}@example.jp",
        batch_thursday=THURSDAY,
        pickup_library_no=draw(st.sampled_from([1, 17, 59])),
        items=[
            LoanItem(
                loan_id=loan, item_id=f"10{i}", title=draw(_texts), due_date=date(2026, 12, 20)
            )
            for i, loan in enumerate(loans)
        ],
    )


@st.composite
def holds_ready(draw: st.DrawFn) -> HoldReady:
    return HoldReady(
        event_id=draw(_events_ids),
        occurred_at=draw(_when()),
        patron_id="P1",
        email="p1@example.jp",
        language=draw(st.sampled_from(["ja", "en"])),
        hold_id=draw(st.sampled_from(["H1", "H2", "H3"])),
        item_id="2001",
        title=draw(_texts),
        secured_at=draw(_when()),
        pickup_deadline=date(2026, 12, draw(st.integers(4, 12))),
    )


@st.composite
def overdues(draw: st.DrawFn) -> LoanOverdue:
    return LoanOverdue(
        event_id=draw(_events_ids),
        occurred_at=draw(_when()),
        patron_id="P1",
        email="p1@example.jp",
        loan_id=draw(_loan_ids),
        item_id="3001",
        title=draw(_texts),
        due_date=date(2026, 11, 26),
        reminder_level=draw(st.integers(1, 3)),
    )


pending_sources: st.SearchStrategy[PendingSource] = st.one_of(
    online_loans(), holds_ready(), overdues()
)


@st.composite
def _prompt_events(draw: st.DrawFn) -> SourceEvent:
    which = draw(st.sampled_from(["cancelled", "suspended", "digest"]))
    if which == "cancelled":
        return hold_cancelled(draw(st.integers(1, 3)), event_id=draw(_events_ids))
    if which == "suspended":
        return suspended(event_id=draw(_events_ids))
    digest = bounce_digest()
    return digest.model_copy(update={"occurrence_id": f"weekly-bounce-digest:{draw(_texts)}"})


source_events: st.SearchStrategy[SourceEvent] = st.one_of(pending_sources, _prompt_events())


@st.composite
def pending_events(draw: st.DrawFn) -> PendingEvent:
    event = draw(pending_sources)
    if draw(st.booleans()):
        return PendingEvent(event=event)  # ``run`` left unset
    return PendingEvent(event=event, run=draw(st.sampled_from([None, *RUNS])))


#: Release days the property tests draw (some prune the drawn tombstones, some do not).
release_days = st.one_of(st.none(), st.dates(date(2026, 11, 25), date(2026, 12, 25)))


@st.composite
def _tombstone(draw: st.DrawFn, item: str) -> Tombstone:
    until = draw(st.dates(date(2026, 11, 20), date(2026, 12, 20)))
    return Tombstone(item=item, until=until, keep=until + timedelta(days=draw(st.integers(0, 20))))


#: Daily tombstones (never stored empty), some of the items the generated events have.
_recent = (
    st.sets(
        st.sampled_from(["H-1@2026-12-14", "H-2@2026-12-10", "L1@1", "L2@3", "X@2"]),
        min_size=1,
        max_size=3,
    )
    .map(sorted)
    .flatmap(lambda items: st.tuples(*(_tombstone(i) for i in items)))
)


@st.composite
def entries(draw: st.DrawFn) -> PendingEntry:
    """Entries built in code (some fields left unset) or read back from JSON (all set)."""
    values: dict[str, object] = {
        "kind": draw(st.sampled_from(["online_loan", "hold_ready", "overdue", "bounce_digest"])),
        "patron_id": "P1",
    }
    if draw(st.booleans()):
        values["events"] = tuple(draw(st.lists(pending_events(), max_size=4)))
    if draw(st.booleans()):
        values["mailed"] = tuple(sorted(draw(st.sets(_loan_ids, max_size=3))))
    if draw(st.booleans()):
        values["recent"] = draw(_recent)
    entry = PendingEntry.model_validate(values)
    if draw(st.booleans()):
        return PendingEntry.model_validate_json(entry.model_dump_json())
    return entry


def ids_predicate(chosen: frozenset[str]) -> Eligible:
    def check(event: PendingSource) -> bool:
        return event.event_id in chosen

    return check


predicates = st.frozensets(_events_ids).map(ids_predicate)
siblings = st.sampled_from([None, keys.batch_runs(RUN)])


def assert_same_entry(fast: PendingEntry, general: PendingEntry, *, decoded: bool = False) -> None:
    """Equal, the same JSON bytes, the same fields set (of the events too); holding the
    very same event objects unless both were ``decoded`` separately."""
    assert type(fast) is PendingEntry and type(general) is PendingEntry
    assert fast == general
    assert fast.model_dump_json() == general.model_dump_json()
    assert fast.model_fields_set == general.model_fields_set
    for mine, theirs in zip(fast.events, general.events, strict=True):
        assert type(mine) is PendingEvent
        assert mine.model_fields_set == theirs.model_fields_set
        if decoded:
            assert type(mine.event) is type(theirs.event)
            assert mine.event.model_fields_set == theirs.event.model_fields_set
        else:
            assert mine.event is theirs.event


# -- the general code ----------------------------------------------------------------------


def reference_assign(
    entry: PendingEntry,
    run: str,
    eligible: Eligible,
    useless: Eligible,
    siblings: Siblings | None = None,
) -> Assignment:
    already = tuple(p.event for p in entry.events if p.run == run)
    if already:
        return Assignment(entry, already, changed=False)
    kept: list[PendingEvent] = []
    taken: list[PendingSource] = []
    for held in entry.events:
        if held.run is not None and siblings is not None and siblings(held.run):
            kept.append(held)
            continue
        if useless(held.event):
            continue
        if eligible(held.event):
            taken.append(held.event)
            kept.append(PendingEvent(event=held.event, run=run))
        else:
            kept.append(PendingEvent(event=held.event, run=None) if held.run else held)
    changed = tuple(kept) != entry.events
    new = entry.model_copy(update={"events": tuple(kept)}) if changed else entry
    return Assignment(new, tuple(taken), changed)


def reference_release(entry: PendingEntry, run: str, today: date | None = None) -> PendingEntry:
    kept = tuple(p for p in entry.events if p.run != run)
    if len(kept) == len(entry.events):
        return entry
    released = [p.event for p in entry.events if p.run == run]
    update: dict[str, object] = {
        "events": kept,
        "mailed": _reference_tombstones(entry, released),
    }
    recent = _reference_recent(entry, released, today)
    if recent:
        update["recent"] = recent
    new = entry.model_copy(update=update)
    if recent or not entry.recent:
        return new
    # Every tombstone pruned: the field is neither stored nor set while empty.
    return PendingEntry(**{k: getattr(new, k) for k in new.model_fields_set if k != "recent"})


def _reference_recent(
    entry: PendingEntry, released: Iterable[PendingSource], today: date | None
) -> tuple[Tombstone, ...]:
    latest = {t.item: t for t in entry.recent}
    for event in released:
        mark = tombstone(event, today)
        if mark is None:
            continue
        old = latest.get(mark.item, mark)
        latest[mark.item] = Tombstone(
            item=mark.item, until=max(old.until, mark.until), keep=max(old.keep, mark.keep)
        )
    return tuple(t for _, t in sorted(latest.items()) if today is None or t.keep >= today)


def _reference_tombstones(
    entry: PendingEntry, released: Iterable[PendingSource]
) -> tuple[str, ...]:
    loans = {i.loan_id for e in released if isinstance(e, LoanOnlineIssued) for i in e.items}
    if loans <= set(entry.mailed):
        return entry.mailed
    return tuple(sorted(loans.union(entry.mailed)))


def reference_mail_item(event: SourceEvent) -> str:
    """The item of a mail's business key: a hold with its deadline, a reminder with its
    JST day (``keys.mail_item``), otherwise the event's item identity."""
    if isinstance(event, LoanOnlineIssued):
        return ",".join(sorted(item.loan_id for item in event.items))
    if isinstance(event, HoldReady):
        return f"{event.hold_id}@{event.pickup_deadline.isoformat()}"
    if isinstance(event, HoldCancelled):
        return event.hold_id
    if isinstance(event, LoanOverdue):
        day = event.occurred_at.astimezone(JST).date()
        return f"{event.loan_id}@{event.reminder_level}@{day.isoformat()}"
    if isinstance(event, PatronLoanSuspended):
        return event.event_id
    assert isinstance(event, BounceDigest)
    return event.occurrence_id


def reference_business_key(
    kind: str, patron_id: str | None, run_id: str, items: Iterable[str]
) -> str:
    digest = hashlib.sha256("\n".join(sorted(set(items))).encode("utf-8")).hexdigest()[:16]
    return f"{kind}:{patron_id or keys.STAFF}:{run_id}:{digest}"


def reference_key_and_id(
    kind: str, patron_id: str | None, run_id: str, events: Iterable[SourceEvent]
) -> tuple[str, str]:
    items = (reference_mail_item(e) for e in events)
    key = reference_business_key(kind, patron_id, run_id, items)
    return key, mail_id_for(key)
