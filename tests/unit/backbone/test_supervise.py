"""``_supervise``: every loop that fails counts, also one failing while it stops."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from typing import Any

import pytest

from shared.bus.consume import MAX_RETRY_DELAY, Retry
from shared.runtime.service import _supervise, run
from shared.settings import CommonSettings


async def test_a_loop_failing_while_it_stops_gives_exit_code_1() -> None:
    # The consume loop raises a handler task's failure once it has finished its work in
    # hand, which is typically after the stop.
    stop = asyncio.Event()

    async def loop() -> None:
        await stop.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # scheduling steps: finishing the messages in hand
        raise RuntimeError("a handler task failed")

    task = asyncio.create_task(loop())
    stop.set()  # SIGTERM
    assert await _supervise([task], stop, grace=5.0) == 1
    assert task.exception() is not None


async def test_a_second_loop_failing_after_the_first_is_logged_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    stop = asyncio.Event()

    async def first() -> None:
        raise ConnectionError("first loop failed")

    async def second() -> None:
        await stop.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        raise RuntimeError("second loop failed during the grace")

    a, b = asyncio.create_task(first()), asyncio.create_task(second())
    assert await _supervise([a, b], stop, grace=5.0) == 1
    failed = [r for r in caplog.records if r.getMessage() == "service.loop_failed"]
    assert len(failed) == 2


async def test_loops_that_end_cleanly_give_exit_code_0() -> None:
    stop = asyncio.Event()

    async def loop() -> None:
        await stop.wait()

    task = asyncio.create_task(loop())
    stop.set()
    assert await _supervise([task], stop, grace=5.0) == 0


@pytest.mark.parametrize(
    ("asked", "sent"),
    [(-5.0, 0.0), (float("nan"), 0.0), (float("inf"), MAX_RETRY_DELAY), (1e12, MAX_RETRY_DELAY),
     (42.5, 42.5), (None, None)],
)  # fmt: skip
def test_a_retry_delay_is_one_the_server_can_take(asked: float | None, sent: float | None) -> None:
    assert Retry("busy", delay=asked).delay == sent


async def test_a_taken_http_port_ends_the_service_with_a_clear_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No traceback: the error names the port and the setting to change; exit code 1."""
    caplog.set_level(logging.ERROR)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = CommonSettings(http_host="127.0.0.1", http_port=port)

        async def wire(runtime: object) -> list[Coroutine[Any, Any, None]]:
            raise AssertionError("never wired")

        assert await run("mailer", settings, wire, asyncio.Event()) == 1  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.getMessage() == "service.http_unavailable"]
    assert record.port == port  # type: ignore[attr-defined]
    assert "OTAYORI_HTTP_PORT" in record.hint  # type: ignore[attr-defined]
    assert record.exc_info is None
