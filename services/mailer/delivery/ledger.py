"""The ``mail_ledger`` KV adapter: claim a mail, record how it ended (compare-and-set)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.mailer.plan.claims import Decision, Later, Take, decide, new_record
from services.mailer.plan.model import MailWork
from services.mailer.plan.timing import RetrySchedule
from shared.bus import kvscan
from shared.bus.kvscan import KvWrites
from shared.contracts.mail import SmtpCommand
from shared.mailrecord import LedgerState, MailRecord

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Claim:
    """This process holds the mail: ``record`` as written at ``revision``."""

    record: MailRecord
    revision: int

    @property
    def attempt(self) -> int:
        return self.record.attempts


class Ledger:
    def __init__(
        self,
        kv: KeyValue,
        *,
        lease: float,
        schedule: RetrySchedule,
        domain: str,
        writes: KvWrites | None = None,
    ) -> None:
        self._kv = kv
        # create / update on the hot path (a pipelined publisher); reads, put and delete
        # stay on ``kv``.
        self._writes: KvWrites = writes or kv
        self._lease = lease
        self._schedule = schedule
        self._domain = domain

    @property
    def lease(self) -> float:
        """Seconds a claim holds, counted from the record's ``updated_at``."""
        return self._lease

    async def read(self, mail_id: str) -> tuple[MailRecord | None, int | None]:
        try:
            entry = await self._kv.get(mail_id)
        except KeyNotFoundError:
            return None, None
        if entry.value is None:
            return None, entry.revision
        return MailRecord.model_validate_json(entry.value), entry.revision

    async def claim(self, work: MailWork, now: datetime) -> Decision | Claim:
        """A ``Claim`` when this process may send now, else the decision to act on."""
        # Most mails are new: try to create the record first (one round trip).
        fresh = new_record(work, self._domain, now)
        try:
            rev = await self._writes.create(work.mail_id, fresh.model_dump_json().encode())
            return Claim(fresh, rev)
        except KeyWrongLastSequenceError:
            pass  # it exists: read it and decide
        current, revision = await self.read(work.mail_id)
        decision = decide(
            work,
            current,
            revision,
            now=now,
            lease=self._lease,
            schedule=self._schedule,
            domain=self._domain,
        )
        if not isinstance(decision, Take):
            return decision
        data = decision.record.model_dump_json().encode()
        try:
            if decision.revision is None:
                rev = await self._writes.create(work.mail_id, data)
            else:
                rev = await self._writes.update(work.mail_id, data, last=decision.revision)
        except KeyWrongLastSequenceError:
            return Later(0.5, "lost the claim race to another sender")
        return Claim(decision.record, rev)

    async def finish(
        self,
        claim: Claim,
        state: LedgerState,
        now: datetime,
        *,
        code: int | None = None,
        text: str | None = None,
        command: SmtpCommand | None = None,
    ) -> MailRecord:
        """Record the end (or a deferral: ``pending``) of this process's attempt."""
        record = claim.record.model_copy(
            update={
                "state": state,
                "updated_at": now,
                "smtp_code": code,
                "smtp_text": text,
                "smtp_command": command,
            }
        )
        data = record.model_dump_json().encode()
        try:
            claim.revision = await self._writes.update(record.mail_id, data, last=claim.revision)
        except KeyWrongLastSequenceError:
            # Our lease ran out and another sender took the mail over. The facts of this
            # attempt still stand, so they are written anyway (a ``sent`` must never be lost).
            log.error("ledger.claim_lost", extra={"mail_id": record.mail_id, "state": state})
            claim.revision = await self._kv.put(record.mail_id, data)
        claim.record = record
        return record

    async def refresh(self, claim: Claim, now: datetime) -> bool:
        """Renew the claim (CAS on ``updated_at``); False when another sender took it over."""
        record = claim.record.model_copy(update={"updated_at": now})
        data = record.model_dump_json().encode()
        try:
            claim.revision = await self._writes.update(record.mail_id, data, last=claim.revision)
        except KeyWrongLastSequenceError:
            log.warning("ledger.claim_taken_over", extra={"mail_id": record.mail_id})
            return False
        claim.record = record
        return True

    async def abandon(self, claim: Claim) -> None:
        """Drop the claim of a mail that cannot be composed (it goes to a dead letter)."""
        try:
            await kvscan.cas_delete(self._kv, claim.record.mail_id, claim.revision)
        except KeyWrongLastSequenceError:
            self._abandon_conflict(claim)

    @staticmethod
    def _abandon_conflict(claim: Claim) -> None:
        # Another sender took the claim over meanwhile: leave its record alone.
        log.warning("ledger.abandon_conflict", extra={"mail_id": claim.record.mail_id})
