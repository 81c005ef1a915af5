"""The bounce mailbox over implicit TLS: verified, and a connection dropped in IDLE is noticed.

Dovecot runs plain (tools.localservers); a small TLS front end with the session's test CA
(tests.support.tls) stands where an IMAPS port would. Dropping the front end's connections
during IDLE must make the reader reconnect at once, not after ``imap_idle_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from services.bounce.mailbox.reader import Disposition, MailboxReader, ReaderConfig
from services.bounce.metrics import BounceMetrics
from tests.integration.bounce_service.helpers import Imap
from tests.support.nats import wait_for
from tests.support.tls import Pki
from tests.support.tls import pki as pki  # the session-scoped test CA (a fixture)
from tests.unit.bounce_service.dsn import build_dsn
from tools.localservers import Dovecot


@dataclass
class TlsFront:
    """Implicit TLS in front of a plain IMAP server; notes when a client enters IDLE."""

    port: int = 0
    clients: list[asyncio.StreamWriter] = field(default_factory=list)
    idling: asyncio.Event = field(default_factory=asyncio.Event)

    def drop(self) -> None:
        """Cut every client connection, as a network failure would (no TLS close_notify)."""
        for writer in self.clients:
            writer.transport.abort()
        self.clients.clear()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, front: TlsFront | None
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            if front is not None and data.rstrip().upper().endswith(b" IDLE"):
                front.idling.set()
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def tls_front(pki: Pki, dovecot: Dovecot) -> AsyncIterator[TlsFront]:
    front = TlsFront()
    tasks: set[asyncio.Task[None]] = set()

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(dovecot.host, dovecot.port)
        front.clients.append(client_w)
        both = (_pipe(client_r, server_w, front), _pipe(server_r, client_w, None))
        await asyncio.gather(*both)

    def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(serve(r, w))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=pki.server_context())
    front.port = server.sockets[0].getsockname()[1]
    try:
        yield front
    finally:
        front.drop()
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def config(dovecot: Dovecot, port: int, ca_file: str | None) -> ReaderConfig:
    return ReaderConfig(
        host="127.0.0.1", port=port, username=dovecot.user, password=dovecot.password,
        tls=True, ca_file=ca_file, idle_timeout=600, timeout=10,
        backoff_initial=0.05, backoff_max=0.2,
    )  # fmt: skip


async def processed(_: bytes) -> Disposition:
    return "processed"


async def test_a_connection_dropped_during_idle_over_tls_is_noticed_at_once(
    dovecot: Dovecot, pki: Pki
) -> None:
    stop = asyncio.Event()
    async with tls_front(pki, dovecot) as front, Imap(dovecot) as imap:
        cfg = config(dovecot, front.port, str(pki.ca_pem))
        reader = MailboxReader(cfg, processed, BounceMetrics(CollectorRegistry()), stop)
        task = asyncio.create_task(reader.run())
        try:
            await imap.append(build_dsn(recipient="a@example.jp", bounce_message_id="<1@mx>"))
            await wait_for(lambda: imap.count("Processed"), timeout=30)
            await asyncio.wait_for(front.idling.wait(), 30)
            front.idling.clear()
            front.drop()
            await wait_for(lambda: reader.sessions >= 2, timeout=30)  # idle_timeout is 600
            await asyncio.wait_for(front.idling.wait(), 30)
            await imap.append(build_dsn(recipient="b@example.jp", bounce_message_id="<2@mx>"))

            async def second_moved() -> bool:
                return await imap.count("Processed") == 2

            await wait_for(second_moved, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_a_server_whose_certificate_does_not_verify_is_never_logged_in_to(
    dovecot: Dovecot, pki: Pki
) -> None:
    stop = asyncio.Event()
    metrics = BounceMetrics(CollectorRegistry())
    async with tls_front(pki, dovecot) as front:
        reader = MailboxReader(config(dovecot, front.port, None), processed, metrics, stop)
        task = asyncio.create_task(reader.run())
        try:

            def refused() -> bool:
                sample = metrics.imap_reconnects.labels(error="SSLCertVerificationError")
                return bool(sample._value.get() >= 2)

            await wait_for(refused, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    assert reader.sessions == 0
