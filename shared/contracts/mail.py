"""The mailer's record of every send attempt: the answer to "my mail never came" (Q14)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Event, Id

MailKind = Literal[
    "online_loan",
    "hold_ready",
    "hold_cancelled",
    "overdue",
    "loan_suspended",
    "bounce_digest",
]
OutcomeName = Literal["sent", "deferred", "failed", "suppressed", "expired"]
CarrierGroup = Literal["docomo", "au", "softbank", "gmail", "yahoo_japan", "other"]
SmtpCommand = Literal["connect", "ehlo", "mail", "rcpt", "data"]
#: Answers given before any recipient was named (the greeting, STARTTLS, AUTH, EHLO, and
#: MAIL FROM with our own VERP sender): the relay refused *us*, never the patron.
SESSION_COMMANDS: frozenset[SmtpCommand] = frozenset({"connect", "ehlo", "mail"})


class MailOutcome(Event):
    """Exactly one per send attempt; ``mail_key`` is the mail's business key."""

    SUBJECT: ClassVar[str] = "mail.outcome"
    mail_key: str = Field(min_length=3, max_length=300)
    kind: MailKind
    outcome: OutcomeName
    patron_id: Id | None = Field(None, description="None only for staff mail (digest).")
    cause: str | None = Field(
        None, max_length=80, description="Machine cause: invalid_address, smtp_permanent, ..."
    )
    detail: str | None = Field(None, max_length=1000, description="Staff-readable explanation.")
    recipient: str = Field(max_length=320, description="Envelope recipient (personal data).")
    recipient_domain: str = Field(max_length=255)
    carrier_group: CarrierGroup
    message_id: str | None = Field(None, max_length=300)
    verp_token: str | None = Field(None, max_length=200)
    smtp_code: int | None = None
    smtp_text: str | None = Field(None, max_length=1000)
    smtp_command: SmtpCommand | None = Field(
        None, description="The SMTP phase whose answer this is."
    )
    attempt: int = Field(1, ge=1)
    next_attempt_at: AwareDatetime | None = None
    source_event_ids: list[str] = Field(default_factory=list)
    batch_id: str | None = None

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.outcome}"
