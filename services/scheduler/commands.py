"""The ``otayori schedule`` commands (adapters: settings, calendar file, NATS)."""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError

from shared.bus.connect import connect_once
from shared.bus.kvscan import ScanError
from shared.clock import Clock, SystemClock, clock_from_settings
from shared.runtime.logging import mask_url
from shared.settings import load_settings

from .bus import ScheduleBus
from .calendar import (
    Calendar,
    Occurrence,
    fired_event,
    latest_at_or_before,
    occurrence_at,
    occurrences,
)
from .calendar.holidays_jp import JapaneseHolidays
from .calendar_file import load_calendar_file
from .errors import SchedulerError, UnreadableClosures, UnreadableRecord
from .plan import json_lines, plan_row, table
from .records import (
    FIRST_DAY,
    LAST_DAY,
    ForcedRecord,
    PauseRecord,
    RuntimeClosure,
    closure_key,
    staff_text,
)
from .settings import SchedulerSettings
from .store import ClosureStore, StateStore
from .triggers import build_calendar

#: NATS not reachable or not answering (a ScanError: a read the server did not complete).
BUS_ERRORS = (NatsError, OSError, TimeoutError, ScanError)


def service_clock(settings: SchedulerSettings) -> Clock:
    """The services' clock: the real one, or the demo's (``OTAYORI_CLOCK_START``)."""
    return clock_from_settings(settings.clock_start, settings.clock_speed, settings.clock_anchor)


def _warn(message: str) -> None:
    print(f"otayori schedule: {mask_url(message)}", file=sys.stderr)


def fail(message: str) -> int:
    """Say ``message`` on stderr (URL credentials masked); exit status 1."""
    _warn(message)
    return 1


def usage_error(command: str, option: str, problem: str) -> int:
    """Bad input found after parsing, said as argparse says it; exit status 2 (nothing is
    written)."""
    print(f"otayori schedule {command}: error: argument {option}: {problem}", file=sys.stderr)
    return 2


def nats_failure(settings: SchedulerSettings, exc: Exception) -> int:
    """Exit status 1 with one line: NATS unreachable, or the buckets not provisioned."""
    if isinstance(exc, BucketNotFoundError):
        return fail("the scheduler's KV buckets do not exist yet: run `otayori provision`")
    return fail(f"NATS unavailable at {settings.nats_url}: {type(exc).__name__} {exc}")


def _reopen_days(key: str) -> tuple[date, date] | None:
    """The ``--from`` and ``--to`` with which ``reopen`` removes ``key``, if it can."""
    kind, _, days = key.partition(".")
    start, _, end = days.partition(".")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return None
    accepted = all(FIRST_DAY <= day <= LAST_DAY for day in (first, last))
    if kind != "closure" or not accepted or closure_key(first, last) != key:
        return None
    return first, last


def closure_removal(key: str) -> str:
    """The command that removes the runtime closure at ``key``, readable or not: ``reopen``
    for a key it can name (``closure.<from>.<to>``), else the ``nats`` CLI."""
    days = _reopen_days(key)
    if days is None:
        return f"nats kv del schedule_closures {key}"
    return f"otayori schedule reopen --from {days[0]} --to {days[1]}"


def unreadable_closures(exc: UnreadableClosures) -> str:
    """For staff: which closures are unreadable, how to remove them, what it means."""
    found = "; ".join(
        f"schedule_closures[{r.key}] is unreadable ({r.detail}): remove it with "
        f"`{closure_removal(r.key)}`"
        for r in exc.records
    )
    return (
        f"{found}. Until then the scheduler fires nothing (which days are closed is unknown); "
        "if those days are closed, add them again with `otayori schedule close`"
    )


def operator_name() -> str:
    """Who runs the command, for the records: ``<login>@<host>``, or ``uid:<n>@<host>`` when
    there is no login name (a container with an arbitrary uid, no USER or LOGNAME)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # KeyError up to Python 3.12, OSError from 3.13
        user = f"uid:{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@asynccontextmanager
async def cli_connection(settings: SchedulerSettings) -> AsyncIterator[Client]:
    """A one-shot connection: fails fast instead of reconnecting forever."""
    nc = await connect_once(settings, name="otayori-schedule-cli", timeout=2)
    try:
        yield nc
    finally:
        await nc.close()


def file_calendar(settings: SchedulerSettings) -> Calendar:
    """The calendar from the settings and the calendar file (runtime closures not applied)."""
    closures = load_calendar_file(settings.scheduler_calendar_file)
    return build_calendar(settings, closures, JapaneseHolidays())


async def _runtime_state(
    settings: SchedulerSettings, cal: Calendar, start: datetime, end: datetime
) -> tuple[Calendar, set[str], str | None]:
    """Calendar with runtime closures and the cutoff records of the batches mailed in
    ``[start, end)``, paused triggers; or an error text if NATS is away or a runtime
    closure is unreadable (said on stderr, with how to remove it)."""
    try:
        async with cli_connection(settings) as nc:
            js = nc.jetstream()
            closures = await (await ClosureStore.open(js)).closures()
            paused = await _paused(await StateStore.open(js), cal)
            closed = cal.with_closures(closures)
            known = await ScheduleBus(js).with_cutoff_records(
                closed, occurrences(start, end, closed)
            )
    except UnreadableClosures as exc:
        _warn(unreadable_closures(exc))
        return cal, set(), f"unreadable: {', '.join(exc.keys)}"
    except BUS_ERRORS as exc:
        return cal, set(), mask_url(f"{type(exc).__name__}: {exc}".strip(": "))
    return known, paused, None


async def _paused(state: StateStore, cal: Calendar) -> set[str]:
    """The paused triggers. An unreadable pause counts, as in the scheduler (said on stderr)."""
    paused: set[str] = set()
    for name in (t.name for t in cal.triggers):
        try:
            if await state.paused(name) is None:
                continue
        except UnreadableRecord as exc:
            _warn(
                f"schedule_state[{exc.key}] is unreadable ({exc.detail}): the scheduler treats "
                f"{name} as paused; `otayori schedule resume {name}` removes it"
            )
        paused.add(name)
    return paused


async def plan(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    try:
        cal = file_calendar(settings)
    except SchedulerError as exc:
        return fail(str(exc))
    error: str | None = "--offline"
    paused: set[str] = set()
    first: date = args.start or service_clock(settings).now().astimezone(cal.tz).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=cal.tz)
    end = start + timedelta(days=args.days)
    if not args.offline:
        cal, paused, error = await _runtime_state(settings, cal, start, end)
    occs = occurrences(start, end, cal)
    rows = [plan_row(o, cal, paused=o.trigger in paused) for o in occs]
    if args.json:
        if error:
            print(f"# runtime closures/pauses not included ({error})", file=sys.stderr)
        print("\n".join(json_lines(rows, runtime_state=error is None)))
        return 0
    print("\n".join(table(rows, _notes(settings, first, args.days, error))))
    return 0


def _notes(settings: SchedulerSettings, first: date, days: int, error: str | None) -> list[str]:
    last = first + timedelta(days=days - 1)
    source = f"休館カレンダー {settings.scheduler_calendar_file}"
    if error is None:
        source += f" + 実行時の休館・一時停止 ({mask_url(settings.nats_url)})"
    else:
        source += f" のみ（実行時の休館・一時停止は未反映: {error}）"
    return [
        f"予定 {first.isoformat()}〜{last.isoformat()}（{days}日間, {settings.timezone}）",
        source,
        f"祝日の扱い: {settings.scheduler_holidays} / 休館日の日次処理: "
        f"{settings.scheduler_daily_on_closed}",
    ]


async def fire(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    by = operator_name()  # before anything is published
    try:
        cal = file_calendar(settings)
        spec = cal.trigger(args.trigger)
        now = service_clock(settings).now()
        async with cli_connection(settings) as nc:
            js = nc.jetstream()
            cal = cal.with_closures(await (await ClosureStore.open(js)).closures())
            occ = (
                occurrence_at(spec, args.at, cal)
                if args.at
                else latest_at_or_before(now, spec, cal)
            )
            # A Saturday mail follows what its batch's cutoff did, as the engine decides.
            cal = await ScheduleBus(js).with_cutoff_records(cal, (occ,))
            occ = occurrence_at(spec, occ.nominal, cal)
            if occ.nominal > now:
                # A run fired ahead of its time would take today's events as that day's
                # (a hold secured today mailed today, a batch's Thursday events mailed late).
                local = now.astimezone(cal.tz)
                return fail(f"{occ.id} is not due yet (now {local:%Y-%m-%d %H:%M})")
            if occ.suppressed_by and not args.force:
                return fail(f"{occ.id} is suspended ({occ.suppressed_by}); {_remedy(occ, cal)}")
            state, event_id = await _fire_once(js, occ, now, force=args.force, by=by)
    except UnreadableClosures as exc:
        return fail(unreadable_closures(exc))
    except SchedulerError as exc:
        return fail(str(exc))
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    print(f"{state}\t{occ.id}\t{event_id}")
    return 0


def _remedy(occ: Occurrence, cal: Calendar) -> str:
    """What lifts the suspension of ``occ``: reopening its days, unless it follows its
    batch's recorded cutoff (reopening changes nothing then)."""
    spec, batch = cal.trigger(occ.trigger), occ.batch
    if spec.follows_cutoff and batch is not None and cal.cutoff_record(batch.thursday):
        assert cal.cutoff is not None
        thursday = batch.thursday.isoformat()
        return (
            f"its batch's cutoff was suspended on {thursday}: fire it first "
            f"(otayori schedule fire {cal.cutoff.name} --at {thursday} --force) "
            "or use --force"
        )
    return "reopen the days or use --force"


async def _fire_once(
    js: JetStreamContext, occ: Occurrence, now: datetime, *, force: bool, by: str
) -> tuple[str, str]:
    """Publish ``occ`` unless its trigger already fired for that run date (any time before,
    also beyond the stream's duplicate window); ``--force`` always publishes a re-run.
    Returns the output word and the event id published (or found)."""
    bus = ScheduleBus(js)
    if not force:
        earlier = await bus.fired_on(occ.trigger, occ.run_date)
        if earlier is not None:
            return "duplicate", earlier.event_id
    event = fired_event(occ, now, forced=force)
    stored = await bus.publish(event)
    if force:
        record = ForcedRecord(occurrence_id=occ.id, event_id=event.event_id, at=now, by=by)
        await (await StateStore.open(js)).record_forced(occ.trigger, record)
    return ("forced" if force else "fired") if stored else "duplicate", event.event_id


async def pause(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    try:  # the rule of --reason; an empty note is none (the default)
        note = staff_text(args.note) if args.note else ""
    except ValueError as exc:
        return usage_error("pause", "--note", str(exc))
    record = PauseRecord(paused_at=SystemClock().now(), by=operator_name(), note=note)
    try:
        async with cli_connection(settings) as nc:
            await (await StateStore.open(nc.jetstream())).pause(args.trigger, record)
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    print(f"paused\t{args.trigger}")
    return 0


async def resume(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    try:
        async with cli_connection(settings) as nc:
            was_paused = await (await StateStore.open(nc.jetstream())).resume(args.trigger)
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    print(f"{'resumed' if was_paused else 'not-paused'}\t{args.trigger}")
    return 0


async def close(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    if args.end < args.start:
        return usage_error("close", "--to", f"{args.end} is before --from {args.start}")
    try:  # blank and too long are refused by the parser (cli.reason), control characters here
        reason = staff_text(args.reason)
    except ValueError as exc:
        return usage_error("close", "--reason", str(exc))
    record = RuntimeClosure(
        start=args.start,
        end=args.end,
        reason=reason,
        added_at=SystemClock().now(),
        by=operator_name(),
    )
    try:
        async with cli_connection(settings) as nc:
            await (await ClosureStore.open(nc.jetstream())).add(record)
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    print(f"closed\t{args.start}\t{args.end}\t{record.reason}")
    return 0


async def reopen(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    try:
        async with cli_connection(settings) as nc:
            store = await ClosureStore.open(nc.jetstream())
            removed = await store.remove(closure_key(args.start, args.end))
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    if not removed:
        return fail(
            f"no runtime closure {args.start}..{args.end} (closures in "
            f"{settings.scheduler_calendar_file} are changed by editing that file)"
        )
    print(f"reopened\t{args.start}\t{args.end}")
    return 0
