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
from tests.support.relays import Session, serving
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

    async with serving(session) as port:
        yield port, seen


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


# -- relays out of protocol -------------------------------------------------------------


def scripted(replies: list[bytes], delivered: list[bytes], *, stall: bool = False) -> Session:
    """Greets, answers EHLO with PIPELINING, then answers the three commands of each
    transaction with ``replies`` and the message with 250 (or never, with ``stall``)."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relay ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-relay\r\n250 PIPELINING\r\n")
        while True:
            group = [await reader.readline() for _ in range(3)]
            if not all(group) or group[0].startswith(b"QUIT"):
                break
            writer.write(b"".join(replies))
            if not replies[-1].startswith(b"354"):
                break
            body = b""
            while (line := await reader.readline()) not in (b".\r\n", b""):
                body += line
            delivered.append(body)
            if stall:
                await reader.read()  # never answers the message
                break
            writer.write(b"250 2.0.0 Ok: queued\r\n")
        writer.close()

    return session


async def test_data_answered_250_instead_of_354_is_no_delivery() -> None:
    delivered: list[bytes] = []
    async with serving(scripted([b"250 ok\r\n", b"250 ok\r\n", b"250 ok\r\n"], delivered)) as port:
        [reply] = await _send_all(port, b"Subject: t\r\n\r\nx\r\n")
    assert not reply.accepted
    assert (reply.code, reply.command) == (DROPPED, "data")
    assert "unexpected reply 250" in reply.text


async def test_any_2xx_to_rcpt_goes_on_to_the_message() -> None:
    delivered: list[bytes] = []
    replies = [b"250 ok\r\n", b"252 2.1.5 cannot verify, will try\r\n", b"354 go\r\n"]
    async with serving(scripted(replies, delivered)) as port:
        [reply] = await _send_all(port, b"Subject: t\r\n\r\nx\r\n")
    assert (reply.code, reply.command, reply.accepted) == (250, "data", True)
    assert delivered == [b"Subject: t\r\n\r\nx\r\n"]


async def test_a_stray_reply_after_the_message_retires_the_connection() -> None:
    """A relay answering once too often: the extra reply must not answer the next mail."""
    delivered: list[bytes] = []
    sessions = 0
    inner = scripted([b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"], delivered)

    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        original = writer.write

        def write(data: bytes) -> None:
            original(data + (b"250 2.0.0 and again\r\n" if data.startswith(b"250 2.0.0") else b""))

        writer.write = write  # type: ignore[method-assign,assignment]
        await inner(reader, writer)

    async with serving(chatty) as port:
        replies = await _send_all(port, b"Subject: 1\r\n\r\nx\r\n", b"Subject: 2\r\n\r\ny\r\n")
    assert [(r.code, r.command) for r in replies] == [(250, "data")] * 2
    assert [body.split(b"\r\n")[0] for body in delivered] == [b"Subject: 1", b"Subject: 2"]
    assert sessions == 2


async def test_a_relay_silent_after_the_message_is_cut_in_the_data_phase() -> None:
    delivered: list[bytes] = []
    replies = [b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"]
    async with serving(scripted(replies, delivered, stall=True)) as port:
        pool = _pool(port)
        try:
            reply = await pool.transmit(SENDER, RCPT, b"Subject: t\r\n\r\nx\r\n", within=1.0)
        finally:
            await pool.close()
    assert (reply.code, reply.command) == (DROPPED, "data")
    assert delivered  # the relay has the text: the phase must say so (a deferral, not "mail")
