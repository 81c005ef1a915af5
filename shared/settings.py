"""Settings shared by every service. Each service subclasses ``CommonSettings``.

Settings come from ``OTAYORI_*`` environment variables; secrets may also come from files in
a secrets directory (a k8s secret volume), one file per setting named like the variable
without the prefix, lower-case (e.g. ``smtp_password``). Build settings in ``main()`` with
``load_settings`` and pass them down; never at import time.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: A DNS host name: dot-separated labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+")

DEFAULT_SECRETS_DIR = "/run/secrets/otayori"
DEV_VERP_SECRET = "otayori-dev-verp-secret-change-me"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OTAYORI_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated."
    )
    nats_user: str | None = Field(None, description="NATS user (optional).")
    nats_password: SecretStr | None = Field(None, description="NATS password (optional, secret).")
    http_port: int = Field(8080, ge=0, le=65535, description="Port of /healthz, /readyz, /metrics.")
    http_host: str = Field("0.0.0.0", description="Address the health/metrics server binds.")
    timezone: str = Field("Asia/Tokyo", description="The library's time zone.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    mail_domain: str = Field(
        "plib.pref.aomori.lg.jp", description="The library's mail domain (From, Message-ID, VERP)."
    )
    verp_secret: SecretStr = Field(
        SecretStr(DEV_VERP_SECRET),
        description="HMAC key of VERP tokens; mailer and bounce must share it (secret).",
    )
    clock_start: datetime | None = Field(
        None, description="Demo/test only: start the service clock at this aware time."
    )
    clock_speed: float = Field(1.0, gt=0, description="Demo/test only: clock speed multiple.")
    clock_anchor: datetime | None = Field(
        None, description="Demo/test only: the real instant at which the clock reads clock_start."
    )
    shutdown_grace: float = Field(
        25.0, gt=0, description="Seconds SIGTERM waits for in-flight work before closing."
    )

    @field_validator("mail_domain")
    @classmethod
    def _mail_domain(cls, value: str) -> str:
        if len(value) > 253 or not _HOSTNAME.fullmatch(value):
            raise ValueError(
                "must be a domain name like plib.pref.aomori.lg.jp (ASCII labels, no spaces)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @field_validator("clock_start", "clock_anchor")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("clock_start needs a UTC offset, e.g. 2026-12-05T08:55:00+09:00")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def verp_key(self) -> bytes:
        return self.verp_secret.get_secret_value().encode()

    def uses_dev_secret(self) -> bool:
        return self.verp_secret.get_secret_value() == DEV_VERP_SECRET


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment and, when it exists, the secrets directory."""
    secrets_dir = Path(os.environ.get("OTAYORI_SECRETS_DIR", DEFAULT_SECRETS_DIR))
    if secrets_dir.is_dir():
        return cls(_secrets_dir=secrets_dir)
    return cls()
