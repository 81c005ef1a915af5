"""One mail transaction on a session aiosmtplib has opened, pipelined when the relay allows.

aiosmtplib opens the session: connect, greeting, EHLO (or HELO), STARTTLS or TLS, AUTH.
The connection's transport is then handed to a ``Wire``, which carries the mail
transactions of that session. When the relay advertises PIPELINING (RFC 2920; Postfix,
Exim, Exchange and the carriers' gateways do), MAIL, RCPT and DATA go out in one write and
their three replies are read together: two round trips per mail instead of four.
aiosmtplib cannot do this itself: its reader parses one reply per read and drops data that
arrives while no command is waiting.

Replies are kept in arrival order. A reply that never comes (the relay closed the
connection, or it timed out) is reported as ``DROPPED`` in the phase that was waiting for
it, as ``smtp.Reply`` does for every other path. Only the answer to the message itself
can accept a mail: a reply out of protocol earlier on (DATA answered 250 instead of 354)
is a failure of the session, never a delivery.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from shared.contracts.mail import SmtpCommand

DROPPED = 0  # the pseudo reply code of a connection that failed or dropped
#: A reply longer than this without its last line is not an SMTP server talking.
MAX_PENDING = 64 * 1024
_POSITIVE = range(200, 300)  # MAIL and RCPT (RFC 5321 §4.2: 2yz is completion)
_GO_AHEAD = range(354, 355)  # DATA
_LONE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")


@dataclass(frozen=True, slots=True)
class Answer:
    code: int  # DROPPED when there was no answer
    text: str


class Wire(asyncio.Protocol):
    """The transport of an open SMTP session, reading replies as they arrive."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self._answers: deque[Answer] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._want = 0
        #: Why the session is over (None while it is usable).
        self.ended: str | None = None

    @classmethod
    def take_over(cls, transport: asyncio.Transport) -> Wire:
        """Become the protocol of ``transport`` (after aiosmtplib's last reply was read)."""
        wire = cls(transport)
        transport.set_protocol(wire)
        return wire

    @property
    def is_open(self) -> bool:
        return self.ended is None and not self._transport.is_closing()

    @property
    def quiet(self) -> bool:
        """Open with nothing unread: the next transaction's replies will be its own."""
        return self.is_open and not self._answers and not self._buffer

    def waiting(self) -> Answer | None:
        """The next reply, if it has arrived, without taking it."""
        return self._answers[0] if self._answers else None

    def write(self, data: bytes) -> bool:
        """Send ``data``; False when the session is already over."""
        if not self.is_open:
            return False
        self._transport.write(data)
        return True

    async def answers(self, count: int, timeout: float) -> list[Answer]:
        """The next ``count`` replies, or fewer when the session ends or time runs out."""
        if len(self._answers) < count and self.ended is None:
            self._want = count
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            # A timer that ends the session (which wakes the waiter), not ``asyncio.timeout``:
            # two per mail, and a cancellation of the caller still cancels the wait.
            timer = loop.call_later(timeout, self._end, f"no reply within {timeout:g} s")
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        return [self._answers.popleft() for _ in range(min(count, len(self._answers)))]

    def close(self) -> None:
        self._end("closed by us")

    # -- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._parse()
        self._wake()

    def eof_received(self) -> bool:
        self._end("connection closed by the relay")
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(f"connection lost: {exc}" if exc else "connection closed by the relay")

    # -- internals -------------------------------------------------------------------------

    def _parse(self) -> None:
        """Move every complete reply (one line, or a ``250-`` … ``250 `` group) out."""
        buf = self._buffer
        pos = consumed = 0
        lines: list[str] = []
        while (end := buf.find(b"\n", pos)) >= 0:
            line = bytes(buf[pos:end]).rstrip(b"\r")
            pos = end + 1
            code, separator = line[:3], line[3:4]
            if not (len(code) == 3 and code.isdigit() and separator in (b"", b" ", b"-")):
                self._end(f"malformed reply {line[:80]!r}")
                return
            lines.append(line[4:].decode("utf-8", "replace").strip())
            if separator != b"-":
                self._answers.append(Answer(int(code), "\n".join(lines)))
                lines = []
                consumed = pos
        del buf[:consumed]
        if len(buf) > MAX_PENDING:
            self._end("reply too long")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if len(self._answers) >= self._want or self.ended is not None:
            waiter.set_result(None)

    def _end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        if not self._transport.is_closing():
            self._transport.close()
        self._wake()


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer
    command: SmtpCommand  # the command this is the answer to (or was waiting for)
    final: bool = False  # the answer to the message itself (only that can accept)

    @property
    def accepted(self) -> bool:
        return self.final and 200 <= self.answer.code < 300


Phase = Callable[[SmtpCommand, bool], None]  # (the phase reached, message text written)


async def transact(
    wire: Wire,
    sender: bytes,
    recipient: bytes,
    data: bytes,
    *,
    pipelining: bool,
    size: bool,
    timeout: float,
    reached: Phase = lambda command, written: None,
) -> Outcome:
    """MAIL, RCPT, DATA and the message; the first refusal (or silence) ends it."""
    text = message_text(data)
    mail = b"MAIL FROM:" + sender + (b" SIZE=%d" % len(text) if size else b"") + b"\r\n"
    steps: tuple[tuple[SmtpCommand, bytes, range], ...] = (
        ("mail", mail, _POSITIVE),
        ("rcpt", b"RCPT TO:" + recipient + b"\r\n", _POSITIVE),
        ("data", b"DATA\r\n", _GO_AHEAD),
    )
    reached("mail", False)
    if pipelining:
        wire.write(b"".join(line for _, line, _ in steps))
        answers = await wire.answers(len(steps), timeout)
    else:
        answers = []
        for command, line, ok in steps:
            reached(command, False)
            wire.write(line)
            answers += await wire.answers(1, timeout)
            if not answers or answers[-1].code not in ok:
                break
    for index, (command, _, ok) in enumerate(steps):
        if index >= len(answers):
            return Outcome(Answer(DROPPED, wire.ended or "no reply"), command)
        if answers[index].code not in ok:
            return Outcome(_refusal(answers[index]), command)
    reached("data", True)
    wire.write(text)
    final = await wire.answers(1, timeout)
    return Outcome(final[0] if final else Answer(DROPPED, wire.ended or "no reply"), "data", True)


def _refusal(answer: Answer) -> Answer:
    """A refusal as it is; a positive reply where none belongs as a broken session."""
    if answer.code >= 400:
        return answer
    return Answer(DROPPED, f"unexpected reply {answer.code} {answer.text}"[:500])


def message_text(data: bytes) -> bytes:
    """``data`` as DATA content: CRLF line ends, leading dots doubled, the final dot."""
    if data.count(b"\r") != data.count(b"\n") or data.count(b"\r\n") != data.count(b"\n"):
        data = _LONE_CR_OR_LF.sub(b"\r\n", data)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"
