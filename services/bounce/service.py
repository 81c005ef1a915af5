"""Wiring of the bounce service: adapters from the runtime, loops returned to ``run``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from nats.errors import Error as NatsError

from services.bounce.digest import DigestHandler
from services.bounce.mailbox.reader import MailboxReader, ReaderConfig
from services.bounce.metrics import BounceMetrics
from services.bounce.outcomes import recent_outcomes
from services.bounce.patrons import ILS_SUBJECTS, PatronEvents
from services.bounce.processor import BounceProcessor
from services.bounce.queue import Policy
from services.bounce.settings import BounceSettings
from services.bounce.staff_api import StaffActions, serve_staff_api
from services.bounce.stores import Stores
from shared.bus.consume import ConsumerSpec, Delivery
from shared.contracts.mail import MailOutcome
from shared.contracts.staff import MailOutcomeLine
from shared.runtime.service import Runtime

log = logging.getLogger(__name__)

ILS_CONSUMER = ConsumerSpec("ILS", "bounce-ils", ILS_SUBJECTS)
FAILED_CONSUMER = ConsumerSpec("MAIL", "bounce-mail-failed", ("mail.outcome.failed",))
DIGEST_CONSUMER = ConsumerSpec(
    "SCHEDULE", "bounce-digest", ("schedule.fired.weekly-bounce-digest",)
)


def reader_config(s: BounceSettings) -> ReaderConfig:
    return ReaderConfig(
        host=s.imap_host,
        port=s.imap_port,
        username=s.imap_username,
        password=s.imap_password.get_secret_value(),
        mailbox=s.imap_mailbox,
        tls=s.imap_tls == "tls",
        ca_file=str(s.imap_ca_file) if s.imap_ca_file else None,
        processed=s.imap_processed_folder,
        quarantine=s.imap_quarantine_folder,
        poll_interval=s.imap_poll_interval,
        idle_timeout=s.imap_idle_timeout,
        timeout=s.imap_timeout,
        backoff_initial=s.imap_backoff_initial,
        backoff_max=s.imap_backoff_max,
    )


def settings_of(runtime: Runtime) -> BounceSettings:
    settings = runtime.settings
    if not isinstance(settings, BounceSettings):
        raise TypeError("the bounce service needs BounceSettings")
    return settings


async def wire(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Build the bounce service from the runtime; returns its loops."""
    s = settings_of(runtime)
    stores = await Stores.open(runtime.js)
    metrics = BounceMetrics(runtime.metrics.registry)
    policy = Policy(s.soft_repeat_threshold, timedelta(days=s.soft_repeat_window_days))
    processor = BounceProcessor(
        stores, runtime.publish, metrics, runtime.clock,
        key=s.verp_key, domain=s.mail_domain, policy=policy, max_bytes=s.max_message_bytes,
        poison_after=s.imap_poison_attempts,
    )  # fmt: skip
    patrons = PatronEvents(stores, runtime.publish, runtime.clock)
    digest = DigestHandler(stores, runtime.publish, s.digest_oldest_count)

    async def outcomes(patron_id: str) -> list[MailOutcomeLine]:
        since = runtime.clock.now() - timedelta(days=s.outcome_lookback_days)
        return await recent_outcomes(runtime.js, patron_id, since)

    async def on_failed(event: MailOutcome, delivery: Delivery) -> None:
        await processor.handle_smtp_failure(event)

    actions = StaffActions(stores, runtime.publish, runtime.clock, outcomes)
    loops: list[Coroutine[Any, Any, None]] = [
        runtime.consumer(ILS_CONSUMER, patrons.handle),
        runtime.consumer(FAILED_CONSUMER, on_failed),
        runtime.consumer(DIGEST_CONSUMER, digest.handle),
        serve_staff_api(runtime.nc, actions, runtime.stop),
        _refresh_gauges(stores, metrics, runtime.stop, s.metrics_refresh_interval),
    ]
    if s.imap_enabled:
        reader = MailboxReader(reader_config(s), processor.handle_message, metrics, runtime.stop)
        loops.append(reader.run())
    return loops


async def _refresh_gauges(
    stores: Stores, metrics: BounceMetrics, stop: asyncio.Event, interval: float
) -> None:
    """Queue size by status, recomputed every ``interval`` seconds."""
    while not stop.is_set():
        try:
            metrics.set_queue(await stores.queue.values())
        except (TimeoutError, NatsError) as exc:
            log.warning("bounce.gauge_refresh_failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
