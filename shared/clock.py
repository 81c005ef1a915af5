"""Time as a parameter.

Services read time through a ``Clock`` so that tests and the demo can set it or speed it up
without touching the scheduling code paths. ``SystemClock`` is the real one; ``ScaledClock``
runs from a chosen start at a multiple of real time (``make run`` shows a week in minutes);
``ManualClock`` only moves when a test moves it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current aware time."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once ``now() >= when`` (or earlier if woken; callers re-check)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class ScaledClock:
    """Reads ``start`` at the real instant ``anchor`` and advances ``speed`` times faster.

    Processes given the same start, speed and anchor agree on the time, so a demo cluster
    of several services shares one fast clock.
    """

    def __init__(self, start: datetime, speed: float = 1.0, anchor: datetime | None = None) -> None:
        if start.tzinfo is None or (anchor is not None and anchor.tzinfo is None):
            raise ValueError("start and anchor must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._speed = speed
        self._anchor = (anchor or datetime.now(UTC)).timestamp()

    def now(self) -> datetime:
        elapsed = (time.time() - self._anchor) * self._speed
        return self._start + timedelta(seconds=elapsed)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds() / self._speed
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock a test moves by hand; sleepers wake when it passes their time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        self._moved.set()
        self._moved = asyncio.Event()

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    async def sleep_until(self, when: datetime) -> None:
        while self._now < when:
            await self._moved.wait()


def clock_from_settings(
    start: datetime | None, speed: float, anchor: datetime | None = None
) -> Clock:
    """The demo/test clock when a start or speed is configured, else the system clock."""
    if start is None and speed == 1.0:
        return SystemClock()
    return ScaledClock(start or datetime.now(UTC), speed, anchor)
