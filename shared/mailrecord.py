"""The mail ledger's record, shared by the mailer (writes) and the bounce service (reads).

A mail is named by its business key (kind + patron + batch/run + items). From the key
comes a short ``mail_id`` (lower-case hex), which is also the KV key in ``mail_ledger``,
the id inside the VERP token, and the local part of the Message-ID. So a bounce that
returns either the envelope sender or only the original headers leads back to the record.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.mail import MailKind, SmtpCommand

LedgerState = Literal["pending", "sending", "sent", "failed", "suppressed", "expired"]
_MSGID = re.compile(r"<?otayori\.([0-9a-f]{32})@[^>\s]+>?", re.IGNORECASE)


def mail_id_for(business_key: str) -> str:
    """32 hex characters naming the mail; stable for a business key."""
    return hashlib.sha256(business_key.encode("utf-8")).hexdigest()[:32]


def message_id_for(mail_id: str, domain: str) -> str:
    return f"<otayori.{mail_id}@{domain}>"


def mail_id_from_message_id(message_id: str) -> str | None:
    """The mail id inside one of our Message-IDs (``None`` for anybody else's)."""
    match = _MSGID.search(message_id)
    return match.group(1).lower() if match else None


def address_key(address: str) -> str:
    """KV-safe key for an address (KV keys cannot hold ``@`` or ``+``)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:40]


class MailRecord(BaseModel):
    """Value of ``mail_ledger[mail_id]``."""

    model_config = ConfigDict(extra="forbid")

    mail_id: str
    business_key: str
    kind: MailKind
    patron_id: str | None
    recipient: str
    message_id: str
    state: LedgerState
    attempts: int = 0
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(None, description="After this, an `expired` outcome.")
    smtp_code: int | None = None
    smtp_text: str | None = None
    smtp_command: SmtpCommand | None = Field(
        None, description="The SMTP phase whose answer ``smtp_code`` is (absent in old records)."
    )
    source_event_ids: list[str] = Field(default_factory=list)


class Suppression(BaseModel):
    """Value of ``suppressions[address_key(address)]``: do not mail this address."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    category: str
    since: datetime
    patron_ids: list[str] = Field(default_factory=list)
