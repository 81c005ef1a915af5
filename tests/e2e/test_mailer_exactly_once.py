"""Exactly once under kill -9: a 2,000-mail Saturday batch, the mailer (a process) killed
with SIGKILL three times mid-batch and restarted, a second replica running for part of it.
The SMTP server must receive every mail exactly once (counted by Message-ID).

Kills are triggered from observed progress (the sink's count), never from sleeps. Before
each kill the sink briefly answers DATA with ``451`` ("gate closed") and the test waits
until every accepted mail has its ``sent`` record: the kill then lands with work items,
ledger claims and SMTP transactions in flight, but outside the unavoidable window between
the server's 250 and the ledger write (docs/mailer.md, "Exactly once"), which no SMTP
client can close.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from services.mailer.plan.keys import key_and_id
from shared.bus.provision import provision
from shared.clock import JST
from shared.contracts.ils import LoanItem, LoanOnlineIssued
from shared.contracts.schedule import BatchWindow, TriggerFired
from shared.mailrecord import message_id_for
from tests.support.nats import NatsServer, wait_for
from tests.support.procs import ServiceProcess, start_service
from tests.support.smtp import RecordingSMTP

pytestmark = pytest.mark.slow

MAILS = 2000
KILL_AT = (300, 900, 1500)
BATCH = BatchWindow(
    thursday=date(2026, 12, 3), pickup_start=date(2026, 12, 6), pickup_deadline=date(2026, 12, 13)
)
SATURDAY = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
DOMAIN = "plib.pref.aomori.lg.jp"


def _event(n: int) -> LoanOnlineIssued:
    return LoanOnlineIssued(
        event_id=f"e2e-{n:06d}",
        occurred_at=datetime(2026, 12, 3, 11, 0, tzinfo=JST),
        patron_id=f"P{n:06d}",
        email=f"patron{n}@example.jp",
        batch_thursday=BATCH.thursday,
        pickup_library_no=17,
        items=[
            LoanItem(
                loan_id=f"L{n}", item_id=f"1{n:09d}", title=f"資料{n}", due_date=date(2026, 12, 20)
            )
        ],
    )


class Gate:
    """While closed, the sink answers DATA with 451 (nothing is accepted)."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def script(self, phase: str, rcpt: str) -> str | None:
        if phase == "data" and self.closed.is_set():
            return "451 4.3.0 gate closed, try again later"
        return None


async def _sent_outcomes(js: JetStreamContext) -> int:
    info = await js.stream_info("MAIL", subjects_filter="mail.outcome.sent")
    return sum((info.state.subjects or {}).values())


async def _send_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info("MAIL", "mailer-send")
    return info.num_pending == 0 and info.num_ack_pending == 0


def _env(nats_url: str, smtp_port: int) -> dict[str, str]:
    return {
        "OTAYORI_NATS_URL": nats_url,
        "OTAYORI_SMTP_HOST": "127.0.0.1",
        "OTAYORI_SMTP_PORT": str(smtp_port),
        "OTAYORI_CLOCK_START": SATURDAY.isoformat(),
        "OTAYORI_LOG_LEVEL": "WARNING",
        "OTAYORI_RETRY_BASE": "0.3",
        "OTAYORI_RETRY_FACTOR": "1.0",
        "OTAYORI_RETRY_MAX": "0.3",
        # The SMTP transaction is cut at half the lease: at 3 s, a CI machine busy with two
        # mailers, the sink and the server sometimes held an exchange past 1.5 s, the
        # relay's late 250 then counted as a dropped line (the documented window) and the
        # round never settled. 12 s keeps takeovers after a kill quick enough.
        "OTAYORI_CLAIM_LEASE": "12",
        "OTAYORI_SEND_ACK_WAIT": "5",
        "OTAYORI_TRIGGER_ACK_WAIT": "5",
    }


async def test_every_mail_arrives_exactly_once_despite_kill_9_and_two_replicas(
    fresh_nats: NatsServer, smtp_server: RecordingSMTP, tmp_path: Path
) -> None:
    gate = Gate()
    smtp_server.set_script(gate.script)
    env = _env(fresh_nats.url, smtp_server.port)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await provision(js)
    loop = asyncio.get_running_loop()

    def start(tag: str) -> ServiceProcess:
        return start_service("mailer", env, tmp_path, tag=tag)

    primary = await loop.run_in_executor(None, start, "-a0")
    events = [_event(n) for n in range(MAILS)]
    for e in events:
        await js.publish(
            e.subject(), e.model_dump_json().encode(), headers={"Nats-Msg-Id": e.event_id}
        )

    async def collected() -> bool:
        info = await js.consumer_info("ILS", "mailer-ils")
        return info.num_pending == 0 and info.num_ack_pending == 0

    await wait_for(collected, timeout=60)
    trigger = TriggerFired(
        event_id="weekly-loan-mail:e2e",
        occurred_at=SATURDAY,
        trigger="weekly-loan-mail",
        occurrence_id="weekly-loan-mail:e2e",
        nominal_time=SATURDAY,
        run_date=SATURDAY.date(),
        batch=BATCH,
    )
    await js.publish(
        trigger.subject(),
        trigger.model_dump_json().encode(),
        headers={"Nats-Msg-Id": trigger.event_id},
    )

    replica: ServiceProcess | None = None
    for round_no, threshold in enumerate(KILL_AT):
        await wait_for(lambda t=threshold: smtp_server.count() >= t, timeout=120)
        gate.closed.set()

        async def recorded() -> bool:
            return await _sent_outcomes(js) >= smtp_server.count()

        await wait_for(recorded, timeout=30)
        primary.kill()
        if replica is not None:
            replica.kill()
            replica = None
        gate.closed.clear()
        primary = await loop.run_in_executor(None, start, f"-a{round_no + 1}")
        if round_no == 0:
            replica = await loop.run_in_executor(None, start, "-b")

    await wait_for(lambda: smtp_server.count() >= MAILS, timeout=180)
    await wait_for(lambda: _send_idle(js), timeout=60)
    primary.terminate()
    if replica is not None:
        replica.terminate()
    await nc.close()

    received = Counter(r.message_id for r in smtp_server.received)
    expected = {
        message_id_for(key_and_id("online_loan", e.patron_id, BATCH.batch_id, [e])[1], DOMAIN)
        for e in events
    }
    duplicates = {m: c for m, c in received.items() if c > 1}
    assert not duplicates, f"{len(duplicates)} mails arrived more than once"
    assert set(received) == expected, f"{len(expected - set(received))} mails missing"
