"""The SMTP pool over STARTTLS, implicit TLS and AUTH, against real aiosmtpd relays.

aiosmtplib opens each session (greeting, EHLO, STARTTLS or a TLS connect, AUTH) and then
hands its transport, an SSL transport here, to ``pipelining.Wire``: these tests prove the
mail transactions after that hand-over really travel inside TLS, on one pooled session,
pipelined or one command at a time, and that a relay we cannot verify never gets a mail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.mailer.delivery.smtp import DROPPED, Reply, SmtpConfig, SmtpPool
from tests.support.servers import free_port
from tests.support.tls import Pki, make_pki
from tests.support.tls import pki as pki  # the session-scoped test CA (a fixture)

SENDER = "bounce+abc.def@plib.pref.aomori.lg.jp"
RCPT = "patron-1042@docomo.ne.jp"
MESSAGE = b"Subject: test\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n.leading dot\r\n"
HELO = "plib.pref.aomori.lg.jp"
USER, PASSWORD = "otayori", "ringo-no-hana"


class _Relay:
    """An aiosmtpd handler recording, for every MAIL, its session and its TLS protocol."""

    def __init__(self, *, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.refuse_next_mail: str | None = None  # answer the next MAIL with this, once
        #: Sessions that sent MAIL, kept alive so that each stays distinct by identity
        #: (aiosmtpd makes a new one per connection, and again after STARTTLS).
        self.sessions: list[Any] = []
        self.servers: list[Any] = []  # the aiosmtpd protocol of each of those sessions
        self.tls: list[str | None] = []  # per MAIL: the TLS version it came over, or None
        self.pipelined: list[bool] = []  # per MAIL: RCPT and DATA arrived along with it
        self.authenticated: list[bool] = []  # per MAIL: the session had passed AUTH
        self.logins: list[tuple[str, bool]] = []  # per AUTH attempt: (mechanism, success)
        self.accepted: list[bytes] = []

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
        self.logins.append((mechanism, ok))
        # handled=False: aiosmtpd answers a failure itself (535 5.7.8).
        return AuthResult(success=ok, handled=False, auth_data=data)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not any(seen is session for seen in self.sessions):
            self.sessions.append(session)
            self.servers.append(server)
        ssl_object = server.transport.get_extra_info("ssl_object")
        self.tls.append(None if ssl_object is None else ssl_object.version())
        # A pipelining client's RCPT and DATA came in the same TLS record as this MAIL:
        # they already wait in the server's read buffer (aiosmtpd has no public view).
        self.pipelined.append(b"RCPT TO:" in bytes(server._reader._buffer))
        self.authenticated.append(bool(session.authenticated))
        if self.refuse_next_mail is not None:
            reply, self.refuse_next_mail = self.refuse_next_mail, None
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.append(bytes(envelope.content))
        return "250 2.0.0 Ok: queued as 4XyZ"


@dataclass
class _Served:
    relay: _Relay
    port: int
    loop: asyncio.AbstractEventLoop  # the relay's own loop (aiosmtpd runs in a thread)


Serve = Callable[..., Awaitable[_Served]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiosmtpd relays (TLS and AUTH per the test); stop them when it ends."""
    controllers: list[Controller] = []

    async def start(*, pipelining: bool = False, auth: bool = False, **smtp_params: Any) -> _Served:
        """A relay; ``auth``: it requires AUTH (after STARTTLS) and checks USER/PASSWORD."""
        relay = _Relay(pipelining=pipelining)
        if auth:
            smtp_params.update(
                auth_required=True, auth_require_tls=True, authenticator=relay.authenticate
            )
        controller = Controller(relay, hostname="127.0.0.1", port=free_port(), **smtp_params)
        # Started and stopped off the test's loop, which keeps running the client side
        # (its TLS shutdowns included) meanwhile.
        await asyncio.to_thread(controller.start)
        controllers.append(controller)
        return _Served(relay, controller.port, controller.loop)

    try:
        yield start
    finally:
        for controller in controllers:
            await asyncio.to_thread(controller.stop)


@pytest.fixture(params=[False, True], ids=["one_at_a_time", "pipelined"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _pool(
    port: int, tls: str, ca_file: Path | None, *, host: str = "127.0.0.1", **extra: Any
) -> SmtpPool:
    return SmtpPool(
        SmtpConfig(
            host,
            port,
            tls=tls,
            ca_file=None if ca_file is None else str(ca_file),
            timeout=10.0,
            helo_name=HELO,
            **extra,
        )
    )


async def _send_all(pool: SmtpPool, count: int) -> list[Reply]:
    try:
        return [await pool.send(SENDER, RCPT, MESSAGE) for _ in range(count)]
    finally:
        await pool.close()


def _accepted_data(reply: Reply) -> bool:
    return reply.accepted and reply.command == "data"


async def test_mail_goes_over_starttls_on_one_pooled_session(
    serve: Serve, pki: Pki, pipelining: bool
) -> None:
    served = await serve(
        pipelining=pipelining, tls_context=pki.server_context(), require_starttls=True
    )
    replies = await _send_all(_pool(served.port, "starttls", pki.ca_pem), 3)
    relay = served.relay
    assert all(_accepted_data(reply) for reply in replies), replies
    assert relay.accepted == [MESSAGE] * 3  # the Wire's writes arrived intact through TLS
    assert relay.tls == ["TLSv1.3"] * 3
    assert relay.pipelined == [pipelining] * 3
    assert len(relay.sessions) == 1


async def test_a_large_message_crosses_many_tls_records_intact(serve: Serve, pki: Pki) -> None:
    served = await serve(pipelining=True, tls_context=pki.server_context(), require_starttls=True)
    body = b"".join(b"line %06d " % n + b"x" * 60 + b"\r\n" for n in range(4000))  # ~290 KB
    message = b"Subject: big\r\n\r\n" + body
    pool = _pool(served.port, "starttls", pki.ca_pem)
    try:
        reply = await pool.send(SENDER, RCPT, message)
    finally:
        await pool.close()
    assert _accepted_data(reply), reply
    assert served.relay.accepted == [message]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_mail_goes_over_implicit_tls_on_one_pooled_session(
    serve: Serve, pki: Pki, host: str
) -> None:
    served = await serve(ssl_context=pki.server_context())
    replies = await _send_all(_pool(served.port, "tls", pki.ca_pem, host=host), 2)
    assert all(_accepted_data(reply) for reply in replies), replies
    assert served.relay.accepted == [MESSAGE] * 2
    assert served.relay.tls == ["TLSv1.3"] * 2
    assert len(served.relay.sessions) == 1


async def _serve_auth(serve: Serve, pki: Pki) -> _Served:
    return await serve(auth=True, tls_context=pki.server_context(), require_starttls=True)


async def test_mail_goes_after_auth_with_the_right_password(serve: Serve, pki: Pki) -> None:
    served = await _serve_auth(serve, pki)
    pool = _pool(served.port, "starttls", pki.ca_pem, username=USER, password=PASSWORD)
    replies = await _send_all(pool, 2)
    assert all(_accepted_data(reply) for reply in replies), replies
    assert served.relay.logins == [("PLAIN", True)]
    assert served.relay.authenticated == [True, True]
    assert served.relay.tls == ["TLSv1.3"] * 2
    assert len(served.relay.sessions) == 1


async def test_a_wrong_password_is_a_535_answer_to_connect(serve: Serve, pki: Pki) -> None:
    served = await _serve_auth(serve, pki)
    pool = _pool(served.port, "starttls", pki.ca_pem, username=USER, password="wrong")
    (reply,) = await _send_all(pool, 1)
    # AUTH runs inside aiosmtplib's connect, so the pool names the session's opening.
    assert (reply.code, reply.command) == (535, "connect")
    assert not reply.accepted
    # aiosmtplib tries every mechanism both sides offer before giving up.
    assert served.relay.logins == [("PLAIN", False), ("LOGIN", False)]
    assert served.relay.sessions == []
    assert served.relay.accepted == []


@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.parametrize("trust", ["system_store", "another_ca"])
async def test_a_relay_we_cannot_verify_never_gets_a_mail(
    serve: Serve, pki: Pki, tmp_path: Path, tls: str, trust: str
) -> None:
    if tls == "tls":
        served = await serve(ssl_context=pki.server_context())
    else:
        served = await serve(tls_context=pki.server_context(), require_starttls=True)
    ca_file = None if trust == "system_store" else make_pki(tmp_path, "another CA").ca_pem
    (reply,) = await _send_all(_pool(served.port, tls, ca_file), 1)
    assert (reply.code, reply.command) == (DROPPED, "connect")
    assert "CERTIFICATE_VERIFY_FAILED" in reply.text
    assert reply.tls_unverified
    assert served.relay.sessions == []
    assert served.relay.accepted == []


async def test_a_relay_without_starttls_is_unfit_not_a_dropped_line(serve: Serve, pki: Pki) -> None:
    # The relay's configuration changed under us: it no longer offers STARTTLS. Nothing
    # goes out in the clear, and the reply says the relay is unfit, so the sender logs an
    # ops error (cause relay_refused) instead of a silent "connection lost".
    served = await serve()
    (reply,) = await _send_all(_pool(served.port, "starttls", pki.ca_pem), 1)
    assert (reply.code, reply.command) == (DROPPED, "connect")
    assert reply.relay_unfit and not reply.tls_unverified
    assert "STARTTLS" in reply.text
    assert served.relay.sessions == []
    assert served.relay.accepted == []


async def test_a_relay_that_drops_the_line_is_not_unfit(serve: Serve, pki: Pki) -> None:
    (reply,) = await _send_all(_pool(free_port(), "starttls", pki.ca_pem), 1)
    assert (reply.code, reply.command) == (DROPPED, "connect")
    assert not reply.relay_unfit


async def _answer_421(served: _Served) -> None:
    # The relay gives up on the idle session: the next MAIL on it is answered 421.
    served.relay.refuse_next_mail = "421 4.4.2 closing"


async def _close(served: _Served) -> None:
    # The relay closes the idle session (TLS close_notify, then FIN). Whether the pool
    # notices before reusing it or only at MAIL, the mail goes on a new session.
    await _on_relay_loop(served, served.relay.servers[0].transport.close)


@pytest.mark.parametrize(
    ("end", "seen_over_tls"),  # MAIL commands the relay saw over TLS (the 421'd one too)
    [(_answer_421, 3), (_close, 2)],
    ids=["answered_421", "closed"],
)
async def test_a_pooled_tls_session_the_relay_ended_is_replaced_at_once(
    serve: Serve,
    pki: Pki,
    pipelining: bool,
    end: Callable[[_Served], Awaitable[None]],
    seen_over_tls: int,
) -> None:
    served = await serve(
        pipelining=pipelining, tls_context=pki.server_context(), require_starttls=True
    )
    relay = served.relay
    pool = _pool(served.port, "starttls", pki.ca_pem)
    try:
        first = await pool.send(SENDER, RCPT, MESSAGE)
        await end(served)
        second = await pool.send(SENDER, RCPT, MESSAGE)
    finally:
        await pool.close()
    assert _accepted_data(first), first
    assert _accepted_data(second), second
    assert relay.accepted == [MESSAGE] * 2
    assert len(relay.sessions) == 2  # the second mail went on a fresh TLS session
    assert relay.tls == ["TLSv1.3"] * seen_over_tls


async def _on_relay_loop(served: _Served, action: Callable[[], object]) -> None:
    """Run ``action`` on the relay's loop (its transports belong there) and wait for it."""

    async def run() -> None:
        action()

    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), served.loop))
