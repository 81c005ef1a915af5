"""``to_the_end``: the shielded SMTP exchange and its ``sent`` write run to their end, and
the caller's cancellation is re-raised afterwards — also when it lands just as they end."""

from __future__ import annotations

import asyncio

import pytest

from services.mailer.delivery.recording import to_the_end


async def test_a_cancellation_during_the_work_waits_for_it_then_is_raised() -> None:
    go = asyncio.Event()
    done: list[str] = []

    async def work() -> str:
        await go.wait()
        done.append("sent recorded")
        return "250"

    task = asyncio.create_task(to_the_end(work()))
    await asyncio.sleep(0)  # a scheduling step: the work is now waiting on ``go``
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()  # still waiting for the work
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["sent recorded"]


async def test_a_cancellation_as_the_work_ends_is_still_raised() -> None:
    go, ended = asyncio.Event(), asyncio.Event()
    after: list[str] = []

    async def work() -> str:
        await go.wait()
        ended.set()  # the test's wake-up is queued before the handler's
        return "250"

    async def handler() -> None:
        after.append(await to_the_end(work()))  # the outcome and the ack would follow

    task = asyncio.create_task(handler())
    await asyncio.sleep(0)  # a scheduling step: the work is now waiting on ``go``
    go.set()
    await ended.wait()  # the work has just ended; the handler has not resumed yet
    task.cancel()  # SIGTERM past the grace, as the 250 is being recorded
    with pytest.raises(asyncio.CancelledError):
        await task
    assert after == []


async def test_without_a_cancellation_the_result_is_returned() -> None:
    async def work() -> str:
        return "250"

    assert await to_the_end(work()) == "250"
