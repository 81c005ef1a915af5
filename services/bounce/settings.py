"""Settings of the bounce service (env prefix ``OTAYORI_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import CommonSettings


class BounceSettings(CommonSettings):
    imap_host: str = Field("127.0.0.1", description="IMAP server holding the bounce mailbox.")
    imap_port: int = Field(143, ge=1, le=65535, description="IMAP server port.")
    imap_username: str = Field("bounces", description="IMAP login of the bounce mailbox.")
    imap_password: SecretStr = Field(
        SecretStr(""), description="IMAP password of the bounce mailbox (secret)."
    )
    imap_mailbox: str = Field("INBOX", description="Folder where bounces arrive.")
    imap_tls: Literal["none", "tls"] = Field(
        "none", description="IMAP transport: `none` (plain, port 143) or `tls` (implicit, 993)."
    )
    imap_ca_file: Path | None = Field(
        None,
        description=(
            "PEM file of the CA certificates the IMAP server's TLS certificate is checked"
            " against, instead of the system's (a server with a private CA)."
        ),
    )
    imap_processed_folder: str = Field(
        "Processed", description="Folder bounces are moved to once handled (created if missing)."
    )
    imap_quarantine_folder: str = Field(
        "Quarantine",
        description=(
            "Folder for messages that cannot be read or keep failing (created if missing)."
        ),
    )
    imap_poison_attempts: int = Field(
        3,
        ge=1,
        description=(
            "Failed attempts in a row (NATS outages not counted) after which a message is"
            " moved to the quarantine folder instead of holding back the inbox."
        ),
    )
    imap_enabled: bool = Field(
        True, description="Read the bounce mailbox (off: only the mailer's 5xx failures count)."
    )
    imap_poll_interval: float = Field(
        60.0, gt=0, description="Seconds between polls when the server does not offer IDLE."
    )
    imap_idle_timeout: float = Field(
        600.0, gt=0, description="Seconds an IDLE lasts before it is renewed (servers cut ~30 min)."
    )
    imap_timeout: float = Field(30.0, gt=0, description="Seconds an IMAP command may take.")
    imap_backoff_initial: float = Field(
        1.0, gt=0, description="First reconnect delay after a lost IMAP connection (seconds)."
    )
    imap_backoff_max: float = Field(
        300.0, gt=0, description="Longest reconnect delay; the delay doubles up to this."
    )
    max_message_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Bytes of a message examined; the rest of a huge message is ignored.",
    )
    soft_repeat_threshold: int = Field(
        3,
        ge=1,
        description="mailbox_full/transient/unknown bounces within the window that flag a patron.",
    )
    soft_repeat_window_days: float = Field(
        7.0, gt=0, description="Window (days) of the soft-bounce count; older bounces decay."
    )
    outcome_lookback_days: float = Field(
        30.0, gt=0, description="How far back `queue show` reads a patron's mail outcomes."
    )
    digest_oldest_count: int = Field(
        10, ge=1, le=200, description="Oldest waiting flags listed in the weekly digest."
    )
    metrics_refresh_interval: float = Field(
        30.0, gt=0, description="Seconds between refreshes of the queue-size gauges."
    )
