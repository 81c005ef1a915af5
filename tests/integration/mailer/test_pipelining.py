"""Pipelined transactions (RFC 2920) against Postfix's smtp-sink, and a strict relay.

smtp-sink advertises PIPELINING, as Postfix does: MAIL, RCPT and DATA go out in one
write and their replies are read together. A refusal or a disconnect anywhere in the
group still names the command it answers, and what arrives is the message, byte for byte
(dot-stuffing included).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.mailer.delivery.pipelining import message_text
from services.mailer.delivery.smtp import DROPPED, Reply, SmtpConfig, SmtpPool
from tests.support.smtpsink import smtp_sink

SENDER = "bounce+abc.def@plib.pref.aomori.lg.jp"
RCPT = "patron@docomo.ne.jp"
#: Lines a naive client would end the message at, or lose a dot of.
TRICKY = b".leading dot\r\nSubject: t\r\n\r\nbody\r\n.\r\n..two\r\n. space\r\nend"


def _pool(port: int) -> SmtpPool:
    return SmtpPool(SmtpConfig("127.0.0.1", port, timeout=5.0, helo_name="plib.pref.aomori.lg.jp"))


async def _send_all(port: int, *messages: bytes) -> list[Reply]:
    pool = _pool(port)
    try:
        return [await pool.send(SENDER, RCPT, m) for m in messages]
    finally:
        await pool.close()


def _body(dump: bytes) -> bytes:
    """The message as received: smtp-sink writes LF line ends, prepends X- headers and
    a Received header, and appends an empty line."""
    header, _, rest = dump.partition(b"Received: ")
    assert header.startswith(b"X-Client-Addr")
    _, _, message = rest.partition(b"(UTC)\n")
    assert message.endswith(b"\n\n")
    return message[:-1]


async def test_mails_on_one_pipelined_session_arrive_byte_for_byte() -> None:
    first = b"Subject: one\r\n\r\nfirst\r\n"
    with smtp_sink(dump=True) as sink:
        replies = await _send_all(sink.port, first, TRICKY, first)
        dumps = sink.dumps()
    assert [(r.code, r.command) for r in replies] == [(250, "data")] * 3
    assert sorted(_body(d) for d in dumps) == sorted(
        m.replace(b"\r\n", b"\n") + (b"" if m.endswith(b"\r\n") else b"\n")
        for m in (first, TRICKY, first)
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("-Q", "MAIL"), (421, "mail")),
        (("-Q", "RCPT"), (421, "rcpt")),
        (("-q", "RCPT"), (DROPPED, "rcpt")),
        (("-Q", "DATA"), (421, "data")),
        (("-q", "DATA"), (DROPPED, "data")),
        (("-Q", "."), (421, "data")),
        (("-q", "."), (DROPPED, "data")),
    ],
    ids=["421_mail", "421_rcpt", "drop_rcpt", "421_data", "drop_data", "421_dot", "drop_dot"],
)
async def test_a_fault_inside_the_pipelined_group_names_its_command(
    flags: tuple[str, str], expected: tuple[int, str]
) -> None:
    with smtp_sink(*flags) as sink:
        [reply] = await _send_all(sink.port, b"Subject: t\r\n\r\nx\r\n")
    assert (reply.code, reply.command) == expected
    assert not reply.accepted


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(("-f", "RCPT"), (5, "rcpt")), (("-r", "RCPT"), (4, "rcpt")), (("-f", "."), (5, "data"))],
    ids=["5xx_rcpt", "4xx_rcpt", "5xx_after_message"],
)
async def test_refusals_without_pipelining_name_their_command(
    flags: tuple[str, str], expected: tuple[int, str]
) -> None:
    # -f / -r make smtp-sink stop advertising PIPELINING: the one-at-a-time path.
    with smtp_sink(*flags) as sink:
        [reply] = await _send_all(sink.port, b"Subject: t\r\n\r\nx\r\n")
    assert (reply.code // 100, reply.command) == expected


@pytest.fixture
async def strict_relay() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A relay that advertises PIPELINING and answers nothing of MAIL/RCPT/DATA until all
    three have arrived: a client waiting for MAIL's reply first would hang here."""
    seen: list[bytes] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 strict ESMTP\r\n")
        await reader.readline()  # EHLO
        writer.write(b"250-strict\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        group = [await reader.readline() for _ in range(3)]
        seen.extend(group)
        writer.write(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n")
        while await reader.readline() not in (b".\r\n", b""):
            pass
        writer.write(b"250 2.0.0 Ok: queued\r\n")
        await reader.readline()  # QUIT
        writer.write(b"221 bye\r\n")
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], seen
    server.close()
    await server.wait_closed()


async def test_mail_rcpt_and_data_go_out_before_any_reply(
    strict_relay: tuple[int, list[bytes]],
) -> None:
    port, seen = strict_relay
    [reply] = await _send_all(port, b"Subject: t\r\n\r\nx\r\n")
    assert (reply.code, reply.command) == (250, "data")
    assert [line.split(b":")[0] for line in seen] == [b"MAIL FROM", b"RCPT TO", b"DATA\r\n"]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b".a\r\n.\r\n", b"..a\r\n..\r\n.\r\n"),
        (b"a\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r\r\n", b"a\r\nb\r\n\r\n.\r\n"),
        (b"", b"\r\n.\r\n"),
    ],
)
def test_message_text_ends_lines_with_crlf_and_doubles_leading_dots(
    data: bytes, text: bytes
) -> None:
    assert message_text(data) == text
