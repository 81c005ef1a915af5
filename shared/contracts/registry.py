"""Every subject the cluster uses, the event model on it, and who produces it.

This table is the single source for ``otayori publish`` validation, JSON Schema and the
AsyncAPI document. A subject ending in ``.*`` carries one more token (a trigger name, an
outcome, a category); ``deadletter.>`` carries the service and the original subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.base import Event
from shared.contracts.bounce import (
    BounceClassified,
    BounceDigest,
    PatronFlagged,
    PatronFlagUpdated,
)
from shared.contracts.deadletter import DeadLetter
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
    PatronEmailChanged,
    PatronLoanSuspended,
)
from shared.contracts.mail import MailOutcome
from shared.contracts.schedule import ServiceSuspended, TriggerFired, TriggerMissed


@dataclass(frozen=True, slots=True)
class Channel:
    subject: str
    model: type[Event]
    producer: str
    consumers: tuple[str, ...]
    summary: str
    public: bool = False

    def matches(self, subject: str) -> bool:
        return subject_matches(self.subject, subject)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match: ``*`` one token, ``>`` one or more trailing tokens."""
    p_tokens, s_tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(p_tokens):
        if token == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (token != "*" and token != s_tokens[i]):
            return False
    return len(p_tokens) == len(s_tokens)


CHANNELS: tuple[Channel, ...] = (
    Channel(
        LoanOnlineIssued.SUBJECT,
        LoanOnlineIssued,
        "ils",
        ("mailer",),
        "Thursday processing shipped a patron's items to a cooperating library.",
        True,
    ),
    Channel(
        HoldReady.SUBJECT,
        HoldReady,
        "ils",
        ("mailer",),
        "A hold is ready for pickup at the Prefectural Library.",
        True,
    ),
    Channel(
        HoldCancelled.SUBJECT,
        HoldCancelled,
        "ils",
        ("mailer",),
        "A hold was cancelled (pickup deadline passed).",
        True,
    ),
    Channel(
        LoanOverdue.SUBJECT,
        LoanOverdue,
        "ils",
        ("mailer",),
        "A loan is overdue; reminder level 1-3.",
        True,
    ),
    Channel(
        LoanReturned.SUBJECT,
        LoanReturned,
        "ils",
        ("mailer",),
        "A loan was returned; pending reminders for it are dropped.",
        True,
    ),
    Channel(
        PatronLoanSuspended.SUBJECT,
        PatronLoanSuspended,
        "ils",
        ("mailer",),
        "Lending is suspended for a patron (e.g. expired card).",
        True,
    ),
    Channel(
        PatronEmailChanged.SUBJECT,
        PatronEmailChanged,
        "ils",
        ("mailer", "bounce"),
        "A patron registered a new address.",
        True,
    ),
    Channel(
        "schedule.fired.*",
        TriggerFired,
        "scheduler",
        ("mailer", "bounce", "ils"),
        "One occurrence of a library trigger; the last token is the trigger name.",
    ),
    Channel(
        "schedule.missed.*",
        TriggerMissed,
        "scheduler",
        ("ops",),
        "An occurrence found outside its grace window: reported, not fired.",
    ),
    Channel(
        ServiceSuspended.SUBJECT,
        ServiceSuspended,
        "scheduler",
        ("ils", "ops"),
        "A weekly occurrence suppressed by a closure.",
    ),
    Channel(
        "mail.outcome.*",
        MailOutcome,
        "mailer",
        ("bounce", "ops"),
        "Exactly one record per send attempt; last token is the outcome.",
    ),
    Channel(
        "bounce.classified.*",
        BounceClassified,
        "bounce",
        ("ops",),
        "A failed recipient with its category; last token is the category.",
    ),
    Channel(
        BounceDigest.SUBJECT,
        BounceDigest,
        "bounce",
        ("mailer",),
        "The weekly staff digest of the bounce queue, for the mailer to send.",
    ),
    Channel(
        PatronFlagged.SUBJECT,
        PatronFlagged,
        "bounce",
        ("ils", "staff"),
        "A patron entered the staff bounce queue.",
    ),
    Channel(
        PatronFlagUpdated.SUBJECT,
        PatronFlagUpdated,
        "bounce",
        ("ils", "staff"),
        "A queue entry was marked contacted or resolved.",
    ),
    Channel(
        "deadletter.>",
        DeadLetter,
        "any",
        ("ops",),
        "A message that could not be handled, with the original payload and reason.",
    ),
)


def channel_for(subject: str) -> Channel:
    """The channel a concrete subject belongs to; ``LookupError`` if none."""
    for channel in CHANNELS:
        if channel.matches(subject):
            return channel
    known = ", ".join(c.subject for c in CHANNELS)
    raise LookupError(f"unknown subject {subject!r}; known: {known}")


def decode(subject: str, data: bytes | str) -> Event:
    """Validate a payload against its subject's model (raises ``pydantic.ValidationError``)."""
    return channel_for(subject).model.model_validate_json(data)
