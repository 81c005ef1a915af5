"""The mailer's internal records: pending entries (KV values) and mail work items.

``MailWork`` travels on the internal subject ``mail.send.<kind>`` (stream MAIL); its
``event_id`` is ``work-<mail_id>`` so a re-fired trigger publishing the same mail again is
stored once by the stream's duplicate window, and the ledger catches the rest.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model

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

WORK_SUBJECT = "mail.send"


class PendingEvent(BaseModel):
    """One collected event; ``run`` is set once a run has taken it (frozen from then on)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: PendingSource
    run: str | None = None


class PendingEntry(BaseModel):
    """Value of ``mail_pending[<kind>.<scope>.<patron>]``: one patron's waiting events.

    ``mailed`` (online-loan entries only): the loan ids a run of the batch has already
    handed to sending (tombstones), so the same items collected again (a redelivery, an
    ILS re-post) are not mailed twice. An entry holding only tombstones has nothing to
    mail; the batch's entries are purged a few weeks after its Thursday.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MailKind
    patron_id: str
    events: tuple[PendingEvent, ...] = ()
    mailed: tuple[str, ...] = ()


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


def work_event_id(mail_id: str) -> str:
    return f"work-{mail_id}"


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


def decode_work(subject: str, data: bytes) -> MailWork:
    """Decoder for the send consumer (the internal subject is not in the public registry)."""
    if not subject.startswith(WORK_SUBJECT + "."):
        raise LookupError(f"not a mail work subject: {subject!r}")
    narrow = _NARROW.get(subject[len(WORK_SUBJECT) + 1 :])
    if narrow is not None:
        try:
            parsed = narrow.model_validate_json(data)
        except ValidationError:
            pass  # the full model decides (and words the errors)
        else:
            # Every field was validated by the narrow model, which differs only in events.
            return MailWork.model_construct(parsed.model_fields_set, **dict(parsed))
    return MailWork.model_validate_json(data)


def decode_digest(subject: str, data: bytes) -> BounceDigest:
    if subject != BounceDigest.SUBJECT:
        raise LookupError(f"not a bounce digest subject: {subject!r}")
    return BounceDigest.model_validate_json(data)
