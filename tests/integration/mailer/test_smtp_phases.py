"""The SMTP pool names the command each answer belongs to (``MailOutcome.smtp_command``).

docomo and au answer "Unknown user" at RCPT for a bad address but refuse at DATA when the
patron's reception filter blocks us: the bounce service tells them apart by this phase.
Every test runs against a relay without PIPELINING (one command at a time) and one that
advertises it (MAIL, RCPT and DATA written together, their replies read together).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.mailer.delivery.smtp import DROPPED, Reply, SmtpConfig, SmtpPool
from tests.support.relays import answering, serving
from tests.support.servers import free_port

SENDER = "bounce+abc.def@plib.pref.aomori.lg.jp"
RCPT = "taro..hanako.@docomo.ne.jp"
MESSAGE = b"Subject: test\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n"


class _Scripted:
    """An aiosmtpd handler refusing one command with a given reply (None: accept all)."""

    def __init__(
        self, refuse: str | None = None, reply: str = "", *, pipelining: bool = False
    ) -> None:
        self.pipelining = pipelining
        self.refuse = refuse
        self.reply = reply
        self.once = False  # refuse only the next time, then accept again
        self.sessions: set[int] = set()
        self.accepted: list[tuple[str, list[str]]] = []

    def _refuses(self, command: str) -> bool:
        if self.refuse != command:
            return False
        if self.once:
            self.refuse = None
        return True

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        if self.refuse == "ehlo":
            return [self.reply]
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        return self.reply if self.refuse == "ehlo" else f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.sessions.add(id(session))
        if self._refuses("mail"):
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse == "data":
            return self.reply
        self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok: queued as 4XyZ"


@pytest.fixture(params=[False, True], ids=["one_at_a_time", "pipelined"])
def sink(request: pytest.FixtureRequest) -> Iterator[tuple[_Scripted, int]]:
    handler = _Scripted(pipelining=request.param)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
async def refusing_greeting() -> AsyncIterator[int]:
    """A server whose greeting refuses service (554), as an overloaded relay might."""
    async with serving(answering(b"554 5.3.2 no service for you\r\n")) as port:
        yield port


async def _send(port: int) -> Reply:
    pool = SmtpPool(SmtpConfig("127.0.0.1", port, timeout=5.0, helo_name="plib.pref.aomori.lg.jp"))
    try:
        return await pool.send(SENDER, RCPT, MESSAGE)
    finally:
        await pool.close()


async def test_an_accepted_mail_is_the_answer_to_data(sink: tuple[_Scripted, int]) -> None:
    handler, port = sink
    reply = await _send(port)
    assert (reply.code, reply.command) == (250, "data")
    assert "queued as 4XyZ" in reply.text
    assert handler.accepted == [(SENDER, [RCPT])]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("ehlo", "554 5.7.1 go away"),
        ("mail", "553 5.7.1 sender rejected"),
        ("rcpt", "550 5.1.1 Unknown user"),
        ("data", "550 5.7.1 reception filter"),
        ("rcpt", "452 4.2.2 Mailbox full"),
    ],
    ids=["ehlo_refused", "mail_refused", "unknown_user_at_rcpt", "refused_at_data", "rcpt_4xx"],
)
async def test_a_refusal_names_the_command_it_answers(
    sink: tuple[_Scripted, int], command: str, answer: str
) -> None:
    handler, port = sink
    handler.refuse, handler.reply = command, answer
    reply = await _send(port)
    assert (reply.code, reply.command) == (int(answer[:3]), command)
    assert answer[4:] in reply.text
    assert handler.accepted == []


async def test_a_refused_greeting_is_the_answer_to_connect(refusing_greeting: int) -> None:
    reply = await _send(refusing_greeting)
    assert (reply.code, reply.command) == (554, "connect")


async def test_no_server_at_all_is_a_dropped_connect() -> None:
    reply = await _send(free_port())
    assert (reply.code, reply.command) == (DROPPED, "connect")
    assert not reply.accepted
    assert not reply.tls_unverified  # unreachable is not a certificate problem


async def test_an_idle_session_the_relay_closed_is_replaced_at_once(
    sink: tuple[_Scripted, int],
) -> None:
    handler, port = sink
    pool = SmtpPool(SmtpConfig("127.0.0.1", port, timeout=5.0, helo_name="plib.pref.aomori.lg.jp"))
    try:
        assert (await pool.send(SENDER, RCPT, MESSAGE)).accepted
        # The relay gives up on the pooled session (as Postfix does after its idle
        # timeout): the next MAIL on it is answered 421. Nothing of that mail was taken.
        handler.refuse, handler.reply, handler.once = "mail", "421 4.4.2 closing", True
        reply = await pool.send(SENDER, RCPT, MESSAGE)
    finally:
        await pool.close()
    assert (reply.code, reply.command) == (250, "data")
    assert len(handler.accepted) == 2
    assert len(handler.sessions) == 2  # the second mail went on a fresh session


async def test_a_421_on_a_fresh_session_is_the_answer(sink: tuple[_Scripted, int]) -> None:
    handler, port = sink
    handler.refuse, handler.reply, handler.once = "mail", "421 4.7.0 try later", True
    reply = await _send(port)
    assert (reply.code, reply.command) == (421, "mail")
    assert handler.accepted == []
