"""Poison bounces: a message whose handling keeps failing is set aside (pure counting).

The reader handles the inbox in UID order and ends its session at the first message it
cannot hand over, so one message that always fails would hold back every later bounce.
The processor counts the failures of each bounce id in a row here; at the limit the
message goes to the Quarantine folder. The count is in memory on purpose: a restart (a
deployed fix) gives every message fresh attempts. An outage of NATS is not counted
(``stores.unavailable``): it is not the message's fault, and every message would fail.
"""

from __future__ import annotations

from collections import OrderedDict


class FailureCounts:
    """Failed attempts in a row per bounce id, for at most ``capacity`` ids (oldest go)."""

    def __init__(self, limit: int, capacity: int = 1024) -> None:
        if limit < 1:
            raise ValueError("the poison limit must be at least 1")
        self.limit = limit
        self._capacity = capacity
        self._counts: OrderedDict[str, int] = OrderedDict()

    def failed(self, bounce_id: str) -> int:
        """Count one more failure; returns the failures in a row so far."""
        count = self._counts.pop(bounce_id, 0) + 1
        self._counts[bounce_id] = count
        while len(self._counts) > self._capacity:
            self._counts.popitem(last=False)
        return count

    def exhausted(self, count: int) -> bool:
        return count >= self.limit

    def succeeded(self, bounce_id: str) -> None:
        self._counts.pop(bounce_id, None)

    def __len__(self) -> int:
        return len(self._counts)
