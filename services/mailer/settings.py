"""The mailer's settings: ``OTAYORI_*`` environment variables (names are public)."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from services.mailer.compose.address import check_address
from services.mailer.errors import InvalidAddress
from shared.carriers import CARRIER_GROUPS
from shared.settings import CommonSettings

SmtpTls = Literal["none", "starttls", "tls"]

#: Characters no mail header can show: controls (CR, LF, TAB, ESC, ...), line and paragraph
#: separators, and lone surrogates (environment bytes that were not UTF-8).
_NOT_IN_HEADERS = {
    "Cc": "a control character",
    "Cf": "an invisible format character (e.g. a direction override)",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "an undecodable byte (is the environment UTF-8?)",
}


class MailerSettings(CommonSettings):
    """Everything the mailer reads from its environment."""

    smtp_host: str = Field("127.0.0.1", description="SMTP relay host the mailer submits to.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP relay port.")
    smtp_username: str | None = Field(None, description="SMTP AUTH user (no AUTH when unset).")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password (secret).")
    smtp_tls: SmtpTls = Field(
        "none", description="Transport security: none, starttls (port 587) or tls (port 465)."
    )
    smtp_ca_file: Path | None = Field(
        None,
        description=(
            "PEM file of the CA certificates the relay's TLS certificate is checked against,"
            " instead of the system's (a relay with a private CA)."
        ),
    )
    smtp_timeout: float = Field(
        30.0, gt=0, description="Seconds per SMTP command before giving up."
    )
    smtp_pool_size: int = Field(
        8, ge=1, le=64, description="SMTP connections kept open and reused (the pool)."
    )
    smtp_max_messages_per_connection: int = Field(
        500, ge=1, description="Reconnect after this many messages on one connection."
    )
    mail_from_local: str = Field(
        "online-lending",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Local part of the From address; the domain is OTAYORI_MAIL_DOMAIN.",
    )
    mail_from_address: str | None = Field(
        None, description="Full From address, overriding local part + mail domain."
    )
    mail_from_name: str = Field(
        "オンライン貸出サービス担当", description="Display name of the From header (Q16)."
    )
    mail_reply_to: str | None = Field(None, description="Reply-To address (none by default).")
    iso2022jp_domains: str = Field(
        "",
        description="Comma-separated recipient domains that get ISO-2022-JP mail (old phones).",
    )
    send_concurrency: int = Field(
        64, ge=1, le=512, description="Mails composed and sent at the same time (in flight)."
    )
    group_concurrency: str = Field(
        "docomo=4,au=4,softbank=4,gmail=8,yahoo_japan=4,other=32",
        description="Per carrier group: connections in flight at once, e.g. docomo=4,other=32.",
    )
    group_rate: str = Field(
        "docomo=20,au=20,softbank=20,gmail=50,yahoo_japan=20,other=0",
        description="Per carrier group: max mails per second (0 = unpaced).",
    )
    retry_base: float = Field(300.0, gt=0, description="First retry delay after a 4xx (seconds).")
    retry_factor: float = Field(1.3, ge=1.0, description="Each next retry delay is this × longer.")
    retry_max: float = Field(86400.0, gt=0, description="Longest retry delay (seconds).")
    claim_lease: float = Field(
        120.0,
        gt=0,
        description="Seconds a replica's claim on a mail holds before another may take it over.",
    )
    send_ack_wait: float = Field(
        90.0,
        gt=0,
        description="Seconds before an unacknowledged work item is redelivered (a chunk"
        " being worked on says so every third of it, for at most an hour).",
    )
    trigger_ack_wait: float = Field(
        300.0,
        gt=0,
        description="Seconds before an unfinished trigger run (fan-out) is redelivered.",
    )
    dkim_selector: str | None = Field(None, description="DKIM selector (signing when set).")
    dkim_key_file: Path | None = Field(
        None, description="PEM private key for DKIM signing (signing when set)."
    )
    dkim_domain: str | None = Field(
        None, description="DKIM d= domain (defaults to OTAYORI_MAIL_DOMAIN)."
    )
    staff_digest_address: str = Field(
        "online-lending-staff@plib.pref.aomori.lg.jp",
        description="Where the weekly bounce digest for staff is mailed.",
    )

    @field_validator("mail_from_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return check_display_name(value)

    @field_validator("mail_from_address", "mail_reply_to", "staff_digest_address")
    @classmethod
    def _our_address(cls, value: str | None) -> str | None:
        return None if value is None else check_our_address(value)

    @field_validator("group_concurrency", "group_rate")
    @classmethod
    def _group_table(cls, value: str) -> str:
        parse_group_table(value)  # raises ValueError with the offending part
        return value

    @property
    def from_address(self) -> str:
        return self.mail_from_address or f"{self.mail_from_local}@{self.mail_domain}"

    @property
    def iso2022jp_domain_set(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.iso2022jp_domains.split(",") if d.strip())

    @property
    def dkim_enabled(self) -> bool:
        return self.dkim_selector is not None and self.dkim_key_file is not None


def check_our_address(value: str) -> str:
    """``value`` unchanged, or ValueError: one of our addresses goes into headers and the
    envelope of every mail, so a typo (a space, a line break, a display name, a bad
    domain) would fail them all at send time instead of once here. The same check as a
    patron's address, and it must need no correction."""
    try:
        checked = check_address(value)
    except InvalidAddress as exc:
        raise ValueError(f"not a usable address ({exc.code})") from None
    if checked != value:
        raise ValueError("must be written exactly as used, without spaces or a display name")
    return value


def check_display_name(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first character a header cannot hold."""
    if not value.strip():
        raise ValueError("the display name must not be blank (Q16: patrons look for it)")
    for position, char in enumerate(value, start=1):
        what = _NOT_IN_HEADERS.get(unicodedata.category(char))
        if what is not None:
            raise ValueError(
                f"character {position} (U+{ord(char):04X}) is {what}; "
                "the display name must be one line of printable text"
            )
    return value


def parse_group_table(text: str) -> dict[str, float]:
    """``docomo=4,other=32`` → ``{"docomo": 4.0, "other": 32.0}``; ValueError on junk."""
    table: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected group=value, got {part.strip()!r}")
        group = name.strip()
        if group not in CARRIER_GROUPS:
            raise ValueError(f"unknown carrier group {group!r}; known: {', '.join(CARRIER_GROUPS)}")
        number = float(value)
        if number < 0:
            raise ValueError(f"{group}: must not be negative")
        table[group] = number
    return table
