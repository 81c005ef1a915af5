"""Bounce results and the staff queue's events."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Event, Id
from shared.contracts.mail import MailKind

BounceCategory = Literal[
    "bad_address",
    "domain_rejection",
    "mailbox_full",
    "forwarding_failure",
    "transient",
    "sender_side",
    "not_a_bounce",
    "unknown",
]
FlagStatus = Literal["open", "contacted", "resolved"]


class BounceEvidence(BaseModel):
    """What staff and ops need to see why a recipient was classified so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    received_at: AwareDatetime
    source: Literal["imap", "smtp"] = Field(description="A DSN read over IMAP, or a 5xx at send.")
    status: str = Field("", max_length=20, description="Enhanced status code, e.g. 5.1.1.")
    diagnostic: str = Field("", max_length=1000)
    remote_mta: str = Field("", max_length=255)
    rule: str = Field("", max_length=120, description="The classification rule that fired.")
    mail_key: str | None = None
    mail_kind: MailKind | None = None
    message_id: str | None = None


class BounceClassified(Event):
    """One failed recipient, classified and correlated to the patrons it concerns."""

    SUBJECT: ClassVar[str] = "bounce.classified"
    recipient: str = Field(max_length=320)
    category: BounceCategory
    reason: str = Field("", max_length=500)
    patron_ids: list[Id] = Field(default_factory=list)
    correlation: Literal["verp", "message_id", "address", "none"]
    evidence: BounceEvidence

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.category}"


class PatronFlagged(Event):
    """A patron joined (or re-entered) the staff bounce queue."""

    SUBJECT: ClassVar[str] = "patron.flagged"
    patron_id: Id
    category: BounceCategory
    status: FlagStatus = "open"
    bounce_count: int = Field(ge=1)
    evidence: BounceEvidence


class PatronFlagUpdated(Event):
    """Staff marked a flag contacted or resolved, or an address change resolved it."""

    SUBJECT: ClassVar[str] = "patron.flag_updated"
    patron_id: Id
    status: FlagStatus
    note: str = Field("", max_length=2000)
    by: str = Field("staff", max_length=80, description="staff, or system (email change).")


class DigestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    patron_id: Id
    category: BounceCategory
    status: FlagStatus
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    bounce_count: int = Field(ge=1)


class BounceDigest(Event):
    """The weekly staff digest's content; the mailer renders and sends it."""

    SUBJECT: ClassVar[str] = "bounce.digest"
    occurrence_id: str = Field(description="The weekly-bounce-digest occurrence it answers.")
    week_start: AwareDatetime
    open_by_category: dict[str, int]
    new_this_week: list[DigestEntry] = Field(default_factory=list)
    oldest_open: list[DigestEntry] = Field(default_factory=list)
    contacted_waiting: int = Field(0, ge=0)
