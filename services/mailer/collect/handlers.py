"""Consumer handlers of the collecting side: ILS events, triggers, the bounce digest.

- Events mailed in a run (online loan, hold ready, overdue) are added to the patron's
  ``mail_pending`` entry; the run's trigger fans the entries out into work items.
- Events mailed promptly (hold cancelled, loan suspended, bounce digest) become a work
  item at once. A hold's cancellation also ends its ready report (recorded in
  ``mail_returned``, dropped from the pending entry, left out by the run and the sender),
  as a loan's return ends its reminders.
Each handler is idempotent: a redelivered event or a re-fired trigger produces the same
work items (same ids), which the MAIL stream and the ledger de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from nats.errors import Error as NatsError

from services.mailer.collect import runlock
from services.mailer.collect.runlock import RunLocks
from services.mailer.collect.store import ConflictError, PendingStore, Stored
from services.mailer.plan import addresses, eligibility, grouping, keys
from services.mailer.plan.chunks import entry_group, windows
from services.mailer.plan.grouping import Eligible, Siblings
from services.mailer.plan.model import (
    CHUNK_SIZE,
    MailWork,
    PendingEntry,
    PendingSource,
    WorkChunk,
    carry,
)
from services.mailer.plan.work import make_work, prompt_work
from shared.bus.consume import Delivery, Reject, Retry
from shared.clock import JST, Clock
from shared.contracts.base import Event
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
    PatronEmailChanged,
    PatronLoanSuspended,
)
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow, TriggerFired

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
#: Entries a run handles at once (in chunks of ``CHUNK_SIZE``).
FANOUT_CONCURRENCY = 64
#: A long run tells the server it is alive after this many entries.
PROGRESS_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a trigger: which entries, which events, which mail."""

    kind: MailKind
    run_id: str
    trigger: TriggerFired
    eligible: Eligible
    useless: Eligible
    batch: BatchWindow | None = None
    siblings: Siblings | None = None  # runs whose marks this run respects


#: The mail kind each run trigger makes; one run of a kind at a time (``RunLocks``).
RUN_KINDS: dict[str, MailKind] = {
    "weekly-loan-mail": "online_loan",
    "daily-hold-ready": "hold_ready",
    "daily-overdue": "overdue",
}


class Collector:
    def __init__(
        self,
        *,
        store: PendingStore,
        publish: Publish,
        clock: Clock,
        staff_address: str,
        on_work: Callable[[MailKind], None] = lambda kind: None,
        runs: RunLocks | None = None,
    ) -> None:
        self._store = store
        self._runs = runs
        self._publish = publish
        self._clock = clock
        self._staff = staff_address
        self._on_work = on_work

    # -- ILS events ------------------------------------------------------------------------

    async def on_ils(self, event: Event, delivery: Delivery) -> None:
        if isinstance(event, LoanOnlineIssued):
            await self._collect_online_loan(event)
        elif isinstance(event, HoldReady):
            await self._collect_hold_ready(event)
        elif isinstance(event, LoanOverdue):
            if await self._store.is_returned(event.loan_id):
                log.info("collect.overdue_already_returned", extra={"patron_id": event.patron_id})
                return
            key = keys.overdue_pending_key(event.patron_id)
            await self._collect_daily(key, "overdue", event)
        elif isinstance(event, LoanReturned):
            await self._store.mark_returned(event)
            key = keys.overdue_pending_key(event.patron_id)
            await self._store.change(key, lambda e: grouping.drop_loans(e, {event.loan_id}))
        elif isinstance(event, HoldCancelled):
            await self._cancel_hold(event)
        elif isinstance(event, PatronLoanSuspended):
            await self._send_prompt(event)
        elif isinstance(event, PatronEmailChanged):
            if await self._store.record_address(event):
                log.info("collect.address_changed", extra={"patron_id": event.patron_id})
        else:
            raise Reject(f"the mailer does not handle {type(event).__name__}")

    async def _collect_hold_ready(self, event: HoldReady) -> None:
        # A report the hold's cancellation has ended (it arrived out of order, or was
        # redelivered after it) is never mailed; one secured later is a new hold.
        cancel = await self._store.cancellation(event.hold_id)
        if eligibility.is_cancelled(event, cancel):
            log.info("collect.hold_already_cancelled", extra={"patron_id": event.patron_id})
            return
        key = keys.hold_ready_pending_key(event.patron_id)
        if cancel is not None:
            # A cancelled report collected while the cancellation was handled would hold
            # the new one off as "the same hold, held already".
            await self._store.change(key, lambda e: eligibility.drop_holds(e, cancel))
        await self._collect_daily(key, "hold_ready", event)

    async def _cancel_hold(self, event: HoldCancelled) -> None:
        """Record the cancellation, drop the hold's waiting ready report, then mail the
        cancellation. In this order a crash anywhere is repaired by the redelivery, which
        repeats all three harmlessly (the record keeps the newest cancellation, the drop
        finds nothing more, the prompt mail has the same key)."""
        cancel = await self._store.record_cancelled(event)
        key = keys.hold_ready_pending_key(event.patron_id)
        await self._store.change(key, lambda e: eligibility.drop_holds(e, cancel))
        await self._send_prompt(event)

    async def _send_prompt(self, event: HoldCancelled | PatronLoanSuspended) -> None:
        change = await self._store.address_change(event.patron_id)
        recipient = addresses.address_for(event.email, event.occurred_at, change)
        await self._send_now(prompt_work(event, recipient=recipient, now=self._clock.now()))

    async def _collect_daily(
        self, key: str, kind: MailKind, event: HoldReady | LoanOverdue
    ) -> None:
        if not await self._store.add(key, kind, event.patron_id, event):
            # A redelivery, or a re-post of an item held for the next run or mailed by one.
            extra = {"patron_id": event.patron_id, "kind": kind}
            log.info("collect.already_collected", extra=extra)

    async def _collect_online_loan(self, event: LoanOnlineIssued) -> None:
        key = keys.online_loan_pending_key(event.batch_thursday, event.patron_id)
        await self._store.add(key, "online_loan", event.patron_id, event)
        fired = await self._store.get_marker(keys.fired_marker(event.batch_thursday))
        if fired is None:
            return
        # The batch's Saturday run has started: mail these late items now rather than
        # never (a supplementary mail of this event alone, its own run and business key),
        # unless the Saturday run has marked them already. Items a run of the batch has
        # mailed (the entry's tombstones) are not late: a redelivery or re-post of them
        # mails nothing, one listing more items mails the new ones alone.
        stored = await self._store.read(key)
        if stored is None:  # the batch's entries were purged (a very late replay)
            log.warning("collect.online_loan_batch_gone", extra={"patron_id": event.patron_id})
            return
        late = grouping.late_event(stored.entry, event)
        if late is None:
            log.info("collect.online_loan_already_mailed", extra={"patron_id": event.patron_id})
            return
        trigger = TriggerFired.model_validate_json(fired)
        await self._fan_out_chunk(self._online_loan_run(trigger, late=late), [stored])
        log.warning("collect.online_loan_late", extra={"patron_id": event.patron_id})

    # -- triggers --------------------------------------------------------------------------

    async def on_trigger(self, trigger: TriggerFired, delivery: Delivery) -> None:
        kind = RUN_KINDS.get(trigger.trigger)
        if kind is None:
            return  # not a trigger the mailer acts on (filtered out by the consumer)
        exclusive = self._runs.exclusive(kind) if self._runs else contextlib.nullcontext()
        async with exclusive:  # one run of a kind at a time, across replicas
            if kind == "online_loan":
                await self._weekly_run(trigger, delivery)
            elif kind == "hold_ready":
                await self._hold_ready_run(trigger, delivery)
            else:
                await self._overdue_run(trigger, delivery)

    async def _weekly_run(self, trigger: TriggerFired, delivery: Delivery) -> None:
        run = self._online_loan_run(trigger)
        assert run.batch is not None
        thursday = run.batch.thursday
        await self._store.put_marker(
            keys.fired_marker(thursday), trigger.model_dump_json().encode()
        )
        entries = await self._store.scan(keys.online_loan_batch_filter(thursday))
        await self._fan_out(run, entries, delivery)
        # Counted from today at the latest: a trigger forced for a future date must not
        # purge batches that are still current.
        await self._purge_old_batches(min(thursday, self._today()))

    async def _purge_old_batches(self, reference: date) -> None:
        """Drop the entries (tombstones) of batches past their retention.

        Housekeeping after the run's mails are out: a failure is logged and left to the
        next weekly run (which purges a year of batches again), rather than failing a run
        whose work is done (its redelivery would fan out again for nothing and could end
        as a misleading dead letter). Entries still waiting in the newest expired batch
        (a run that never happened or ended in a dead letter) are named in a warning first.
        """
        batches = keys.expired_batches(reference)
        try:
            await self._warn_unmailed(batches[0])
            await self._store.purge(keys.online_loan_batch_filter(t) for t in batches)
        except NatsError as exc:
            log.warning(
                "collect.batches_purge_failed",
                extra={"reference": reference.isoformat(), "error": type(exc).__name__},
            )
            return
        log.info(
            "collect.batches_purged",
            extra={
                "batches": len(batches),
                "newest": batches[0].isoformat(),
                "oldest": batches[-1].isoformat(),
            },
        )

    async def _warn_unmailed(self, thursday: date) -> None:
        waiting = await self._store.scan(keys.online_loan_batch_filter(thursday))
        if waiting:
            log.warning(
                "collect.batch_purged_unmailed",
                extra={
                    "batch_thursday": thursday.isoformat(),
                    "entries": len(waiting),
                    "patron_ids": [s.entry.patron_id for s in waiting[:50]],
                },
            )

    def _online_loan_run(
        self, trigger: TriggerFired, *, late: LoanOnlineIssued | None = None
    ) -> Run:
        """The batch's Saturday run, or the late run of one event arriving after it."""
        batch = trigger.batch
        if batch is None:
            raise Reject("weekly-loan-mail trigger without its batch window")
        run_id = batch.batch_id
        eligible: Eligible = eligibility.always
        if late is not None:
            run_id = keys.late_online_loan_run(batch.batch_id, late)
            eligible = eligibility.same_items(late)
        siblings = keys.batch_runs(batch.batch_id)  # each respects the others' marks
        return Run("online_loan", run_id, trigger, eligible, eligibility.never, batch, siblings)

    async def _hold_ready_run(self, trigger: TriggerFired, delivery: Delivery) -> None:
        rd = trigger.run_date
        stored = await self._store.scan_all(keys.HOLD_READY_FILTER)
        entries = _waiting(stored)
        # A report collected while its cancellation was being handled may still be here.
        holds = _item_ids(entries, lambda e: e.hold_id if isinstance(e, HoldReady) else None)
        cancelled = await self._store.cancelled_among(holds)
        run = Run(
            "hold_ready",
            keys.hold_ready_run(rd),
            trigger,
            eligibility.hold_ready_eligible(rd, cancelled),
            eligibility.hold_ready_useless(rd, cancelled),
        )
        await self._fan_out(run, entries, delivery)
        await self._forget_past(stored, delivery)

    async def _overdue_run(self, trigger: TriggerFired, delivery: Delivery) -> None:
        stored = await self._store.scan_all(keys.OVERDUE_FILTER)
        entries = _waiting(stored)
        loans = _item_ids(entries, lambda e: e.loan_id if isinstance(e, LoanOverdue) else None)
        returned = await self._store.returned_among(loans)
        run = Run(
            "overdue",
            keys.overdue_run(trigger.run_date),
            trigger,
            eligibility.overdue_eligible(returned),
            eligibility.overdue_useless(returned),
        )
        await self._fan_out(run, entries, delivery)
        await self._forget_past(stored, delivery)

    async def _forget_past(self, stored: Sequence[Stored], delivery: Delivery) -> None:
        """Drop the tombstones past their ``keep`` (today's date, not the run's: a trigger forced
        for a later date forgets nothing early) from entries holding nothing else (a run
        releasing an entry prunes its own); entries left empty are deleted.

        Housekeeping after the run's mails are out, like the weekly purge: a NATS error is
        logged and left to the next run.
        """
        today = self._today()
        spent = [s for s in stored if not grouping.waiting(s.entry)]
        stale = [s for s in spent if grouping.prune(s.entry, today) is not s.entry]
        try:
            for done, s in enumerate(stale, 1):
                await self._store.change(s.key, lambda e: grouping.prune(e, today), hint=s)
                if done % PROGRESS_EVERY == 0:
                    await delivery.in_progress()
        except (NatsError, ConflictError) as exc:
            log.warning(
                "collect.tombstones_forget_failed",
                extra={"today": today.isoformat(), "error": type(exc).__name__},
            )
            return
        if stale:
            log.info("collect.tombstones_forgotten", extra={"entries": len(stale)})

    async def _fan_out(self, run: Run, entries: Sequence[Stored], delivery: Delivery) -> None:
        """Each entry's events of this run become one mail; the mails travel in chunks.

        Per chunk: *assign* its entries, *publish* the chunk, *release* its entries — the
        same three steps as for a single mail, so a crash anywhere re-runs them with the
        same result (the assigned sets are frozen; the ledger catches a mail carried in
        two chunks).
        """
        chunks = windows(entries, lambda s: entry_group(s.entry), CHUNK_SIZE)
        sem = asyncio.Semaphore(max(1, FANOUT_CONCURRENCY // CHUNK_SIZE))
        done = 0
        changes = await self._store.address_changes() if entries else {}

        async def one(chunk: list[Stored]) -> None:
            nonlocal done
            async with sem:
                if not runlock.still_held():
                    # Another replica may run this kind now: stop at a chunk's boundary.
                    raise Retry(f"the {run.kind} run lost its lock", delay=1.0)
                await self._fan_out_chunk(run, chunk, changes)
                before, done = done, done + len(chunk)
                if done // PROGRESS_EVERY != before // PROGRESS_EVERY:
                    await delivery.in_progress()

        await _together(one(c) for c in chunks)
        log.info(
            "collect.run_fanned_out",
            extra={"run": run.run_id, "kind": run.kind, "entries": len(entries)},
        )

    async def _fan_out_chunk(
        self,
        run: Run,
        chunk: Sequence[Stored],
        changes: Mapping[str, PatronEmailChanged] | None = None,
    ) -> None:
        assigned = await self._store.assign(
            chunk, run.run_id, run.eligible, run.useless, run.siblings
        )
        works = [
            await self._work(run, s.entry, taken, changes)
            for s, (taken, _) in zip(chunk, assigned, strict=True)
            if taken
        ]
        if works:
            await self._send_now(carry(works, self._clock.now()))
        # ``written`` is the entry as this process last wrote or read it: if anything
        # changed since, the compare-and-set fails and ``release`` re-reads.
        await self._store.release(
            [(s.key, written) for s, (_, written) in zip(chunk, assigned, strict=True)],
            run.run_id,
            today=self._today(),
        )

    async def _work(
        self,
        run: Run,
        entry: PendingEntry,
        taken: Sequence[PendingSource],
        changes: Mapping[str, PatronEmailChanged] | None,
    ) -> MailWork:
        """The mail of this run's events (``taken``) of one entry."""
        change = (
            changes.get(entry.patron_id)
            if changes is not None
            else await self._store.address_change(entry.patron_id)
        )
        return make_work(
            run.kind,
            taken,
            patron_id=entry.patron_id,
            recipient=addresses.latest_address(taken, change),
            run_id=run.run_id,
            run_date=run.trigger.run_date,
            batch=run.batch,
            nominal_time=run.trigger.nominal_time,
            now=self._clock.now(),
        )

    def _today(self) -> date:
        return self._clock.now().astimezone(JST).date()

    # -- bounce digest ---------------------------------------------------------------------

    async def on_digest(self, digest: BounceDigest, delivery: Delivery) -> None:
        await self._send_now(prompt_work(digest, recipient=self._staff, now=self._clock.now()))

    async def _send_now(self, item: MailWork | WorkChunk) -> None:
        await self._publish(item)
        for work in item.works if isinstance(item, WorkChunk) else (item,):
            self._on_work(work.kind)


async def _together(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` side by side; the first failure cancels the others and waits for them
    before it is raised, so nothing of a failed run goes on after its handler (and its
    lock) ended. (``gather`` left the other chunks publishing.)"""
    try:
        async with asyncio.TaskGroup() as group:
            for coro in coros:
                group.create_task(coro)
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None


def _item_ids(entries: Sequence[Stored], item: Callable[[PendingSource], str | None]) -> set[str]:
    """The ids ``item`` gives for the waiting events of ``entries`` (holds, loans)."""
    return {i for s in entries for p in s.entry.events if (i := item(p.event)) is not None}


def _waiting(stored: Sequence[Stored]) -> list[Stored]:
    return [s for s in stored if grouping.waiting(s.entry)]
