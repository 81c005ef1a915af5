"""Business keys, run ids and KV keys.

A mail's business key is ``kind:patron:run:items`` where *items* is a digest of the sorted
item identities (loan ids, hold ids, ...). Same key → same ``mail_id`` → same ledger entry,
Message-ID and VERP token, so a replayed or re-fired mail is recognised as the same mail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from services.mailer.plan.model import SourceEvent
from shared.clock import JST
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanOnlineIssued,
    LoanOverdue,
    PatronLoanSuspended,
)
from shared.contracts.mail import MailKind
from shared.mailrecord import mail_id_for

_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STAFF = "staff"


def kv_token(value: str) -> str:
    """One KV key token for an id: itself when safe, else a stable digest (``h-…``)."""
    if _SAFE_TOKEN.match(value):
        return value
    return "h-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def item_identity(event: SourceEvent) -> str:
    """What makes an event's content unique, independent of its event id."""
    if isinstance(event, LoanOnlineIssued):
        return ",".join(sorted([item.loan_id for item in event.items]))
    if isinstance(event, HoldReady | HoldCancelled):
        return event.hold_id
    if isinstance(event, LoanOverdue):
        return f"{event.loan_id}@{event.reminder_level}"
    if isinstance(event, PatronLoanSuspended):
        return event.event_id
    return event.occurrence_id


def mail_item(event: SourceEvent) -> str:
    """What a mail says of an event, for its business key: its item identity, plus what a
    later report of the same item may differ in — a hold's pickup deadline, the JST day of
    a reminder (the ILS reminds again at the same level on a later day). Two mails saying
    different things then never share a key (and the ledger's verdict)."""
    if isinstance(event, HoldReady):
        return f"{event.hold_id}@{event.pickup_deadline.isoformat()}"
    if isinstance(event, LoanOverdue):
        day = event.occurred_at.astimezone(JST).date().isoformat()
        return f"{event.loan_id}@{event.reminder_level}@{day}"
    return item_identity(event)


def business_key(kind: MailKind, patron_id: str | None, run_id: str, items: Iterable[str]) -> str:
    unique = set(items)
    # One item (the usual mail) is its own sorted, newline-joined list.
    listed = next(iter(unique)) if len(unique) == 1 else "\n".join(sorted(unique))
    digest = hashlib.sha256(listed.encode("utf-8")).hexdigest()[:16]
    return f"{kind}:{patron_id or STAFF}:{run_id}:{digest}"


def key_and_id(
    kind: MailKind, patron_id: str | None, run_id: str, events: Iterable[SourceEvent]
) -> tuple[str, str]:
    """The business key and mail id of a mail made of ``events``."""
    key = business_key(kind, patron_id, run_id, [mail_item(e) for e in events])
    return key, mail_id_for(key)


# -- run ids ---------------------------------------------------------------------------


def late_online_loan_run(batch_id: str, event: SourceEvent) -> str:
    """Run id of the supplementary mail of items that arrived after the batch's run.

    Derived from the event's items, so every late event has its own run (concurrent late
    events of one patron never wait on each other's marks) and a redelivered or re-posted
    event gets the same run id, business key and mail id again.
    """
    digest = hashlib.sha256(item_identity(event).encode("utf-8")).hexdigest()[:16]
    return f"{batch_id}-late-{digest}"


def batch_runs(batch_id: str) -> Callable[[str], bool]:
    """Whether a run id is the batch's Saturday run or one of its late runs."""
    late = f"{batch_id}-late-"

    def check(run_id: str) -> bool:
        return run_id == batch_id or run_id.startswith(late)

    return check


def hold_ready_run(run_date: date) -> str:
    return f"hold-ready-{run_date.isoformat()}"


def overdue_run(run_date: date) -> str:
    return f"overdue-{run_date.isoformat()}"


def prompt_run(event: SourceEvent) -> str:
    """Run id of a mail sent as soon as its event arrives.

    A hold's cancellation is keyed by the hold and its pickup deadline, not by the event:
    an ILS re-post of it under a new event id is the same mail (the ledger sends it
    once), while a hold made ready again (a new deadline) and cancelled again gets its
    own. A suspension has no item identity: it stays keyed by its event id.
    """
    if isinstance(event, BounceDigest):
        return f"digest-{event.occurrence_id}"[:120]
    if isinstance(event, HoldCancelled):
        deadline = event.pickup_deadline.isoformat() if event.pickup_deadline else "none"
        return f"cancel-{kv_token(event.hold_id)}-{deadline}"
    return f"event-{event.event_id}"[:120]


# -- mail_pending / mail_returned keys ---------------------------------------------------


def online_loan_pending_key(batch_thursday: date, patron_id: str) -> str:
    return f"ol.{batch_thursday.isoformat()}.{kv_token(patron_id)}"


def online_loan_batch_filter(batch_thursday: date) -> str:
    return f"ol.{batch_thursday.isoformat()}.*"


#: A batch's online-loan entries (and their tombstones) are kept this long after its
#: Thursday: well past its pickup deadline (the following Sunday week) and any redelivery
#: or re-post of its events.
BATCH_RETENTION = timedelta(weeks=4)
#: How many weeks before the newest expired batch a run purges again, so weeks whose run
#: was missed (or whose purge failed) are caught up.
PURGE_LOOKBACK_WEEKS = 52


def expired_batches(batch_thursday: date) -> tuple[date, ...]:
    """The Thursdays whose entries the run of ``batch_thursday``'s batch purges, newest
    first: those more than ``BATCH_RETENTION`` before it, going back a year."""
    newest = batch_thursday - BATCH_RETENTION - timedelta(weeks=1)
    return tuple(newest - timedelta(weeks=w) for w in range(PURGE_LOOKBACK_WEEKS + 1))


def hold_ready_pending_key(patron_id: str) -> str:
    return f"hr.{kv_token(patron_id)}"


def overdue_pending_key(patron_id: str) -> str:
    return f"od.{kv_token(patron_id)}"


HOLD_READY_FILTER = "hr.*"
ADDRESS_FILTER = "addr.*"
OVERDUE_FILTER = "od.*"

#: The first token of each kind's ``mail_pending`` entry keys.
_PENDING_KINDS: dict[str, MailKind] = {"ol": "online_loan", "hr": "hold_ready", "od": "overdue"}


def pending_kind(key: str) -> MailKind | None:
    """The kind of mail whose events a ``mail_pending`` entry key collects; ``None`` for
    any other key (address changes, markers)."""
    prefix, dot, _ = key.partition(".")
    return _PENDING_KINDS.get(prefix) if dot else None


def returned_key(loan_id: str) -> str:
    """``mail_returned`` key of a returned loan."""
    return f"loan.{kv_token(loan_id)}"


def cancelled_key(hold_id: str) -> str:
    """``mail_returned`` key of a cancelled hold (its own prefix: never a loan's key)."""
    return f"hold.{kv_token(hold_id)}"


def address_change_key(patron_id: str) -> str:
    """``mail_pending`` key holding the patron's latest ``ils.patron.email_changed``."""
    return f"addr.{kv_token(patron_id)}"


def fired_marker(batch_thursday: date) -> str:
    """``mail_pending`` key recording that a batch's Saturday trigger has been handled."""
    return f"fired.ol.{batch_thursday.isoformat()}"
