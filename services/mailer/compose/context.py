"""Turn the events of one mail into its template context (pure, validated).

One mail is built from one or more events of ONE patron (the consumers group them);
events that disagree on who or what the mail is about raise ``ComposeError`` rather
than produce a mail that mixes two patrons' loans. Events are put in a stable order
(``occurred_at``, then ``event_id``) and de-duplicated by their loan/hold id, so a
redelivered or regrouped event never changes the mail.

An online loan mail may list items for several pickup libraries: each hold has its own
受取館 (Q8, Q9, Q31), and the patron gets one mail per weekly batch listing every item
(``pickups``: one ``PickupGroup`` per library, in order of first appearance). A loan id
seen twice keeps the library of its first event; a later correction is not mailed.

An overdue mail may list loans at different reminder levels (督促 1-3): the patron still
gets one mail per run, the loans grouped by level (``groups``, highest first) so each
group gets its own wording; ``level`` is the highest (it chooses the subject). A loan
seen at two levels in one run is listed once, at its higher level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from services.mailer.compose.digest import digest_context
from services.mailer.errors import ComposeError
from shared.contracts.base import Event
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    Language,
    LoanOnlineIssued,
    LoanOverdue,
    PatronLoanSuspended,
)
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow
from shared.libraries import library

E = TypeVar("E", bound=Event)
V = TypeVar("V")
K = TypeVar("K")  # what a group of list items is keyed by (a library, a level)
Context = dict[str, object]

EVENT_TYPES: dict[MailKind, type[Event]] = {
    "online_loan": LoanOnlineIssued,
    "hold_ready": HoldReady,
    "hold_cancelled": HoldCancelled,
    "overdue": LoanOverdue,
    "loan_suspended": PatronLoanSuspended,
    "bounce_digest": BounceDigest,
}


@dataclass(frozen=True)
class LoanLine:
    title: str
    due_date: date


@dataclass(frozen=True)
class PickupGroup:
    """The items of an online loan mail to be collected at one cooperating library.

    ``first_number`` is the list number of its first item: the mail numbers items
    continuously across libraries, so the last number is the mail's item count.
    """

    name: str
    items: list[LoanLine]
    first_number: int


@dataclass(frozen=True)
class OverdueGroup:
    """The loans of an overdue mail at one reminder level (1-3; 3 = reminded the most).

    ``first_number`` is the list number of its first item: items are numbered
    continuously across levels, so the last number is the mail's item count.
    """

    level: int
    items: list[LoanLine]
    first_number: int


@dataclass(frozen=True)
class HoldLine:
    title: str
    pickup_deadline: date


@dataclass(frozen=True)
class CancelLine:
    title: str
    reason: str
    pickup_deadline: date | None


@dataclass(frozen=True)
class MailInput:
    """What ``build_context`` needs besides the events."""

    batch: BatchWindow | None
    run_date: date
    ref_year: int


def build_context(
    kind: MailKind, events: Sequence[Event], given: MailInput
) -> tuple[Context, Language]:
    """The template context of ``kind`` and the mail's language."""
    if not events:
        raise ComposeError(f"{kind}: no events to compose from", kind=kind)
    expected = EVENT_TYPES[kind]
    for event in events:
        if not isinstance(event, expected):
            raise ComposeError(
                f"{kind}: expected {expected.__name__}, got {type(event).__name__}", kind=kind
            )
    base: Context = {"ref_year": given.ref_year, "run_date": given.run_date}
    if kind == "bounce_digest":
        digest = _ordered(events, BounceDigest)[-1]
        return {**base, **digest_context(digest, given.run_date)}, "ja"
    patron_events = _ordered(events, expected)
    patron_id: object = _same(
        kind, "patron_id", patron_events, lambda e: getattr(e, "patron_id", None)
    )
    language: Language = getattr(patron_events[-1], "language", "ja")
    body = _BUILDERS[kind](patron_events, given)
    return {**base, "patron_id": patron_id, **body}, language


def _ordered(events: Sequence[Event], cls: type[E]) -> list[E]:
    typed = [e for e in events if isinstance(e, cls)]
    return sorted(typed, key=lambda e: (e.occurred_at, e.event_id))


def _same(kind: str, field: str, events: Sequence[E], get: Callable[[E], V]) -> V:
    values = {get(e) for e in events}
    if len(values) != 1:
        raise ComposeError(f"{kind}: events disagree on {field}", kind=kind, field=field)
    return values.pop()


def _clean(title: str) -> str:
    """One line: titles never break the body's layout."""
    return " ".join(title.split())


def _online_loan(events: Sequence[Event], given: MailInput) -> Context:
    loans = [e for e in events if isinstance(e, LoanOnlineIssued)]
    batch = given.batch
    if batch is None:
        raise ComposeError("online_loan: no batch window given", kind="online_loan", field="batch")
    thursday = _same("online_loan", "batch_thursday", loans, lambda e: e.batch_thursday)
    if thursday != batch.thursday:
        raise ComposeError(
            "online_loan: events are of another batch than the window",
            kind="online_loan",
            field="batch_thursday",
        )
    pickups = _pickup_groups(loans)
    return {
        "pickups": pickups,
        "pickup_start": batch.pickup_start,
        "pickup_deadline": batch.pickup_deadline,
        "items": [line for group in pickups for line in group.items],
    }


def _pickup_groups(loans: Sequence[LoanOnlineIssued]) -> list[PickupGroup]:
    """Items grouped by pickup library: libraries and items in order of first appearance."""
    seen: set[str] = set()
    by_library: dict[int, list[LoanLine]] = {}
    for event in loans:
        for item in event.items:
            if item.loan_id not in seen:  # a loan seen again keeps its first library
                seen.add(item.loan_id)
                line = LoanLine(_clean(item.title), item.due_date)
                by_library.setdefault(event.pickup_library_no, []).append(line)
    return [
        PickupGroup(library(library_no).name, lines, first)
        for library_no, lines, first in _numbered(by_library.items())
    ]


def _numbered(
    groups: Iterable[tuple[K, list[LoanLine]]],
) -> Iterator[tuple[K, list[LoanLine], int]]:
    """Each group with the list number of its first item: items are numbered continuously
    across the groups, in their order."""
    number = 1
    for key, lines in groups:
        yield key, lines, number
        number += len(lines)


def _hold_ready(events: Sequence[Event], given: MailInput) -> Context:
    seen: dict[str, HoldLine] = {}
    for e in events:
        if isinstance(e, HoldReady):
            seen.setdefault(e.hold_id, HoldLine(_clean(e.title), e.pickup_deadline))
    items = list(seen.values())
    return {"items": items, "first_deadline": min(i.pickup_deadline for i in items)}


def _hold_cancelled(events: Sequence[Event], given: MailInput) -> Context:
    seen: dict[str, CancelLine] = {}
    for e in events:
        if isinstance(e, HoldCancelled):
            seen.setdefault(e.hold_id, CancelLine(_clean(e.title), e.reason, e.pickup_deadline))
    return {"items": list(seen.values())}


def _overdue(events: Sequence[Event], given: MailInput) -> Context:
    lines: dict[str, LoanLine] = {}
    levels: dict[str, int] = {}
    for e in events:
        if isinstance(e, LoanOverdue):
            lines.setdefault(e.loan_id, LoanLine(_clean(e.title), e.due_date))
            levels[e.loan_id] = max(levels.get(e.loan_id, 1), e.reminder_level)
    groups = _level_groups(lines, levels)
    return {
        "groups": groups,
        "level": groups[0].level,
        "items": [line for group in groups for line in group.items],
    }


def _level_groups(lines: dict[str, LoanLine], levels: dict[str, int]) -> list[OverdueGroup]:
    """Loans grouped by reminder level, highest first; items in event order."""
    by_level: dict[int, list[LoanLine]] = {}
    for loan_id, line in lines.items():
        by_level.setdefault(levels[loan_id], []).append(line)
    highest_first = sorted(by_level.items(), reverse=True)
    return [OverdueGroup(level, lines, first) for level, lines, first in _numbered(highest_first)]


def _loan_suspended(events: Sequence[Event], given: MailInput) -> Context:
    latest = events[-1]
    assert isinstance(latest, PatronLoanSuspended)
    detail = latest.detail.strip() if latest.detail else ""
    return {
        "reason": latest.reason,
        "detail": detail,
        "card_expired_on": latest.card_expired_on or "",
    }


_BUILDERS: dict[MailKind, Callable[[Sequence[Event], MailInput], Context]] = {
    "online_loan": _online_loan,
    "hold_ready": _hold_ready,
    "hold_cancelled": _hold_cancelled,
    "overdue": _overdue,
    "loan_suspended": _loan_suspended,
}
