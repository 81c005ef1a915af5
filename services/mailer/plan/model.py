"""The mailer's internal records: pending entries (KV values) and mail work items.

``MailWork`` travels on the internal subject ``mail.send.<kind>`` (stream MAIL); its
``event_id`` is ``work-<mail_id>`` so the same mail published again alone is stored once
by the stream's duplicate window, and the ledger catches the rest (a mail carried by two
differently cut chunks, say).

A run's mails travel in chunks: ``WorkChunk`` on ``mail.send.<kind>.chunk`` carries up to
``CHUNK_SIZE`` work items of one kind (one publish, delivery and ack for all of them). The
ledger still decides each mail on its own; a chunk is only a way of carrying them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import ClassVar, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from shared.contracts.base import Event
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanOnlineIssued,
    LoanOverdue,
    PatronLoanSuspended,
)
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow

#: Every event a mail can be made of. The models forbid extra fields and have distinct
#: required fields, so pydantic's smart union picks exactly one.
SourceEvent = (
    LoanOnlineIssued | HoldReady | HoldCancelled | LoanOverdue | PatronLoanSuspended | BounceDigest
)
#: Events collected in ``mail_pending`` until their run.
PendingSource = LoanOnlineIssued | HoldReady | LoanOverdue

KIND_OF_EVENT: dict[type[Event], MailKind] = {
    LoanOnlineIssued: "online_loan",
    HoldReady: "hold_ready",
    HoldCancelled: "hold_cancelled",
    LoanOverdue: "overdue",
    PatronLoanSuspended: "loan_suspended",
    BounceDigest: "bounce_digest",
}

N = TypeVar("N", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)

WORK_SUBJECT = "mail.send"
CHUNK_TOKEN = "chunk"
#: Work items a run puts in one chunk.
CHUNK_SIZE = 16


class PendingEvent(BaseModel):
    """One collected event; ``run`` is set once a run has taken it (frozen from then on)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: PendingSource
    run: str | None = None


class Tombstone(BaseModel):
    """An item a daily run has handed to sending (hold-ready and overdue entries): the
    same item collected again, as an event that occurred on or before ``until`` (JST),
    is that mail again (a redelivery, an ILS re-post), not a new one. Forgotten after
    ``keep``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str = Field(max_length=300)
    until: date
    keep: date


def _none_kept(value: tuple[Tombstone, ...]) -> bool:
    return not value


class PendingEntry(BaseModel):
    """Value of ``mail_pending[<kind>.<scope>.<patron>]``: one patron's waiting events.

    ``mailed`` (online-loan entries only): the loan ids a run of the batch has already
    handed to sending (tombstones), so the same items collected again (a redelivery, an
    ILS re-post) are not mailed twice. An entry holding only tombstones has nothing to
    mail; the batch's entries are purged a few weeks after its Thursday.

    ``recent`` (hold-ready and overdue entries): the same for the daily runs, each item
    with the date after which it is forgotten. Left out of the stored value while empty,
    so entries without it read the same to a mailer that predates it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MailKind
    patron_id: str
    events: tuple[PendingEvent, ...] = ()
    mailed: tuple[str, ...] = ()
    recent: tuple[Tombstone, ...] = Field((), exclude_if=_none_kept)


class MailWork(Event):
    """One mail to send: the unit of exactly-once delivery."""

    SUBJECT: ClassVar[str] = WORK_SUBJECT
    mail_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    business_key: str = Field(min_length=3, max_length=300)
    kind: MailKind
    patron_id: str | None
    recipient: str = Field(max_length=320, description="As registered; checked before sending.")
    run_id: str = Field(max_length=120)
    run_date: date
    batch: BatchWindow | None = None
    expires_at: AwareDatetime = Field(description="After this the mail is useless: `expired`.")
    events: list[SourceEvent] = Field(min_length=1)

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.kind}"

    @property
    def source_event_ids(self) -> list[str]:
        return [e.event_id for e in self.events]


class WorkChunk(Event):
    """Several mails of one kind carried together; each is still decided on its own."""

    SUBJECT: ClassVar[str] = WORK_SUBJECT
    kind: MailKind
    works: list[MailWork] = Field(min_length=1, max_length=CHUNK_SIZE * 4)

    @model_validator(mode="after")
    def _one_kind(self) -> WorkChunk:
        kinds = {w.kind for w in self.works}
        if kinds != {self.kind}:
            raise ValueError(f"a {self.kind} chunk holds work of kinds {sorted(kinds)}")
        if len({w.mail_id for w in self.works}) != len(self.works):
            raise ValueError("a chunk lists the same mail twice")
        return self

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.kind}.{CHUNK_TOKEN}"


def work_event_id(mail_id: str) -> str:
    return f"work-{mail_id}"


def chunk_event_id(mail_ids: Sequence[str]) -> str:
    """The same mails make the same chunk id (a re-published chunk is stored once)."""
    digest = hashlib.sha256("\n".join(sorted(mail_ids)).encode()).hexdigest()
    return f"chunk-{digest[:32]}"


def carry(works: Sequence[MailWork], now: datetime) -> MailWork | WorkChunk:
    """What to publish for ``works`` of one kind: a single item alone, else a chunk."""
    if len(works) == 1:
        return works[0]
    return WorkChunk.model_construct(
        event_id=chunk_event_id([w.mail_id for w in works]),
        occurred_at=now,
        kind=works[0].kind,
        works=list(works),
    )


def _narrow(event_type: type[Event]) -> type[MailWork]:
    """``MailWork`` whose events are all ``event_type`` (validation only, never published)."""
    narrow: type[MailWork] = create_model(
        f"MailWork{event_type.__name__}",
        __base__=MailWork,
        events=(list[event_type], Field(min_length=1)),  # type: ignore[valid-type]
    )
    return narrow


#: Per kind (the last token of the subject), the model validating only that kind's event
#: type. ``SourceEvent``'s smart union tries every member on every event; the event models
#: forbid extra fields and have distinct required fields, so a payload either validates as
#: exactly one member or as none: the narrow model accepts the same payloads of that kind
#: with the same result, without trying the other five.
_NARROW: dict[str, type[MailWork]] = {kind: _narrow(t) for t, kind in KIND_OF_EVENT.items()}


def _narrow_chunk(work: type[MailWork]) -> type[WorkChunk]:
    narrow: type[WorkChunk] = create_model(
        f"WorkChunk{work.__name__}",
        __base__=WorkChunk,
        works=(list[work], Field(min_length=1, max_length=CHUNK_SIZE * 4)),  # type: ignore[valid-type]
    )
    return narrow


_NARROW_CHUNK: dict[str, type[WorkChunk]] = {
    kind: _narrow_chunk(model) for kind, model in _NARROW.items()
}


def decode_send(subject: str, data: bytes) -> MailWork | WorkChunk:
    """Decoder for the send consumer: a work item, or a chunk of them."""
    if not subject.startswith(WORK_SUBJECT + "."):
        raise LookupError(f"not a mail work subject: {subject!r}")
    kind, dot, token = subject[len(WORK_SUBJECT) + 1 :].partition(".")
    if not dot:
        return decode_work(subject, data)
    if token != CHUNK_TOKEN:
        raise LookupError(f"not a mail work subject: {subject!r}")
    return narrow_first(_NARROW_CHUNK.get(kind), WorkChunk, data, _widened_chunk)


def _widened_chunk(parsed: WorkChunk) -> WorkChunk:
    for work in parsed.works:
        _widened_work(work)
    return reclassed(parsed, WorkChunk)


def _widened_work(parsed: MailWork) -> MailWork:
    return reclassed(parsed, MailWork)


def reclassed(parsed: M, full: type[M]) -> M:
    """``parsed``, an instance of a narrow model (``create_model`` with ``__base__=full``,
    narrowing field types only), turned into a ``full`` in place: its validated values are
    values of ``full``, and the two classes hold their state in the same slots, so only
    the class changes (no copy: a per-mail cost on the send path)."""
    if type(parsed) is not full:
        if type(parsed).__base__ is not full:
            raise TypeError(f"{type(parsed).__name__} does not narrow {full.__name__}")
        object.__setattr__(parsed, "__class__", full)
    return parsed


def decode_work(subject: str, data: bytes) -> MailWork:
    """Decoder of one work item (the internal subject is not in the public registry)."""
    if not subject.startswith(WORK_SUBJECT + "."):
        raise LookupError(f"not a mail work subject: {subject!r}")
    return narrow_first(
        _NARROW.get(subject[len(WORK_SUBJECT) + 1 :]), MailWork, data, _widened_work
    )


def narrow_first(narrow: type[N] | None, full: type[M], data: bytes, widen: Callable[[N], M]) -> M:
    """``full.model_validate_json(data)``, tried first with ``narrow`` (the same model with
    one event type where ``full`` has a union: the same payloads accepted with the same
    values, without trying every member); ``widen`` turns its result into a ``full``. A
    payload the narrow model refuses is left to ``full``, which decides and words the errors.
    """
    if narrow is not None:
        try:
            parsed = narrow.model_validate_json(data)
        except ValidationError:
            pass
        else:
            return widen(parsed)
    return full.model_validate_json(data)


def decode_digest(subject: str, data: bytes) -> BounceDigest:
    if subject != BounceDigest.SUBJECT:
        raise LookupError(f"not a bounce digest subject: {subject!r}")
    return BounceDigest.model_validate_json(data)
