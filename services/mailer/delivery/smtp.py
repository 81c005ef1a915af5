"""A small pool of reused SMTP connections (aiosmtplib), STARTTLS/TLS and AUTH per settings.

``send`` never raises for an SMTP answer or a network failure: it returns a ``Reply``.
A connection is returned to the pool only after a successful transaction; after anything
else it is closed (a 421 means the server is closing it anyway, and a half-finished
transaction is not worth resynchronising).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponseException,
)

log = logging.getLogger(__name__)

DROPPED = 0  # the pseudo reply code of a connection that failed or dropped


@dataclass(frozen=True, slots=True)
class Reply:
    code: int  # DROPPED when there was no answer
    text: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    tls: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    helo_name: str | None = None
    pool_size: int = 4
    max_messages: int = 500


@dataclass(slots=True)
class _Conn:
    client: aiosmtplib.SMTP
    sent: int = 0


class SmtpPool:
    """At most ``pool_size`` connections; idle ones are reused."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._slots = asyncio.Semaphore(config.pool_size)
        self._idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        cfg = self._config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            timeout=cfg.timeout,
            use_tls=cfg.tls == "tls",
            start_tls=cfg.tls == "starttls",
            local_hostname=cfg.helo_name,
        )
        await client.connect()
        return _Conn(client)

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """One SMTP transaction; the returned reply is the server's final answer."""
        async with self._slots:
            conn: _Conn | None = None
            try:
                conn = self._idle.pop() if self._idle else await self._connect()
                _, text = await conn.client.sendmail(sender, [recipient], data)
            except SMTPRecipientsRefused as exc:
                first = exc.recipients[0]
                return self._failed(conn, Reply(first.code, first.message))
            except SMTPResponseException as exc:
                return self._failed(conn, Reply(exc.code, exc.message))
            except (TimeoutError, SMTPException, OSError) as exc:
                return self._failed(conn, Reply(DROPPED, f"{type(exc).__name__}: {exc}"[:500]))
            # Accepted. Nothing here awaits: the caller records the send next.
            conn.sent += 1
            if conn.sent < self._config.max_messages and conn.client.is_connected:
                self._idle.append(conn)
            else:
                self._discard(conn)
            return Reply(250, text)

    def _failed(self, conn: _Conn | None, reply: Reply) -> Reply:
        if conn is not None:
            self._discard(conn)
        return reply

    @staticmethod
    def _discard(conn: _Conn) -> None:
        # close() is synchronous and does not wait for the server: a failed or used-up
        # connection is simply dropped (the server sees EOF, as after a crash).
        conn.client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(SMTPException, OSError, asyncio.TimeoutError):
                await conn.client.quit()
