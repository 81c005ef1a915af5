"""The claim outlives the waits before SMTP, and a cancelled handler loses no send.

The send handler runs here on its own (real nats-server KV, real aiosmtpd sink) with a
manual clock and a carrier gate the test opens, so "a long wait for a slot" is a clock
step rather than real time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from services.mailer.delivery.gates import GroupGates
from services.mailer.delivery.ledger import Claim, Ledger
from services.mailer.delivery.metrics import MailerMetrics
from services.mailer.delivery.sender import Sender, SenderConfig
from services.mailer.delivery.smtp import DROPPED, SmtpConfig, SmtpPool
from services.mailer.plan.model import MailWork
from services.mailer.plan.timing import RetrySchedule
from services.mailer.plan.work import prompt_work
from services.mailer.service import library_composer
from shared.bus.consume import Delivery, Retry
from shared.clock import ManualClock
from shared.contracts.base import Event
from shared.contracts.mail import CarrierGroup
from shared.mailrecord import MailRecord
from tests.integration.mailer.conftest import SATURDAY, mailer_settings
from tests.integration.mailer.events import hold_cancelled
from tests.support.relays import serving
from tests.support.smtp import RecordingSMTP
from tools.localservers import NatsServer

LEASE = 120.0
DOMAIN = "plib.pref.aomori.lg.jp"
ADDRESS = "p1@example.jp"


class HeldGates(GroupGates):
    """Carrier gates whose slot opens when the test says so."""

    def __init__(self) -> None:
        super().__init__({}, {})
        self.waiting = asyncio.Event()
        self.open = asyncio.Event()

    @asynccontextmanager
    async def slot(self, group: CarrierGroup) -> AsyncIterator[None]:
        self.waiting.set()
        await self.open.wait()
        yield


@dataclass
class FakeMsg:
    """The only part of a JetStream message the send handler touches."""

    progress: int = 0

    async def in_progress(self) -> None:
        self.progress += 1


@dataclass
class Rig:
    sender: Sender
    ledger: Ledger
    clock: ManualClock
    gates: HeldGates
    smtp: RecordingSMTP
    work: MailWork
    msg: FakeMsg = field(default_factory=FakeMsg)
    published: list[Event] = field(default_factory=list)

    def delivery(self) -> Delivery:
        return Delivery("mail.send.hold_cancelled", None, 1, 1, raw=self.msg)  # type: ignore[arg-type]

    def handle(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.sender.handle(self.work, self.delivery()))

    async def record(self) -> MailRecord:
        current, _ = await self.ledger.read(self.work.mail_id)
        assert current is not None
        return current


@pytest.fixture
async def rig(
    fresh_nats: NatsServer, js: JetStreamContext, smtp_server: RecordingSMTP
) -> AsyncIterator[Rig]:
    settings = mailer_settings(fresh_nats.url, smtp_server.port)
    clock = ManualClock(SATURDAY)
    schedule = RetrySchedule(0.2, 1.0, 0.2)
    ledger = Ledger(
        await js.key_value("mail_ledger"), lease=LEASE, schedule=schedule, domain=DOMAIN
    )
    pool = SmtpPool(SmtpConfig("127.0.0.1", smtp_server.port))
    gates = HeldGates()
    event = hold_cancelled("P1", ADDRESS, at=datetime(2026, 12, 4, 8, 0, tzinfo=UTC), title="本")
    published: list[Event] = []

    async def publish(e: Event) -> None:
        published.append(e)

    async def no(_: str) -> bool:
        return False

    sender = Sender(
        config=SenderConfig(DOMAIN, settings.verp_key, schedule),
        clock=clock,
        ledger=ledger,
        composer=library_composer(settings),
        pool=pool,
        gates=gates,
        publish=publish,
        is_suppressed=no,
        is_returned=no,
        metrics=MailerMetrics(CollectorRegistry()),
    )
    work = prompt_work(event, recipient=ADDRESS, now=clock.now())
    yield Rig(sender, ledger, clock, gates, smtp_server, work, published=published)
    await pool.close()


async def test_the_common_path_does_not_renew_the_claim(rig: Rig) -> None:
    rig.gates.open.set()
    await rig.handle()
    assert rig.smtp.count() == 1
    assert (await rig.record()).state == "sent"
    assert rig.msg.progress == 0


async def test_a_claim_aged_waiting_for_a_slot_is_renewed_before_sending(rig: Rig) -> None:
    task = rig.handle()
    await asyncio.wait_for(rig.gates.waiting.wait(), 10)
    rig.clock.advance(timedelta(seconds=LEASE / 4 + 1))
    renewed_at = rig.clock.now()
    rig.gates.open.set()
    await task
    assert rig.smtp.count() == 1
    assert rig.msg.progress == 1  # the work item's ack deadline was pushed back too
    record = await rig.record()
    assert (record.state, record.attempts) == ("sent", 1)
    assert record.updated_at >= renewed_at


async def test_a_claim_taken_over_while_waiting_for_a_slot_is_not_sent(rig: Rig) -> None:
    task = rig.handle()
    await asyncio.wait_for(rig.gates.waiting.wait(), 10)
    rig.clock.advance(timedelta(seconds=LEASE + 1))
    # Another replica finds the claim past its lease and takes the mail over.
    other = await rig.ledger.claim(rig.work, rig.clock.now())
    assert isinstance(other, Claim)
    rig.gates.open.set()
    with pytest.raises(Retry):
        await task
    assert rig.smtp.count() == 0
    assert rig.published == []
    record = await rig.record()
    assert (record.state, record.attempts) == ("sending", 2)  # the other replica's claim


async def test_a_cancel_before_the_transaction_leaves_the_claim_for_redelivery(
    rig: Rig,
) -> None:
    task = rig.handle()
    await asyncio.wait_for(rig.gates.waiting.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.smtp.count() == 0
    assert rig.published == []
    record = await rig.record()
    assert (record.state, record.attempts) == ("sending", 1)  # nothing released or ended


@pytest.fixture
def data_held(rig: Rig) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The sink stops after the final ``.`` until released (the mail is in its hands)."""
    entered, release = threading.Event(), threading.Event()

    def script(phase: str, rcpt: str) -> str | None:
        if phase == "data":
            entered.set()
            release.wait(30)
        return None

    rig.smtp.set_script(script)
    yield entered, release
    release.set()
    rig.smtp.set_script(None)


async def test_a_cancel_during_the_transaction_still_records_the_send(
    rig: Rig, data_held: tuple[threading.Event, threading.Event]
) -> None:
    entered, release = data_held
    rig.gates.open.set()
    task = rig.handle()
    assert await asyncio.to_thread(entered.wait, 30)
    task.cancel()  # SIGTERM past the grace: the relay is about to answer 250
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await rig.record()).state == "sent"  # a redelivery re-publishes, never resends
    assert rig.smtp.count() == 1


async def test_a_transaction_is_cut_at_its_overall_bound() -> None:
    """A relay that never greets: the exchange ends at ``within``, as a dropped connect."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    async with serving(silent) as port:
        pool = SmtpPool(SmtpConfig("127.0.0.1", port, timeout=300.0))
        async with pool.slot():
            reply = await pool.transmit("a@x.jp", ADDRESS, b"x", within=0.2)
    assert (reply.code, reply.command) == (DROPPED, "connect")
    assert "exceeded" in reply.text
