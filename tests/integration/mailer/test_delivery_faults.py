"""Delivery faults that must neither blame the patron nor send a mail twice.

- A relay refusing the *session* (greeting, EHLO) says nothing about the recipient: the
  mail is deferred (``cause=relay_refused``), never ``failed``; so is a relay whose TLS
  certificate does not verify (``cause=relay_tls_failed``), or that no longer offers the
  STARTTLS the settings require (``cause=relay_refused``); all are logged as errors.
- The ``sent`` write after the relay's 250 failing (broker timeout) is retried, not turned
  into a redelivery that resends after the lease.
- ``Ledger.abandon`` losing its compare-and-set still lets the caller dead-letter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.mailer.delivery import ledger as ledger_mod
from services.mailer.delivery.ledger import Claim, Ledger
from services.mailer.plan.claims import new_record
from services.mailer.plan.timing import RetrySchedule
from services.mailer.plan.work import prompt_work
from shared.contracts.ils import HoldCancelled
from shared.contracts.mail import MailOutcome
from shared.mailrecord import MailRecord
from tests.integration.mailer.conftest import Mailer, MailerFactory
from tests.integration.mailer.events import hold_cancelled
from tests.support.relays import Session, answering, serving
from tests.support.servers import free_port
from tests.support.smtp import RecordingSMTP
from tests.support.tls import Pki
from tests.support.tls import pki as pki  # the session-scoped test CA (a fixture)

DOMAIN = "plib.pref.aomori.lg.jp"
ADDRESS = "p1@docomo.ne.jp"
SENDER_LOG = "services.mailer.delivery.sender"


def cancelled_hold() -> HoldCancelled:
    return hold_cancelled("P1", ADDRESS, at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC), title="本")


async def ledger_records(mailer: Mailer) -> list[MailRecord]:
    kv = await mailer.js.key_value("mail_ledger")
    records = []
    for key in await kv.keys():
        entry = await kv.get(key)
        assert entry.value is not None
        records.append(MailRecord.model_validate_json(entry.value))
    return records


# -- the relay refuses the session ------------------------------------------------------


refuse_greeting = answering(b"554 5.3.2 Service currently unavailable\r\n")
refuse_ehlo = answering(
    b"220 relay ESMTP\r\n", default=b"554 5.7.1 Client host rejected: not authorised\r\n"
)
#: A relay whose sender policy refuses our envelope sender (MAIL FROM).
refuse_sender = answering(
    b"220 relay ESMTP\r\n",
    {
        b"EHLO": b"250 relay\r\n",
        b"MAIL": b"553 5.7.1 Sender address rejected: not owned by user\r\n",
    },
    default=b"503 5.5.1 Error: need MAIL command\r\n",
)


@pytest.fixture
async def relay_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    session: Session = request.param
    async with serving(session) as port:
        yield port


@pytest.mark.parametrize(
    ("relay_port", "command"),
    [(refuse_greeting, "connect"), (refuse_ehlo, "ehlo"), (refuse_sender, "mail")],
    indirect=["relay_port"],
    ids=["greeting", "ehlo", "sender"],
)
async def test_a_relay_refusing_the_session_defers_the_mail(
    mailer_factory: MailerFactory,
    relay_port: int,
    command: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger=SENDER_LOG)
    mailer = mailer_factory()
    mailer.settings = mailer.settings.model_copy(update={"smtp_port": relay_port})
    await mailer.start()
    await mailer.publish(cancelled_hold())
    await mailer.wait_outcomes(1, "deferred")
    first = (await mailer.outcomes())[0]
    assert (first.outcome, first.cause) == ("deferred", "relay_refused")
    assert first.smtp_command == command and first.smtp_code in (553, 554)
    assert first.next_attempt_at is not None
    assert await mailer.outcomes("failed") == []
    refused = [r for r in caplog.records if r.getMessage() == "mail.relay_refused"]
    assert refused and refused[0].levelno == logging.ERROR
    assert all("@" not in str(value) for value in vars(refused[0]).values())


async def _deferred_by_starttls_relay(
    mailer_factory: MailerFactory, **tls: Any
) -> tuple[MailOutcome, RecordingSMTP]:
    """The first outcome of a mail to a relay started with ``tls`` (aiosmtpd Controller
    arguments) by a mailer configured for STARTTLS, and the relay."""
    relay = RecordingSMTP()
    port = free_port()
    controller = Controller(relay.handler, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        mailer = mailer_factory()
        mailer.settings = mailer.settings.model_copy(
            update={"smtp_port": port, "smtp_tls": "starttls"}
        )
        await mailer.start()
        await mailer.publish(cancelled_hold())
        await mailer.wait_outcomes(1, "deferred")
    finally:
        controller.stop()
    return (await mailer.outcomes())[0], relay


def _relay_refused_logged(caplog: pytest.LogCaptureFixture) -> bool:
    refused = [r for r in caplog.records if r.getMessage() == "mail.relay_refused"]
    return bool(refused) and refused[0].levelno == logging.ERROR


async def test_a_relay_certificate_that_does_not_verify_defers_the_mail(
    mailer_factory: MailerFactory, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=SENDER_LOG)
    # A relay signed by a CA the mailer was not given (no OTAYORI_SMTP_CA_FILE).
    first, relay = await _deferred_by_starttls_relay(
        mailer_factory, tls_context=pki.server_context(), require_starttls=True
    )
    assert (first.cause, first.smtp_command) == ("relay_tls_failed", "connect")
    assert relay.received == []
    assert _relay_refused_logged(caplog)


async def test_a_relay_no_longer_offering_starttls_defers_with_an_ops_error(
    mailer_factory: MailerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=SENDER_LOG)
    first, relay = await _deferred_by_starttls_relay(mailer_factory)  # no STARTTLS offered
    assert (first.cause, first.smtp_command) == ("relay_refused", "connect")
    assert relay.received == []
    assert _relay_refused_logged(caplog)


# -- the ``sent`` write fails after the relay's 250 -------------------------------------


Finish = Callable[..., Any]


def patch_finish(monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Finish], Finish]) -> None:
    monkeypatch.setattr(ledger_mod.Ledger, "finish", wrap(ledger_mod.Ledger.finish))


async def assert_sent_once(mailer: Mailer) -> None:
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle("mailer-send")
    assert mailer.smtp.count() == 1
    assert len(await mailer.outcomes("sent")) == 1
    (record,) = await ledger_records(mailer)
    assert (record.state, record.attempts) == ("sent", 1)


async def test_a_sent_write_timing_out_is_retried_not_resent(
    mailer_factory: MailerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures: list[str] = []

    def wrap(real: Finish) -> Finish:
        async def flaky(self: Ledger, claim: Claim, state: str, now: datetime, **kw: Any) -> Any:
            if state == "sent" and not failures:
                failures.append(state)
                raise NatsTimeoutError  # the KV write after the 250 times out (a NATS blip)
            return await real(self, claim, state, now, **kw)

        return flaky

    patch_finish(monkeypatch, wrap)
    mailer = mailer_factory(claim_lease=4.0)
    await mailer.start()
    await mailer.publish(cancelled_hold())
    await assert_sent_once(mailer)
    assert failures == ["sent"]


async def test_a_sent_write_whose_answer_was_lost_is_written_again_once(
    mailer_factory: MailerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write landed but its ack was lost: the retry's CAS conflicts, ``put`` rewrites."""
    lost: list[int] = []

    def wrap(real: Finish) -> Finish:
        async def ack_lost(self: Ledger, claim: Claim, state: str, now: datetime, **kw: Any) -> Any:
            record = await real(self, claim, state, now, **kw)
            if state == "sent" and not lost:
                lost.append(claim.revision)
                raise NatsTimeoutError
            return record

        return ack_lost

    patch_finish(monkeypatch, wrap)
    mailer = mailer_factory(claim_lease=4.0)
    await mailer.start()
    await mailer.publish(cancelled_hold())
    await assert_sent_once(mailer)
    assert len(lost) == 1


async def test_a_sent_write_failing_past_the_lease_is_recorded_on_redelivery(
    mailer_factory: MailerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker stays away until the claim's lease ends: the handler gives up (the work
    item is redelivered) and the redelivery records ``sent`` without sending again."""
    gave_up = asyncio.Event()

    class GiveUpSeen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "mail.sent_unrecorded":
                gave_up.set()

    watcher = GiveUpSeen(level=logging.ERROR)
    logger = logging.getLogger("services.mailer.delivery.recording")
    logger.addHandler(watcher)
    attempts: list[str] = []

    def wrap(real: Finish) -> Finish:
        async def down(self: Ledger, claim: Claim, state: str, now: datetime, **kw: Any) -> Any:
            if state == "sent" and not gave_up.is_set():
                attempts.append(state)
                raise NatsTimeoutError
            return await real(self, claim, state, now, **kw)

        return down

    patch_finish(monkeypatch, wrap)
    try:
        mailer = mailer_factory(claim_lease=2.0)
        await mailer.start()
        await mailer.publish(cancelled_hold())
        await asyncio.wait_for(gave_up.wait(), 30)
        await assert_sent_once(mailer)
    finally:
        logger.removeHandler(watcher)
    assert len(attempts) > 1  # retried before giving up


# -- a compose error drops the claim even when the CAS delete conflicts -----------------


async def test_abandon_losing_its_compare_and_set_does_not_raise(js: JetStreamContext) -> None:
    kv = await js.key_value("mail_ledger")
    ledger = Ledger(kv, lease=120.0, schedule=RetrySchedule(), domain=DOMAIN)
    now = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    work = prompt_work(cancelled_hold(), recipient=ADDRESS, now=now)
    claim = await ledger.claim(work, now)
    assert isinstance(claim, Claim)
    stale = Claim(claim.record, claim.revision)
    # Another sender took the mail over meanwhile (its own write moves the revision on).
    taken = new_record(work, DOMAIN, now).model_copy(update={"attempts": 2})
    await kv.update(work.mail_id, taken.model_dump_json().encode(), last=claim.revision)

    await ledger.abandon(stale)  # nats-py raises a plain APIError here: mapped

    current, _ = await ledger.read(work.mail_id)
    assert current is not None and current.attempts == 2  # the other sender's claim stays
