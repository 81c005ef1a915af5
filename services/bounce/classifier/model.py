"""Result types of the bounce classifier (pure data, no behaviour beyond validation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Category(StrEnum):
    """Why a recipient's mail came back (DOMAIN.md Q15 plus operational buckets)."""

    BAD_ADDRESS = "bad_address"
    DOMAIN_REJECTION = "domain_rejection"
    MAILBOX_FULL = "mailbox_full"
    FORWARDING_FAILURE = "forwarding_failure"
    TRANSIENT = "transient"
    SENDER_SIDE = "sender_side"
    NOT_A_BOUNCE = "not_a_bounce"
    UNKNOWN = "unknown"


class SentMailLookup(Protocol):
    """Maps an original Message-ID or VERP token to the address the library mailed."""

    def __call__(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a verdict came from; every field is optional and may be empty."""

    rule: str = ""
    diagnostic: str = ""
    remote_mta: str = ""
    smtp_command: str = ""
    action: str = ""
    original_recipient: str = ""
    sent_to: str = ""
    underlying_category: str = ""
    forwarding: str = ""  # "", "loop", "trail" or "sent-mismatch": forwarding is involved
    original_message_id: str = ""
    verp_token: str = ""

    def as_dict(self) -> Mapping[str, str]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The verdict for one failed recipient."""

    recipient: str
    category: Category
    status: str = ""
    reason: str = ""
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict for one message.

    ``readable=False`` means the bytes could not be parsed as mail at all: quarantine it.
    """

    is_bounce: bool
    recipients: tuple[RecipientResult, ...] = ()
    is_complaint: bool = False
    is_auto_reply: bool = False
    readable: bool = True
    original_message_id: str = ""
    verp_token: str = ""
    detector: str = ""
