"""Shared pieces of the bounce service's integration tests: IMAP client, service in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aioimaplib
from nats.js import JetStreamContext

from services.bounce.service import wire
from services.bounce.settings import BounceSettings
from shared.bus.publish import publish
from shared.contracts.base import Event
from shared.runtime.service import run
from tools.localservers import Dovecot, NatsServer

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus" / "sisimai" / "eml"
SECRET = "integration-verp-secret"


class Imap:
    """A second IMAP client, playing the MTA (APPEND) and the observer (folder counts)."""

    def __init__(self, server: Dovecot) -> None:
        self._server = server
        self._client: aioimaplib.IMAP4 | None = None

    async def __aenter__(self) -> Imap:
        self._client = aioimaplib.IMAP4(self._server.host, self._server.port, timeout=10)
        await self._client.wait_hello_from_server()
        await self._client.login(self._server.user, self._server.password)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        with contextlib.suppress(Exception):
            await self._client.logout()

    async def append(self, raw: bytes, folder: str = "INBOX") -> None:
        assert self._client is not None
        response = await self._client.append(raw, mailbox=folder)
        assert response.result == "OK", response

    async def exists(self, folder: str) -> bool:
        assert self._client is not None
        response = await self._client.status(folder, "(MESSAGES)")
        return bool(response.result == "OK")

    async def count(self, folder: str) -> int:
        """Messages in ``folder`` (0 when it does not exist yet)."""
        assert self._client is not None
        response = await self._client.status(folder, "(MESSAGES)")
        if response.result != "OK":
            return 0
        text = b" ".join(x for x in response.lines if isinstance(x, bytes)).decode()
        return int(text.split("MESSAGES", 1)[1].split(")")[0].strip())


def settings_for(nats: NatsServer, dovecot: Dovecot, **extra: object) -> BounceSettings:
    values: dict[str, object] = {
        "nats_url": nats.url,
        "http_port": 0,
        "http_host": "127.0.0.1",
        "verp_secret": SECRET,
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_username": dovecot.user,
        "imap_password": dovecot.password,
        "imap_backoff_initial": 0.1,
        "imap_backoff_max": 1.0,
        "shutdown_grace": 5.0,
    }
    return BounceSettings.model_validate(values | extra)


@contextlib.asynccontextmanager
async def running_service(settings: BounceSettings) -> AsyncIterator[None]:
    """The real wiring, run in-process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run("bounce", settings, wire, stop))
    try:
        yield
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def emit(js: JetStreamContext, event: Event) -> None:
    await publish(js, event)
