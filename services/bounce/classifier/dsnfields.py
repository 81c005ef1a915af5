"""RFC 3464 delivery-status fields -> per-message and per-recipient field sets (pure).

RFC 3464 separates the per-message group and each per-recipient group with a blank line,
but real reports do not always: AOL's relay writes ``Reporting-MTA`` ... ``Arrival-Date``
and every recipient's fields as one run of lines. Reading such a run as one group keeps a
single value per field name, so all recipients but one were lost. ``split_group`` cuts a
run where a new recipient starts, and splits off the per-message fields in front of the
first recipient.
"""

from __future__ import annotations

from collections.abc import Iterable

DsnFields = dict[str, str]

_RECIPIENT = frozenset({"final-recipient", "original-recipient"})
_PER_MESSAGE = frozenset(
    {"reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date", "original-envelope-id"}
)
_RECORD_BODY = frozenset(
    {"action", "status", "remote-mta", "diagnostic-code", "last-attempt-date", "will-retry-until"}
)
"""Fields that follow a recipient's address lines: once one is seen after them, the
record's address lines are over, and a further ``Original-Recipient`` begins the next
recipient (some MTAs write ``Action`` first: a body field *before* the address does not
count)."""


def _starts_record(name: str, current: DsnFields, body_after_address: bool) -> bool:
    """Does field ``name`` begin a new per-recipient group after ``current``?"""
    if name not in _RECIPIENT:
        return False
    if name in current:  # Final-Recipient (or Original-Recipient) repeats
        return True
    if not _RECIPIENT.isdisjoint(current):  # the same recipient's other address field,
        return name == "original-recipient" and body_after_address  # or the next one's
    return _RECORD_BODY.isdisjoint(current) and not _PER_MESSAGE.isdisjoint(current)


def split_group(pairs: Iterable[tuple[str, str]]) -> list[DsnFields]:
    """One blank-line separated group of ``(lower-case name, value)`` pairs -> field sets.

    Within a set the first value of a field wins (a repeated field that does not start a
    new recipient is a duplicate line, not a correction).
    """
    blocks: list[DsnFields] = []
    current: DsnFields = {}
    body_after_address = False
    for name, value in pairs:
        if current and _starts_record(name, current, body_after_address):
            blocks.append(current)
            current = {}
        if name in _RECIPIENT:
            body_after_address = False
        elif name in _RECORD_BODY and not _RECIPIENT.isdisjoint(current):
            body_after_address = True
        current.setdefault(name, value)
    if current:
        blocks.append(current)
    return blocks
