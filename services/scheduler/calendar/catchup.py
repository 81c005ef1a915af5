"""What to do with the occurrences that came due since the last tick. Pure.

Given the due occurrences of one trigger (``after < nominal <= now``), ``decide`` returns one
action per occurrence, in order:

- suppressed by a closure: ``Suspend`` for a weekly batch trigger (one ServiceSuspended per
  week), ``Skip`` for the others;
- trigger paused: ``Skip``;
- found later than the trigger's grace window: ``Miss`` (reported, never fired);
- the rest, inside the grace window: the latest one is fired once, ``Fire(coalesced=N)``
  folding the N earlier ones in (several can only be in the window when the grace is
  longer than the trigger's period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .model import Occurrence, TriggerSpec


@dataclass(frozen=True, slots=True)
class Fire:
    occurrence: Occurrence
    coalesced: int = 0
    late: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Miss:
    occurrence: Occurrence
    reason: str


@dataclass(frozen=True, slots=True)
class Suspend:
    occurrence: Occurrence
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    occurrence: Occurrence
    reason: Literal["paused", "closed", "coalesced"]


Action = Fire | Miss | Suspend | Skip


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def miss_reason(lateness: timedelta, grace: timedelta) -> str:
    return (
        f"found {_duration(lateness)} after its nominal time, outside the grace window of "
        f"{_duration(grace)}: not fired (the scheduler was not running or not leading)"
    )


def decide(
    due: Sequence[Occurrence], now: datetime, spec: TriggerSpec, *, paused: bool
) -> list[Action]:
    """One action per due occurrence (see the module docstring)."""
    actions: list[Action] = []
    in_grace: list[Occurrence] = []
    for occ in sorted(due, key=lambda o: o.nominal):
        lateness = now - occ.nominal
        if occ.suppressed_by is not None:
            if spec.on_closed == "batch":
                actions.append(Suspend(occ, occ.suppressed_by))
            else:
                actions.append(Skip(occ, "closed"))
        elif paused:
            actions.append(Skip(occ, "paused"))
        elif lateness > spec.grace:
            actions.append(Miss(occ, miss_reason(lateness, spec.grace)))
        else:
            in_grace.append(occ)
    if in_grace:
        *folded, latest = in_grace
        actions.extend(Skip(occ, "coalesced") for occ in folded)
        actions.append(Fire(latest, coalesced=len(folded), late=now - latest.nominal))
    return sorted(actions, key=lambda a: a.occurrence.nominal)
