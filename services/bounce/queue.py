"""The staff bounce queue's rules (pure): when a bounce flags a patron, staff transitions.

Hard causes (bad address, domain rejection, forwarding failure) flag at once. Soft causes
(mailbox full, transient, unknown) flag when they repeat: ``threshold`` bounces within
``window``; older ones decay (one message counts once, however many of its recipients
failed; a delay warning never counts). ``sender_side`` and ``not_a_bounce`` never flag a
patron. A bounce for an address the patron has since changed is kept as evidence only.
Applying the same failed recipient twice (same ``hit_key``: bounce id + recipient)
changes nothing: redelivery is safe.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.bounce.errors import InvalidTransition, NotInQueue
from shared.contracts.bounce import BounceCategory
from shared.contracts.staff import FlagNote, QueueEntry, QueueEvidence, SoftHit
from shared.mailrecord import address_key

HARD: frozenset[BounceCategory] = frozenset(
    {"bad_address", "domain_rejection", "forwarding_failure"}
)
SOFT: frozenset[BounceCategory] = frozenset({"mailbox_full", "transient", "unknown"})
NEVER_FLAGS: frozenset[BounceCategory] = frozenset({"sender_side", "not_a_bounce"})
IN_QUEUE = ("open", "contacted")
#: The classifier's rule suffix for a cause named by a delay warning (``decide.py``).
DELAYED_SUFFIX = "+delayed"

EMAIL_CHANGED_NOTE = "登録メールアドレスが変更されたため、自動的に解決済みにしました。"
REOPENED_NOTE = "連絡後に再びメールが届きませんでした。再度の連絡が必要です。"
MOVED_NOTE = (
    "変更前のメールアドレス宛てに送ったメールの不達通知を受け取りました。"
    "現在のアドレスには関係しないため、対応は不要です。"
)


@dataclass(frozen=True, slots=True)
class Policy:
    soft_threshold: int = 3
    soft_window: timedelta = timedelta(days=7)
    evidence_limit: int = 20
    ids_limit: int = 200


@dataclass(frozen=True, slots=True)
class Applied:
    """What one bounce did to a patron's entry.

    ``entry`` is the value to store (``None``: nothing to write). ``flagged`` is true when
    this bounce put the patron into the queue (also when re-applied: events are re-sent
    with the same id and de-duplicated by the stream).
    """

    entry: QueueEntry | None
    flagged: bool
    duplicate: bool = False


def flags_patrons(category: BounceCategory) -> bool:
    return category not in NEVER_FLAGS


def counts_as_soft(ev: QueueEvidence) -> bool:
    """A soft bounce that counts towards the repeat threshold. A delay warning (the
    classifier's ``+delayed`` rules: the mail is still being retried and may yet arrive)
    is kept as evidence but never counts: its mail's final bounce, if any, does."""
    return ev.category in SOFT and not ev.rule.endswith(DELAYED_SUFFIX)


def hit_key(bounce_id: str, recipient: str, index: int) -> str:
    """Idempotency key of one failed recipient of a bounce: ``<bounce id>.<recipient>``.

    The recipient is hashed (no address in the queue); without one, its position. Entries
    written before these keys hold plain bounce ids, which ``apply_bounce`` still honours.
    """
    return f"{bounce_id}.{address_key(recipient)[:12] if recipient else f'n{index}'}"


def _decayed(hits: list[SoftHit], now: datetime, window: timedelta) -> list[SoftHit]:
    return [h for h in hits if now - h.at <= window]


def _soft_category(hits: list[SoftHit]) -> BounceCategory:
    """The most frequent soft category; ties go to the most recent."""
    counts = Counter(h.category for h in hits)
    best = max(counts.values())
    for hit in reversed(hits):
        if counts[hit.category] == best:
            return hit.category
    return hits[-1].category


def _blank(patron_id: str, now: datetime) -> QueueEntry:
    return QueueEntry(patron_id=patron_id, first_seen=now, last_seen=now, updated_at=now)


def apply_bounce(
    entry: QueueEntry | None,
    patron_id: str,
    ev: QueueEvidence,
    policy: Policy,
    now: datetime,
    *,
    hit: str | None = None,
    moved: bool = False,
) -> Applied:
    """Record one failed recipient for one patron and decide whether it flags them.

    ``hit`` is its idempotency key (``hit_key``; default the bounce id). ``moved``: the
    mail went to an address the patron has changed since, kept as evidence only.
    """
    if not flags_patrons(ev.category):
        return Applied(None, False)
    key = hit or ev.bounce_id
    if entry is not None and (key in entry.bounce_ids or ev.bounce_id in entry.bounce_ids):
        return Applied(None, entry.flagged_by == ev.bounce_id, duplicate=True)
    base = entry or _blank(patron_id, ev.received_at)
    if moved:
        return Applied(_evidence_only(base, ev, key, policy, now), False)
    soft = _decayed(list(base.soft_recent), now, policy.soft_window)
    if counts_as_soft(ev) and all(h.bounce_id != ev.bounce_id for h in soft):
        soft.append(SoftHit(bounce_id=ev.bounce_id, category=ev.category, at=ev.received_at))
    hard = ev.category in HARD
    flaggable = hard or (counts_as_soft(ev) and len(soft) >= policy.soft_threshold)
    counts = dict(base.counts)
    counts[ev.category] = counts.get(ev.category, 0) + 1
    update: dict[str, object] = {
        "counts": counts,
        "last_seen": max(base.last_seen, ev.received_at),
        "evidence": [*base.evidence, ev][-policy.evidence_limit :],
        "soft_recent": soft,
        "bounce_ids": [*base.bounce_ids, key][-policy.ids_limit :],
        "updated_at": now,
    }
    flagged = False
    if base.status == "open":
        update["bounce_count"] = base.bounce_count + 1
        if hard and base.category not in HARD:
            update["category"] = ev.category
    elif flaggable:
        flagged = True
        category = ev.category if hard else _soft_category(soft)
        reopened = base.status == "contacted"
        notes = list(base.notes)
        if reopened:
            notes.append(FlagNote(at=now, by="system", status="open", text=REOPENED_NOTE))
        update |= {
            "status": "open",
            "category": category,
            "bounce_count": (base.bounce_count + 1) if reopened else (1 if hard else len(soft)),
            "flagged_at": base.flagged_at if reopened else now,
            "flagged_by": ev.bounce_id,
            "notes": notes,
        }
    return Applied(base.model_copy(update=update), flagged)


def _evidence_only(
    base: QueueEntry, ev: QueueEvidence, key: str, policy: Policy, now: datetime
) -> QueueEntry:
    """The bounce joins the evidence, marked ``moved_away`` (and a note, when the patron
    has a flag); the flag, its counts and the soft repeats are left alone."""
    notes = list(base.notes)
    if base.status is not None:
        notes.append(FlagNote(at=now, by="system", status=base.status, text=MOVED_NOTE))
    marked = ev.model_copy(update={"moved_away": True})
    update: dict[str, object] = {
        "evidence": [*base.evidence, marked][-policy.evidence_limit :],
        "bounce_ids": [*base.bounce_ids, key][-policy.ids_limit :],
        "notes": notes,
        "updated_at": now,
    }
    return base.model_copy(update=update)


def add_suppressed(entry: QueueEntry, key: str) -> QueueEntry:
    if key in entry.address_keys:
        return entry
    return entry.model_copy(update={"address_keys": [*entry.address_keys, key]})


def holds_address(entry: QueueEntry | None, key: str) -> bool:
    """Whether the patron's flag holds the suppression of ``key``: the flag is in the
    queue (open or contacted) and lists the address. A patron is in that suppression's
    ``patron_ids`` exactly when this is true (``suppress.settle`` keeps it so)."""
    return entry is not None and entry.status in IN_QUEUE and key in entry.address_keys


StaffStatus = Literal["contacted", "resolved"]


def mark(entry: QueueEntry | None, patron_id: str, wanted: StaffStatus, note: str, by: str,
         now: datetime) -> QueueEntry:  # fmt: skip
    """Staff mark a flag contacted (again) or resolved; raises on a wrong state."""
    if entry is None or entry.status is None:
        raise NotInQueue(patron_id)
    if entry.status not in IN_QUEUE:
        raise InvalidTransition(patron_id, entry.status, wanted)
    return _with_status(entry, wanted, FlagNote(at=now, by=by, status=wanted, text=note), now)


def resolve_for_email_change(entry: QueueEntry | None, now: datetime) -> QueueEntry | None:
    """An email change resolves the open flag (``None``: nothing to resolve)."""
    if entry is None or entry.status not in IN_QUEUE:
        return None
    note = FlagNote(at=now, by="system", status="resolved", text=EMAIL_CHANGED_NOTE)
    return _with_status(entry, "resolved", note, now)


def _with_status(
    entry: QueueEntry, status: StaffStatus, note: FlagNote, now: datetime
) -> QueueEntry:
    update: dict[str, object] = {
        "status": status,
        "notes": [*entry.notes, note],
        "updated_at": now,
    }
    if status == "resolved":
        update |= {"soft_recent": [], "address_keys": []}
    return entry.model_copy(update=update)
