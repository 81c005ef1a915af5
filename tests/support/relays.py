"""Small scripted SMTP relays on a free loopback port, for the answers real servers do not
give on demand (a refused greeting, a refused EHLO or sender, replies out of protocol)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

Session = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(session: Session) -> AsyncIterator[int]:
    """Serve ``session`` for each connection until the block ends; yields the port."""
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def answering(
    greeting: bytes, replies: Mapping[bytes, bytes] | None = None, default: bytes = b""
) -> Session:
    """A relay that greets with ``greeting`` (and hangs up unless it is a 220), then
    answers each command by its verb from ``replies``, else with ``default``, until QUIT."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        if greeting.startswith(b"220"):
            while line := await reader.readline():
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb == b"QUIT":
                    break
                writer.write((replies or {}).get(verb, default))
                await writer.drain()
        writer.close()

    return session
