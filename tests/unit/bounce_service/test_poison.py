"""A message whose handling keeps failing is quarantined; a NATS outage never is."""

from __future__ import annotations

import logging

import pytest
from nats.errors import ConnectionClosedError
from prometheus_client import CollectorRegistry

from services.bounce.errors import ConflictError
from services.bounce.metrics import BounceMetrics
from services.bounce.poison import FailureCounts
from services.bounce.processor import BounceProcessor, bounce_id_for
from services.bounce.queue import Policy
from services.bounce.stores import patron_key
from shared.clock import ManualClock
from shared.contracts.base import Event
from shared.contracts.bounce import BounceClassified
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import DOMAIN, KEY, T0, fake_stores

POISON = "poison@example.net"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", "taro@example.jp")


class Publisher:
    """Publishes in memory; raises ``error`` for the classified event of ``POISON``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.broken = True
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        if self.broken and isinstance(event, BounceClassified) and event.recipient == POISON:
            raise self.error
        self.events.append(event)


def processor(error: Exception, poison_after: int = 3) -> tuple[BounceProcessor, BounceMetrics]:
    metrics = BounceMetrics(CollectorRegistry())
    proc = BounceProcessor(
        fake_stores(), Publisher(error), metrics, ManualClock(T0),
        key=KEY, domain=DOMAIN, policy=Policy(), max_bytes=5_000_000, poison_after=poison_after,
    )  # fmt: skip
    return proc, metrics


async def test_a_message_failing_three_times_in_a_row_is_quarantined(
    caplog: pytest.LogCaptureFixture,
) -> None:
    proc, metrics = processor(ValueError("a bug this message triggers"))
    raw = build_dsn(recipient=POISON)
    for _ in range(2):
        with pytest.raises(ValueError):
            await proc.handle_message(raw)
    with caplog.at_level(logging.ERROR, logger="services.bounce.processor"):
        assert await proc.handle_message(raw) == "quarantine"
    (record,) = [r for r in caplog.records if r.msg == "bounce.poison_quarantined"]
    assert record.levelno == logging.ERROR
    assert record.bounce_id == bounce_id_for(raw)  # type: ignore[attr-defined]
    assert (record.error, record.attempts) == ("ValueError", 3)  # type: ignore[attr-defined]
    assert metrics.messages.labels(disposition="poison")._value.get() == 1


async def test_a_nats_outage_is_retried_for_ever_and_never_quarantines() -> None:
    for error in (ConnectionClosedError(), ConflictError("bounce_queue", "P1"), TimeoutError()):
        proc, _ = processor(error, poison_after=1)
        for _ in range(5):
            with pytest.raises(type(error)):
                await proc.handle_message(build_dsn(recipient=POISON))


async def test_a_success_in_between_starts_the_count_again() -> None:
    proc, _ = processor(ValueError("flaky"))
    publish = proc._publish
    assert isinstance(publish, Publisher)
    raw = build_dsn(recipient=POISON)

    async def fail_twice() -> None:
        for _ in range(2):
            with pytest.raises(ValueError):
                await proc.handle_message(raw)

    await fail_twice()
    publish.broken = False
    assert await proc.handle_message(raw) == "processed"
    await proc._stores.seen.delete_when(bounce_id_for(raw), lambda _: True)  # handle it anew
    publish.broken = True
    await fail_twice()  # two failures in a row again: not yet three
    assert await proc.handle_message(raw) == "quarantine"


async def test_other_messages_are_handled_while_one_is_failing() -> None:
    proc, _ = processor(ValueError("bug"))
    await proc._stores.ledger.put(REC.mail_id, REC)
    with pytest.raises(ValueError):
        await proc.handle_message(build_dsn(recipient=POISON))
    good = build_dsn(recipient=REC.recipient, verp_to=verp_for(KEY, REC))
    assert await proc.handle_message(good) == "processed"
    entry, _ = await proc._stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open"


def test_the_failure_counts_are_bounded_and_cleared_by_a_success() -> None:
    counts = FailureCounts(limit=2, capacity=3)
    assert [counts.failed("a"), counts.failed("a")] == [1, 2] and counts.exhausted(2)
    counts.succeeded("a")
    assert counts.failed("a") == 1
    for key in ("b", "c", "d"):
        counts.failed(key)
    assert len(counts) == 3 and counts.failed("a") == 1  # "a" was the oldest: dropped
    with pytest.raises(ValueError):
        FailureCounts(limit=0)
