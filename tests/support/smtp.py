"""A real SMTP server (aiosmtpd) that records what it accepts and answers as scripted.

Carrier behaviour is simulated by scripting the answer to RCPT or DATA per recipient:
``550 5.1.1 <...>: Recipient address rejected: User unknown``, ``452 4.2.2 Mailbox full``,
``421 4.7.0 Try again later``, or ``DROP`` (close the connection without an answer).
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import free_port

DROP = "DROP"
Script = Callable[[str, str], str | None]  # (phase "rcpt"|"data", recipient) -> reply or None


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class _Handler:
    script: Script | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)

    def _answer(self, server: Any, phase: str, rcpt: str) -> str | None:
        if self.script is None:
            return None
        reply = self.script(phase, rcpt)
        if reply == DROP:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        return reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            self.rcpt_attempts[address] += 1
        reply = self._answer(server, "rcpt", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            reply = self._answer(server, "data", rcpt)
            if reply:
                return reply
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 2.0.0 Ok: queued"


class RecordingSMTP:
    """An aiosmtpd server in a thread on a free loopback port."""

    def __init__(self, script: Script | None = None) -> None:
        self.handler = _Handler(script=script)
        self.port = free_port()
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=10 * 1024 * 1024
        )

    def start(self) -> RecordingSMTP:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.received)

    def set_script(self, script: Script | None) -> None:
        self.handler.script = script


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTP]:
    server = RecordingSMTP().start()
    yield server
    server.stop()
