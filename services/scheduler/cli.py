"""``otayori schedule ...``: plan, status, fire, pause/resume, close/reopen (docs/scheduler.md).

Trigger names and output formats are a public interface. Bad input (unknown trigger, bad
date) is an argparse error (exit 2); a refused action exits 1.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import Any

from shared.contracts.schedule import TRIGGER_NAMES

from . import commands, status
from .records import FIRST_DAY, LAST_DAY, MAX_REASON


def _in_range(day: date, text: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"out of range: {text!r} (from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})"
        )


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    _in_range(day, text)
    return day


def _at(text: str) -> date | datetime:
    """A day (YYYY-MM-DD, the trigger's occurrence that day) or a nominal time with offset."""
    if len(text) == 10:
        return _date(text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or ISO time: {text!r} (e.g. 2026-12-05 or 2026-12-05T09:00+09:00)"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the UTC offset: {text!r} (e.g. +09:00)")
    _in_range(value.date(), text)
    return value


def reason(text: str) -> str:
    """A closure reason: not blank, at most MAX_REASON characters (surrounding space dropped)."""
    stripped = text.strip()
    if not stripped:
        raise argparse.ArgumentTypeError("must not be empty")
    if len(stripped) > MAX_REASON:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_REASON} characters (this one has {len(stripped)})"
        )
    return stripped


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= days <= 400:
        raise argparse.ArgumentTypeError("--days must be between 1 and 400")
    return days


def _trigger(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "trigger", choices=TRIGGER_NAMES, metavar="TRIGGER", help=", ".join(TRIGGER_NAMES)
    )


def register(sub: Any) -> None:
    """Add this service's sub-commands to the ``otayori`` parser."""
    schedule = sub.add_parser(
        "schedule", help="the library calendar: plan, status, fire, pause, close"
    )
    cmds = schedule.add_subparsers(dest="schedule_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("plan", help="upcoming occurrences in JST, closures and pauses applied")
    p.add_argument("--from", dest="start", type=_date, help="first day (default: today, JST)")
    p.add_argument("--days", type=_days, default=14, help="number of days, 1-400 (default 14)")
    p.add_argument("--json", action="store_true", help="one JSON object per occurrence per line")
    p.add_argument("--offline", action="store_true", help="calendar file only, do not ask NATS")
    p.set_defaults(func=commands.plan)

    p = cmds.add_parser(
        "status", help="runtime state: per trigger, the leader, runtime closures (from NATS)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=status.status)

    p = cmds.add_parser("fire", help="publish one occurrence now (idempotent per occurrence)")
    _trigger(p)
    p.add_argument(
        "--at", type=_at, help="the occurrence: its day or nominal time (default: last due)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="deliberate re-run: a distinct event id with forced=true (also for a suspended day)",
    )
    p.set_defaults(func=commands.fire)

    for name, func, text in (
        ("pause", commands.pause, "stop firing TRIGGER until resumed (shown in plan)"),
        ("resume", commands.resume, "fire TRIGGER again from its next occurrence"),
    ):
        p = cmds.add_parser(name, help=text)
        _trigger(p)
        if name == "pause":
            p.add_argument("--note", default="", help="why (shown to other operators)")
        p.set_defaults(func=func)

    p = cmds.add_parser("close", help="add a runtime closure (days without processing)")
    p.add_argument("--from", dest="start", type=_date, required=True)
    p.add_argument("--to", dest="end", type=_date, required=True)
    p.add_argument(
        "--reason", type=reason, required=True, help=f"e.g. 臨時休館 (at most {MAX_REASON} chars)"
    )
    p.set_defaults(func=commands.close)

    p = cmds.add_parser("reopen", help="remove a runtime closure added with close")
    p.add_argument("--from", dest="start", type=_date, required=True)
    p.add_argument("--to", dest="end", type=_date, required=True)
    p.set_defaults(func=commands.reopen)
