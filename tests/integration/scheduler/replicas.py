"""In-process scheduler replicas on a real NATS server, each with its own connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from otayori.cli import build_parser
from services.scheduler.engine import Scheduler
from services.scheduler.records import TriggerState
from services.scheduler.service import build_scheduler
from services.scheduler.settings import SchedulerSettings
from services.scheduler.store import StateStore
from shared.clock import Clock
from shared.contracts.registry import decode
from tests.support.nats import stream_messages

CALENDAR = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"


@dataclass
class Replica:
    name: str
    nc: Client
    scheduler: Scheduler
    registry: CollectorRegistry
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def leading(self) -> bool:
        return self.scheduler.leading and not self.task.done()

    def fired(self, trigger: str) -> float:
        sample = self.registry.get_sample_value(
            "otayori_scheduler_fired_total", {"trigger": trigger}
        )
        return sample or 0.0

    async def crash(self) -> None:
        """Die without releasing the lease (like kill -9): the lease must expire."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.nc.close()

    async def shutdown(self) -> None:
        """Graceful stop: the lease is released."""
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.nc.close()


async def start_replica(
    url: str,
    name: str,
    clock: Clock,
    *,
    patch: Callable[[Scheduler], None] | None = None,
    **overrides: Any,
) -> Replica:
    settings = SchedulerSettings.model_validate(
        {
            "nats_url": url,
            "scheduler_calendar_file": CALENDAR,
            "scheduler_replica_id": name,
            "scheduler_lease_renew": 0.5,
            **overrides,
        }
    )
    nc = await nats.connect(url)
    registry = CollectorRegistry()
    scheduler = await build_scheduler(nc.jetstream(), settings, clock, registry)
    if patch is not None:
        patch(scheduler)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop), name=f"scheduler-{name}")
    return Replica(name, nc, scheduler, registry, stop, task)


async def schedule_events(js: JetStreamContext, subject: str = "schedule.>") -> list[Any]:
    """Every event in the SCHEDULE stream, decoded with its contract."""
    messages: list[Any] = await stream_messages(js, "SCHEDULE", subject)
    return [decode(m.subject, m.data) for m in messages]


async def fired_ids(js: JetStreamContext) -> list[str]:
    return [e.occurrence_id for e in await schedule_events(js, "schedule.fired.>")]


async def state_of(js: JetStreamContext, trigger: str) -> TriggerState | None:
    found = await (await StateStore.open(js)).get(trigger)
    return found[0] if found else None


async def all_initialised(js: JetStreamContext, triggers: tuple[str, ...]) -> bool:
    return all([await state_of(js, t) is not None for t in triggers])


async def run_cli(argv: list[str]) -> int:
    """``otayori ARGV`` in this process (its settings from the environment): exit code."""
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(await result if asyncio.iscoroutine(result) else result)
