"""The bounce mailbox reader: IDLE (or poll), fetch by UID, hand over, then MOVE.

For each message: ``UID FETCH`` (peek) -> the sink (classify, correlate, publish, record
the bounce as seen) -> ``UID MOVE`` to the Processed or Quarantine folder. Nothing is
deleted. If the connection drops anywhere, the message stays in the inbox and is fetched
again after the reconnect; the sink recognises it and it is only moved.

The reconnect delay doubles after every session that made no progress (no message moved,
the inbox never seen empty) — a message the sink keeps failing on, a server refusing the
login — and starts again from ``backoff_initial`` after a session that did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import aioimaplib

from services.bounce.errors import ImapError, SinkFailed
from services.bounce.mailbox import protocol as p
from services.bounce.metrics import BounceMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")
Disposition = Literal["processed", "quarantine"]
Sink = Callable[[bytes], Awaitable[Disposition]]
LOST = (OSError, asyncio.TimeoutError, ImapError, SinkFailed, aioimaplib.AioImapException)


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    host: str
    port: int
    username: str
    password: str
    mailbox: str = "INBOX"
    tls: bool = False
    processed: str = "Processed"
    quarantine: str = "Quarantine"
    poll_interval: float = 60.0
    idle_timeout: float = 600.0
    timeout: float = 30.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    ca_file: str | None = None  # CA bundle for the server's certificate (default: system)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client context of implicit TLS (certificate and host name verified)."""
        return ssl.create_default_context(cafile=self.ca_file) if self.tls else None


class MailboxReader:
    def __init__(
        self, config: ReaderConfig, sink: Sink, metrics: BounceMetrics, stop: asyncio.Event
    ) -> None:
        self._cfg = config
        self._sink = sink
        self._metrics = metrics
        self._stop = stop
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self.connected = False
        self.sessions = 0
        self.progress = 0  # messages moved + inbox drains completed, over all sessions

    async def run(self) -> None:
        """Read until ``stop``; reconnect with exponential backoff after any failure."""
        delay = self._cfg.backoff_initial
        while not self._stop.is_set():
            started = self.progress
            try:
                await self._session()
            except LOST as exc:
                self._metrics.imap_reconnects.labels(error=type(exc).__name__).inc()
                if self.progress > started:
                    delay = self._cfg.backoff_initial
                context = {"error": type(exc).__name__, "detail": str(exc)[:200], "retry_in": delay}
                log.warning("bounce.imap_lost", extra=context)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, self._cfg.backoff_max)

    def disconnect_now(self) -> None:
        """Drop the current connection (tests, ops); the reader reconnects by itself."""
        if self._client is not None and self._client.protocol.transport is not None:
            self._client.protocol.transport.close()

    async def _guard(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Await an IMAP call, failing fast when the connection drops or it times out."""
        task = asyncio.ensure_future(coro)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=self._cfg.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            lost.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise ImapError(what, "LOST" if self._lost.is_set() else "TIMEOUT")

    async def _session(self) -> None:
        self._lost = asyncio.Event()
        lost = self._lost
        # IMAP4 with an SSL context, not IMAP4_SSL: only IMAP4 passes ``conn_lost_cb`` on,
        # and without it a connection dropped during IDLE goes unnoticed until IDLE ends.
        client = aioimaplib.IMAP4(
            self._cfg.host,
            self._cfg.port,
            timeout=self._cfg.timeout,
            conn_lost_cb=lambda exc: lost.set(),
            ssl_context=self._cfg.ssl_context(),
        )
        self._client = client
        try:
            await self._guard(client.wait_hello_from_server(), "CONNECT")
            r = await self._guard(client.login(self._cfg.username, self._cfg.password), "LOGIN")
            p.ok("LOGIN", r.result, r.lines)
            for folder in (self._cfg.processed, self._cfg.quarantine):
                await self._ensure_folder(client, folder)
            r = await self._guard(client.select(self._cfg.mailbox), "SELECT")
            p.ok("SELECT", r.result, r.lines)
            self.connected = True
            self.sessions += 1
            self._metrics.imap_connected.set(1)
            log.info("bounce.imap_ready", extra={"idle": "IDLE" in client.protocol.capabilities})
            while not self._stop.is_set():
                await self._drain(client)
                await self._wait(client)
        finally:
            self.connected = False
            self._metrics.imap_connected.set(0)
            self._client = None
            await self._close(client)

    async def _close(self, client: aioimaplib.IMAP4) -> None:
        if not self._lost.is_set():
            with contextlib.suppress(*LOST):
                await asyncio.wait_for(client.logout(), 2.0)
        transport = client.protocol.transport
        if transport is not None:
            transport.close()

    async def _ensure_folder(self, client: aioimaplib.IMAP4, folder: str) -> None:
        r = await self._guard(client.create(folder), "CREATE")
        if r.result == "OK":
            log.info("bounce.imap_folder_created", extra={"folder": folder})
            return
        text = b" ".join(x for x in r.lines if isinstance(x, bytes))
        if b"ALREADYEXISTS" not in text.upper() and b"EXISTS" not in text.upper():
            p.ok("CREATE", r.result, r.lines)

    async def _drain(self, client: aioimaplib.IMAP4) -> None:
        r = await self._guard(client.uid_search("ALL"), "UID SEARCH")
        p.ok("UID SEARCH", r.result, r.lines)
        pending = p.uids(r.lines)
        self._metrics.imap_last_poll.set(time.time())
        if not pending:
            self._metrics.imap_oldest_age.set(0)
        for uid in pending:
            if self._stop.is_set():
                return
            await self._one(client, uid)
        self.progress += 1

    async def _one(self, client: aioimaplib.IMAP4, uid: int) -> None:
        r = await self._guard(client.uid("fetch", str(uid), "(BODY.PEEK[] INTERNALDATE)"),
                              "UID FETCH")  # fmt: skip
        p.ok("UID FETCH", r.result, r.lines)
        body, when = p.fetched(r.lines)
        if when is not None:
            age = (datetime.now(UTC) - when).total_seconds()
            self._metrics.imap_oldest_age.set(max(age, 0.0))
        if body is None:
            return  # expunged meanwhile by another client
        try:
            disposition = await self._sink(body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the message stays in the inbox and is retried
            log.exception("bounce.sink_failed", extra={"uid": uid})
            raise SinkFailed(uid, exc) from exc
        folder = self._cfg.processed if disposition == "processed" else self._cfg.quarantine
        r = await self._guard(client.uid("move", str(uid), folder), "UID MOVE")
        p.ok("UID MOVE", r.result, r.lines)
        self.progress += 1
        log.info("bounce.imap_moved", extra={"uid": uid, "folder": folder})

    async def _wait(self, client: aioimaplib.IMAP4) -> None:
        """Until new mail (IDLE push), the poll interval, or stop."""
        stop = asyncio.ensure_future(self._stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            if "IDLE" not in client.protocol.capabilities:
                await asyncio.wait({stop, lost}, timeout=self._cfg.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                return
            idle = await self._guard(client.idle_start(timeout=self._cfg.idle_timeout), "IDLE")
            push = asyncio.ensure_future(client.wait_server_push(self._cfg.idle_timeout + 5))
            await asyncio.wait({push, stop, lost}, return_when=asyncio.FIRST_COMPLETED)
            push.cancel()
            if self._lost.is_set():
                raise ImapError("IDLE", "LOST")
            client.idle_done()
            await self._guard(asyncio.wait_for(idle, self._cfg.timeout), "IDLE DONE")
        finally:
            stop.cancel()
            lost.cancel()
