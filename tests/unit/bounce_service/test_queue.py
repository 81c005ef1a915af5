"""The queue's rules: hard causes flag at once, soft ones when they repeat, staff states."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.bounce.errors import InvalidTransition, NotInQueue
from services.bounce.queue import (
    EMAIL_CHANGED_NOTE,
    Policy,
    apply_bounce,
    mark,
    resolve_for_email_change,
)
from shared.contracts.bounce import BounceCategory
from shared.contracts.staff import QueueEntry, QueueEvidence
from tests.unit.bounce_service.fakes import T0

POLICY = Policy(soft_threshold=3, soft_window=timedelta(days=7))


def ev(n: int, category: BounceCategory, at: datetime = T0) -> QueueEvidence:
    return QueueEvidence(
        bounce_id=f"b{n}",
        received_at=at,
        source="imap",
        category=category,
        correlation="verp",
        status="5.1.1",
    )


def run(
    events: list[QueueEvidence], entry: QueueEntry | None = None
) -> tuple[QueueEntry | None, list[bool]]:
    flags = []
    for e in events:
        applied = apply_bounce(entry, "P1", e, POLICY, e.received_at)
        entry = applied.entry or entry
        flags.append(applied.flagged)
    return entry, flags


@pytest.mark.parametrize("category", ["bad_address", "domain_rejection", "forwarding_failure"])
def test_a_hard_cause_flags_the_patron_at_once(category: BounceCategory) -> None:
    entry, flags = run([ev(1, category)])
    assert flags == [True]
    assert entry is not None and entry.status == "open" and entry.category == category
    assert entry.bounce_count == 1 and entry.flagged_by == "b1"


@pytest.mark.parametrize("category", ["mailbox_full", "transient", "unknown"])
def test_a_soft_cause_flags_on_the_third_bounce_within_seven_days(
    category: BounceCategory,
) -> None:
    days = [T0, T0 + timedelta(days=2), T0 + timedelta(days=5)]
    entry, flags = run([ev(i, category, at) for i, at in enumerate(days)])
    assert flags == [False, False, True]
    assert entry is not None and entry.status == "open" and entry.category == category
    assert entry.bounce_count == 3


def test_delay_warnings_are_evidence_but_never_count_towards_a_flag() -> None:
    # Three warnings that the mail is still being retried (a slow carrier): no flag. The
    # mail's final bounce, when it comes, counts as usual.
    warnings = [
        ev(i, "transient", T0 + timedelta(hours=i)).model_copy(
            update={"rule": "mailboxfull+delayed", "status": "4.2.2"}
        )
        for i in range(3)
    ]
    entry, flags = run(warnings)
    assert flags == [False, False, False]
    assert entry is not None and entry.status != "open"
    assert entry.soft_recent == [] and len(entry.evidence) == 3
    finals = [ev(10 + i, "mailbox_full", T0 + timedelta(days=i)) for i in range(3)]
    entry, flags = run(finals, entry)
    assert flags == [False, False, True]


def test_soft_bounces_older_than_the_window_decay() -> None:
    days = [T0, T0 + timedelta(days=3), T0 + timedelta(days=8), T0 + timedelta(days=9)]
    entry, flags = run([ev(i, "mailbox_full", at) for i, at in enumerate(days)])
    assert flags == [False, False, False, True]
    assert entry is not None and [h.bounce_id for h in entry.soft_recent] == ["b1", "b2", "b3"]


def test_a_soft_entry_below_the_threshold_is_not_in_the_queue() -> None:
    entry, _ = run([ev(1, "mailbox_full")])
    assert entry is not None and entry.status is None and entry.category is None


@pytest.mark.parametrize("category", ["sender_side", "not_a_bounce"])
def test_sender_side_and_non_bounces_never_flag_a_patron(category: BounceCategory) -> None:
    entry, flags = run([ev(i, category) for i in range(5)])
    assert entry is None and flags == [False] * 5


def test_the_same_bounce_applied_twice_counts_once() -> None:
    entry, _ = run([ev(1, "bad_address")])
    again = apply_bounce(entry, "P1", ev(1, "bad_address"), POLICY, T0)
    assert again.duplicate and again.entry is None
    assert again.flagged, "re-applying the flagging bounce re-sends the same flag event"
    soft, _ = run([ev(1, "transient"), ev(2, "transient")])
    replay = apply_bounce(soft, "P1", ev(2, "transient"), POLICY, T0)
    assert replay.duplicate and not replay.flagged


def test_a_hard_bounce_upgrades_an_open_soft_flag() -> None:
    entry, flags = run([ev(i, "mailbox_full") for i in range(3)] + [ev(9, "bad_address")])
    assert flags == [False, False, True, False]
    assert entry is not None and entry.category == "bad_address" and entry.bounce_count == 4


def test_a_bounce_after_contact_reopens_the_flag() -> None:
    entry, _ = run([ev(1, "domain_rejection")])
    entry = mark(entry, "P1", "contacted", "電話で案内済み", "staff-a", T0)
    entry, flags = run([ev(2, "domain_rejection", T0 + timedelta(days=7))], entry)
    assert flags == [True]
    assert entry is not None and entry.status == "open" and entry.flagged_at == T0
    assert entry.notes[-1].by == "system"


def test_staff_mark_contacted_then_resolved_keeps_the_history() -> None:
    entry, _ = run([ev(1, "bad_address")])
    entry = mark(entry, "P1", "contacted", "留守電", "staff-a", T0)
    entry = mark(entry, "P1", "contacted", "本人と話した", "staff-a", T0)
    entry = mark(entry, "P1", "resolved", "アドレスを再登録", "staff-b", T0)
    assert entry.status == "resolved"
    assert [n.status for n in entry.notes] == ["contacted", "contacted", "resolved"]


def test_staff_actions_on_a_patron_not_in_the_queue_fail_clearly() -> None:
    with pytest.raises(NotInQueue):
        mark(None, "P9", "contacted", "x", "s", T0)
    soft, _ = run([ev(1, "mailbox_full")])
    with pytest.raises(NotInQueue):
        mark(soft, "P1", "resolved", "x", "s", T0)
    entry, _ = run([ev(1, "bad_address")])
    done = mark(entry, "P1", "resolved", "x", "s", T0)
    with pytest.raises(InvalidTransition):
        mark(done, "P1", "contacted", "x", "s", T0)


def test_a_resolved_patron_reenters_the_queue_on_a_new_hard_bounce() -> None:
    entry, _ = run([ev(1, "bad_address")])
    entry = mark(entry, "P1", "resolved", "x", "s", T0)
    entry, flags = run([ev(2, "bad_address")], entry)
    assert flags == [True] and entry is not None and entry.status == "open"


def test_an_email_change_resolves_the_open_flag_with_a_note() -> None:
    entry, _ = run([ev(1, "bad_address")])
    resolved = resolve_for_email_change(entry, T0)
    assert resolved is not None and resolved.status == "resolved"
    assert resolved.notes[-1].text == EMAIL_CHANGED_NOTE
    assert resolve_for_email_change(resolved, T0) is None
    assert resolve_for_email_change(None, T0) is None
