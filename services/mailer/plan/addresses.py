"""Which address a mail goes to: the events' own, or a change the ILS reported since (pure)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from services.mailer.plan.model import PendingSource
from shared.contracts.ils import PatronEmailChanged


def latest_address(
    events: Collection[PendingSource], change: PatronEmailChanged | None = None
) -> str:
    """The address to mail: the most recent event's, or a newer registered change.

    A patron may change the address between the events and the run (often after staff
    phoned about a bounce): the change wins when the ILS reported it after the events.
    """
    latest = max(events, key=lambda e: e.occurred_at)
    return address_for(latest.email, latest.occurred_at, change)


def address_for(email: str, reported_at: datetime, change: PatronEmailChanged | None) -> str:
    """``email`` as of ``reported_at``, unless the ILS reported a change since."""
    if change is not None and change.occurred_at >= reported_at:
        return change.new_email
    return email


def newer_change(
    held: PatronEmailChanged | None, incoming: PatronEmailChanged
) -> PatronEmailChanged | None:
    """The change to keep; ``None`` when ``held`` is already as new (a redelivery)."""
    if held is not None and held.occurred_at >= incoming.occurred_at:
        return None
    return incoming
