"""SMTP replies and per-carrier pacing decisions (pure; the delivery adapter applies them).

Carriers (docomo, au, SoftBank) and big mailbox providers throttle servers that send too
fast: they answer ``421`` or a ``4.7.x`` status. A group's pacer then doubles its interval
between mails (up to ``max_interval``), and each later success shortens it again by 10%
down to the configured rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["sent", "transient", "permanent"]
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def verdict(code: int) -> Verdict:
    """2xx sent, 5xx permanent; 4xx and no answer at all (a dropped connection) transient."""
    if 200 <= code < 300:
        return "sent"
    if 500 <= code < 600:
        return "permanent"
    return "transient"


def enhanced_status(text: str) -> str | None:
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def is_throttle(code: int, text: str) -> bool:
    """Does the server ask us to slow down? (421, or any 4.7.x status)."""
    if code == 421:
        return True
    status = enhanced_status(text)
    return code // 100 == 4 and status is not None and status.startswith("4.7.")


@dataclass(slots=True)
class Pacer:
    """Spacing between mails of one carrier group. Times are monotonic seconds."""

    rate: float  # mails per second; 0 = unpaced unless throttled
    max_interval: float = 30.0
    interval: float = 0.0
    next_slot: float = 0.0

    def __post_init__(self) -> None:
        self.interval = self.base_interval

    @property
    def base_interval(self) -> float:
        return 1.0 / self.rate if self.rate > 0 else 0.0

    def reserve(self, now: float) -> float:
        """Take the next slot; returns how long to wait before sending (0 = now)."""
        if self.interval <= 0:
            return 0.0
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        return slot - now

    def throttled(self) -> None:
        self.interval = min(max(self.interval * 2, 0.5), self.max_interval)

    def succeeded(self) -> None:
        if self.interval > self.base_interval:
            shorter = self.interval * 0.9
            self.interval = shorter if shorter > self.base_interval + 1e-3 else self.base_interval
