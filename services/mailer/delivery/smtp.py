"""A small pool of reused SMTP connections (aiosmtplib), STARTTLS/TLS and AUTH per settings.

``send`` never raises for an SMTP answer or a network failure: it returns a ``Reply`` that
names the command it answers (``connect``, ``ehlo``, ``mail``, ``rcpt``, ``data``). A
connection is returned to the pool only after a successful transaction; after anything
else it is closed (a 421 means the server is closing it anyway, and a half-finished
transaction is not worth resynchronising).

aiosmtplib opens each session (greeting, EHLO or HELO, STARTTLS or TLS, AUTH); the mail
transactions on it are carried by ``pipelining.Wire``: MAIL, RCPT and DATA in one write when
the relay advertises PIPELINING, one at a time otherwise. The failing phase is known from
the position of the reply, and the addresses (already checked by
``compose.check_address``, or built by us for the envelope sender) are not parsed again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from typing import cast

import aiosmtplib
from aiosmtplib import SMTPException, SMTPHeloError, SMTPResponseException

from services.mailer.delivery.pipelining import DROPPED, Wire, transact
from shared.contracts.mail import SmtpCommand

log = logging.getLogger(__name__)

__all__ = ["DROPPED", "Reply", "SmtpConfig", "SmtpPool", "path"]
#: Seconds ``close`` waits for the relay's answers to QUIT (shutdown must not stall).
QUIT_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class Reply:
    code: int  # DROPPED when there was no answer
    text: str
    command: SmtpCommand | None = None  # the phase whose answer (or silence) this is
    #: The relay's TLS certificate did not verify (expired, wrong name, unknown CA).
    tls_unverified: bool = False
    #: The relay lacks what the settings require of it (STARTTLS, AUTH): no mail went out.
    relay_unfit: bool = False

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    tls: str = "none"  # none | starttls | tls
    ca_file: str | None = None  # CA bundle for the relay's certificate (default: the system's)
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    helo_name: str | None = None
    pool_size: int = 4
    max_messages: int = 500
    #: Seconds an idle connection is kept. Relays close idle sessions (Postfix after
    #: 300 s, many sooner); a connection older than this is not worth trying.
    max_idle: float = 30.0


@dataclass(slots=True)
class _Conn:
    client: aiosmtplib.SMTP  # the session's opener (closing it closes the transport)
    wire: Wire  # what carries the mail transactions once the session is open
    pipelining: bool
    size: bool
    sent: int = 0
    idle_since: float = 0.0


@dataclass(slots=True)
class _Progress:
    """How far one transaction got (for an answer when the overall bound cuts it)."""

    phase: SmtpCommand = "connect"
    client: aiosmtplib.SMTP | None = None
    wire: Wire | None = None
    written: bool = False  # the message text has gone out

    def reached(self, phase: SmtpCommand, written: bool) -> None:
        self.phase, self.written = phase, written

    def cut(self, within: float | None) -> Reply:
        """The answer when the overall bound cut the exchange (the connection is closed).

        The relay's answer to the message may have arrived just before the cut: then it
        stands (an accepted mail must be recorded as sent, not sent again)."""
        late = self.wire.waiting() if self.written and self.wire is not None else None
        if self.client is not None:
            self.client.close()
        if late is not None:
            return Reply(late.code, late.text, "data")
        return Reply(DROPPED, f"transaction exceeded {within:g} s", self.phase)


def path(address: str) -> bytes:
    """``<address>`` as an SMTP path (ASCII, no control characters: checked upstream)."""
    return b"<" + address.encode("ascii") + b">"


class SmtpPool:
    """At most ``pool_size`` connections; idle ones are reused."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._slots = asyncio.Semaphore(config.pool_size)
        self._idle: list[_Conn] = []

    async def _open(self, progress: _Progress) -> _Conn | Reply:
        """A new connection, greeted and EHLO'd; or the reply that refused it."""
        cfg = self._config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            timeout=cfg.timeout,
            use_tls=cfg.tls == "tls",
            start_tls=cfg.tls == "starttls",
            cert_bundle=cfg.ca_file,
            local_hostname=cfg.helo_name,
        )
        progress.client = client
        phase: SmtpCommand = "connect"
        progress.phase = phase
        try:
            await client.connect()  # greeting (+ EHLO, STARTTLS, AUTH when configured)
            phase = progress.phase = "ehlo"
            if client.is_ehlo_or_helo_needed:
                await _ehlo_or_helo(client)
        except SMTPHeloError as exc:
            client.close()
            return Reply(exc.code, exc.message, "ehlo")
        except SMTPResponseException as exc:  # greeting, STARTTLS or AUTH refused
            client.close()
            return Reply(exc.code, exc.message, phase)
        except (TimeoutError, SMTPException, OSError) as exc:
            client.close()
            return Reply(
                DROPPED,
                _describe(exc),
                phase,
                tls_unverified=_unverified(exc),
                relay_unfit=_unfit(exc),
            )
        transport = client.transport
        if transport is None or transport.is_closing():
            client.close()
            return Reply(DROPPED, "connection closed after EHLO", phase)
        return _Conn(
            client,
            Wire.take_over(cast(asyncio.Transport, transport)),  # uvloop's is not a subclass
            pipelining=client.supports_extension("pipelining"),
            size=client.supports_extension("size"),
        )

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """One SMTP transaction; the returned reply is the server's final answer."""
        async with self.slot():
            return await self.transmit(sender, recipient, data)

    def slot(self) -> asyncio.Semaphore:
        """``async with`` it to hold one of the ``pool_size`` connection slots (``transmit``
        needs one)."""
        return self._slots

    async def transmit(
        self, sender: str, recipient: str, data: bytes, *, within: float | None = None
    ) -> Reply:
        """``send`` inside a slot the caller holds; the whole exchange (connect, EHLO,
        STARTTLS, AUTH, MAIL, RCPT, DATA and a stale-session retry) ends within ``within``
        seconds: cut there, it is a dropped connection in the phase it had reached."""
        progress = _Progress()
        try:
            async with asyncio.timeout(within):
                return await self._exchange(progress, sender, recipient, data)
        except TimeoutError:
            return progress.cut(within)

    async def _exchange(
        self, progress: _Progress, sender: str, recipient: str, data: bytes
    ) -> Reply:
        conn = self._take_idle()
        reused = conn is not None
        if conn is None:
            opened = await self._open(progress)
            if isinstance(opened, Reply):
                return opened
            conn = opened
        progress.client = conn.client
        reply = await self._transaction(conn, sender, recipient, data, progress)
        if reused and _went_stale(reply):
            # The relay closed the idle session before our MAIL: nothing of this
            # mail was accepted, so it goes again at once on a fresh connection.
            self._discard(conn)
            opened = await self._open(progress)
            if isinstance(opened, Reply):
                return opened
            conn = opened
            reply = await self._transaction(conn, sender, recipient, data, progress)
        if not reply.accepted:
            self._discard(conn)
            return reply
        # Accepted. Nothing here awaits: the caller records the send next.
        conn.sent += 1
        if conn.sent < self._config.max_messages and conn.wire.quiet:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            self._discard(conn)
        return reply

    def _take_idle(self) -> _Conn | None:
        """The most recently used idle connection still worth trying (others are closed)."""
        oldest = time.monotonic() - self._config.max_idle
        while self._idle:
            conn = self._idle.pop()
            if conn.wire.quiet and conn.idle_since >= oldest:
                return conn
            self._discard(conn)
        return None

    async def _transaction(
        self, conn: _Conn, sender: str, recipient: str, data: bytes, progress: _Progress
    ) -> Reply:
        progress.wire = conn.wire
        outcome = await transact(
            conn.wire,
            path(sender),
            path(recipient),
            data,
            pipelining=conn.pipelining,
            size=conn.size,
            timeout=self._config.timeout,
            reached=progress.reached,
        )
        return Reply(outcome.answer.code, outcome.answer.text, outcome.command)

    @staticmethod
    def _discard(conn: _Conn) -> None:
        # Synchronous, not waiting for the server: a failed or used-up connection is
        # simply dropped (the server sees EOF, as after a crash).
        conn.wire.close()
        conn.client.close()

    async def close(self) -> None:
        """QUIT every idle connection, all at once, waiting at most ``QUIT_WAIT`` seconds."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(conn) for conn in idle))

    async def _quit(self, conn: _Conn) -> None:
        if conn.wire.write(b"QUIT\r\n"):
            await conn.wire.answers(1, min(self._config.timeout, QUIT_WAIT))
        self._discard(conn)


async def _ehlo_or_helo(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()  # a server without ESMTP (raises SMTPHeloError in turn)


def _went_stale(reply: Reply) -> bool:
    """A reused session that died before MAIL was answered (EOF, or 421 "closing")."""
    return reply.command == "mail" and reply.code in (DROPPED, 421)


def _unfit(exc: BaseException) -> bool:
    """Whether aiosmtplib refused to go on with this relay (no STARTTLS, no AUTH offered).

    Not a network failure: such a relay answers every time, and no answer it gives will
    change until ops change the relay or the settings."""
    return isinstance(exc, SMTPException) and not isinstance(exc, ConnectionError | TimeoutError)


def _unverified(exc: BaseException) -> bool:
    """Whether ``exc`` or what caused it is a failed certificate check."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
