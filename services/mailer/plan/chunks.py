"""How a run's entries are cut into chunks (pure).

A chunk's mails are carried together (one publish, one delivery, one ack) and its ack
waits for the slowest of them, so a chunk holds one carrier group's patrons: a chunk of
docomo mails waits for docomo's pacer while the other groups' chunks go on. The chunks of
the groups take turns (round robin), so the send consumer has every group's mail in hand
from the start rather than all of one carrier's first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import zip_longest
from typing import TypeVar

from services.mailer.plan.model import PendingEntry
from shared.carriers import carrier_group
from shared.contracts.mail import CarrierGroup

T = TypeVar("T")


def windows(items: Sequence[T], group_of: Callable[[T], str], size: int) -> list[list[T]]:
    """``items`` cut into runs of at most ``size`` of one group each (items in their order),
    the groups taking turns in first-seen order."""
    if size < 1:
        raise ValueError("a window holds at least one item")
    by_group: dict[str, list[T]] = {}
    for item in items:
        by_group.setdefault(group_of(item), []).append(item)
    cut = [
        [members[start : start + size] for start in range(0, len(members), size)]
        for members in by_group.values()
    ]
    return [window for turn in zip_longest(*cut) for window in turn if window is not None]


def entry_group(entry: PendingEntry) -> CarrierGroup:
    """The carrier group of the address an entry will most likely be mailed to (its
    latest event's; a registered change may move it, which only makes a chunk mixed)."""
    if not entry.events:
        return "other"
    latest = max((p.event for p in entry.events), key=lambda e: e.occurred_at)
    return carrier_group(latest.email)
