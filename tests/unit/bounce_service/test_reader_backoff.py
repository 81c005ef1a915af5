"""The reconnect delay grows while sessions make no progress, and restarts after one that did."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
from prometheus_client import CollectorRegistry

from services.bounce.errors import ImapError, SinkFailed
from services.bounce.mailbox.reader import Disposition, MailboxReader, ReaderConfig
from services.bounce.metrics import BounceMetrics

INITIAL = 0.001


async def never(_: bytes) -> Disposition:
    raise AssertionError("no message is fetched in these tests")


class ScriptedReader(MailboxReader):
    """Sessions play a script: each step says whether it made progress, then fails."""

    def __init__(self, script: list[bool]) -> None:
        config = ReaderConfig("127.0.0.1", 1, "u", "p", backoff_initial=INITIAL, backoff_max=1.0)
        super().__init__(config, never, BounceMetrics(CollectorRegistry()), asyncio.Event())
        self.script = script

    async def _session(self) -> None:
        if not self.script:
            self._stop.set()
            return
        progressed = self.script.pop(0)
        self.sessions += 1
        if progressed:
            self.progress += 1
            raise ImapError("IDLE", "LOST")
        raise SinkFailed(7, ValueError("poison"))


async def delays(script: list[bool], caplog: pytest.LogCaptureFixture) -> list[float]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="services.bounce.mailbox.reader"):
        await asyncio.wait_for(ScriptedReader(script).run(), 10)
    lost = [r for r in caplog.records if r.msg == "bounce.imap_lost"]
    return [round(r.retry_in / INITIAL) for r in lost]  # type: ignore[attr-defined]


async def test_a_session_failing_on_the_same_message_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logging in is not progress: a sink failing at once doubles the delay every time."""
    assert await delays([False] * 5, caplog) == [1, 2, 4, 8, 16]


async def test_a_session_that_moved_mail_restarts_the_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await delays([False, False, False, True, False], caplog) == [1, 2, 4, 1, 2]


def test_implicit_tls_verifies_the_server_and_plain_has_no_context() -> None:
    plain = ReaderConfig("127.0.0.1", 143, "u", "p")
    assert plain.ssl_context() is None
    context = ReaderConfig("127.0.0.1", 993, "u", "p", tls=True).ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
