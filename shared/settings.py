"""Settings shared by every service. Each service subclasses ``CommonSettings``.

Settings come from ``OTAYORI_*`` environment variables; secrets may also come from files in
a secrets directory (``OTAYORI_SECRETS_DIR``, a k8s secret volume), one file per setting
named like the variable without the prefix, lower-case (e.g. ``smtp_password``; the
prefixed ``otayori_smtp_password`` is read too). An environment variable wins over a file.
Build settings in ``main()`` with ``load_settings`` and pass them down; never at import time.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

#: A DNS host name: dot-separated labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+")

DEFAULT_SECRETS_DIR = "/run/secrets/otayori"
DEV_VERP_SECRET = "otayori-dev-verp-secret-change-me"


class SettingsRefused(ValueError):
    """Settings that validate but must not run here (the development VERP secret in a
    deployment). ``setting`` names the environment variable to fix."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OTAYORI_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated."
    )
    nats_user: str | None = Field(None, description="NATS user (optional).")
    nats_password: SecretStr | None = Field(None, description="NATS password (optional, secret).")
    nats_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description="Replicas of every JetStream stream and KV bucket, applied by provisioning "
        "(create and update); 3 on a 3-node JetStream cluster.",
    )
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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):  # the former is a KeyError
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name like Asia/Tokyo"
            ) from None
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first; then secret files named without the prefix (as documented
        and as the k8s Secret's keys), then with it."""
        secrets_dir = getattr(file_secret_settings, "secrets_dir", None)
        unprefixed = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir, env_prefix="")
        return init_settings, env_settings, dotenv_settings, unprefixed, file_secret_settings


S = TypeVar("S", bound=CommonSettings)


def secrets_dir() -> Path | None:
    """The secrets directory when it exists (``OTAYORI_SECRETS_DIR``, default
    ``/run/secrets/otayori``); None on a machine without one."""
    path = Path(os.environ.get("OTAYORI_SECRETS_DIR", DEFAULT_SECRETS_DIR))
    return path if path.is_dir() else None


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment and, when it exists, the secrets directory.

    With a secrets directory (a deployment) the development VERP secret is refused unless
    a demo/test clock runs (``OTAYORI_CLOCK_START``): mail sent with the public key could
    have its bounces forged. Without one (``make run``, tests) it is allowed; the runtime
    logs ``settings.dev_verp_secret``.
    """
    directory = secrets_dir()
    if directory is None:
        return cls()
    settings = cls(_secrets_dir=directory)
    if settings.uses_dev_secret() and settings.clock_start is None:
        raise SettingsRefused(
            "OTAYORI_VERP_SECRET",
            f"the development VERP secret is in use with the secrets directory {directory}; "
            f"put the real key in {directory / 'verp_secret'} (or set OTAYORI_VERP_SECRET)",
        )
    return settings
