"""Connecting to NATS with sane reconnect behaviour and quiet error callbacks."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client

from shared.runtime.logging import mask_url
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


async def _error_cb(exc: Exception) -> None:
    log.warning(
        "nats.error", extra={"error": type(exc).__name__, "detail": mask_url(str(exc))[:200]}
    )


async def _disconnected_cb() -> None:
    log.warning("nats.disconnected")


async def _reconnected_cb() -> None:
    log.info("nats.reconnected")


def _server_options(settings: CommonSettings) -> dict[str, Any]:
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    return {"servers": servers, "user": settings.nats_user, "password": password}


async def connect(settings: CommonSettings, *, name: str) -> Client:
    """Connect with unbounded reconnects (a service outlives a NATS restart)."""
    return await nats.connect(
        **_server_options(settings),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=_error_cb,
        disconnected_cb=_disconnected_cb,
        reconnected_cb=_reconnected_cb,
    )


async def _quiet(exc: Exception) -> None:
    """Commands report a failed connection once, themselves; no traceback per attempt."""


async def connect_once(settings: CommonSettings, *, name: str, timeout: float = 5.0) -> Client:
    """For commands: one attempt, no reconnects; raises at once when NATS is unreachable."""
    return await nats.connect(
        **_server_options(settings),
        name=name,
        connect_timeout=timeout,
        allow_reconnect=False,
        # The first connect loops over the server pool on its own: bound it to one retry
        # (nats-py reads 0 as "forever" there).
        max_reconnect_attempts=1,
        reconnect_time_wait=0.2,
        error_cb=_quiet,
    )
