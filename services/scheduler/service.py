"""Wiring of the scheduler service: adapters from the runtime into one ``Scheduler``."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Coroutine
from typing import Any

from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from shared.clock import Clock
from shared.runtime.service import Runtime

from .bus import ScheduleBus
from .calendar.holidays_jp import JapaneseHolidays
from .calendar_file import load_calendar_file
from .engine import Scheduler
from .lease import Lease
from .metrics import SchedulerMetrics
from .settings import SchedulerSettings
from .store import LEASE_BUCKET, ClosureStore, StateStore
from .triggers import build_calendar


def replica_id(settings: SchedulerSettings) -> str:
    if settings.scheduler_replica_id:
        return settings.scheduler_replica_id
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def build_scheduler(
    js: JetStreamContext, settings: SchedulerSettings, clock: Clock, registry: CollectorRegistry
) -> Scheduler:
    """The scheduler on these adapters (the service's, or a test's)."""
    closures = load_calendar_file(settings.scheduler_calendar_file)
    calendar = build_calendar(settings, closures, JapaneseHolidays())
    return Scheduler(
        calendar=calendar,
        state=await StateStore.open(js),
        closures=await ClosureStore.open(js),
        lease=Lease(await js.key_value(LEASE_BUCKET), replica_id(settings)),
        bus=ScheduleBus(js),
        clock=clock,
        metrics=SchedulerMetrics(registry),
        renew_interval=settings.scheduler_lease_renew,
    )


async def wire(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    settings = runtime.settings
    if not isinstance(settings, SchedulerSettings):
        raise TypeError("the scheduler needs SchedulerSettings")
    scheduler = await build_scheduler(runtime.js, settings, runtime.clock, runtime.metrics.registry)
    runtime.ready_when(lambda: scheduler.started)
    return [scheduler.run(runtime.stop)]
