"""The mailer in-process against a real nats-server and a real aiosmtpd sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError

from services.mailer.plan.model import PendingEntry
from services.mailer.service import wire
from services.mailer.settings import MailerSettings
from shared.bus.publish import publish
from shared.clock import JST
from shared.contracts.base import Event
from shared.contracts.deadletter import DeadLetter
from shared.contracts.mail import MailOutcome
from shared.runtime.service import run
from tests.support.nats import NatsServer, stream_messages, wait_for
from tests.support.smtp import RecordingSMTP

#: The mailer's clock in these tests: Saturday 2026-12-05 09:00 JST (the weekly mail run).
SATURDAY = datetime(2026, 12, 5, 9, 0, tzinfo=JST)


@dataclass
class Mailer:
    js: JetStreamContext
    smtp: RecordingSMTP
    settings: MailerSettings
    stop: asyncio.Event
    task: asyncio.Task[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def publish(self, *events: Event) -> None:
        for event in events:
            await publish(self.js, event)

    async def outcomes(self, outcome: str = "*") -> list[MailOutcome]:
        msgs = await stream_messages(self.js, "MAIL", f"mail.outcome.{outcome}")
        return [MailOutcome.model_validate_json(m.data) for m in msgs]  # type: ignore[attr-defined]

    async def dead_letters(self) -> list[DeadLetter]:
        msgs = await stream_messages(self.js, "DEADLETTER", "deadletter.mailer.>")
        return [DeadLetter.model_validate_json(m.data) for m in msgs]  # type: ignore[attr-defined]

    async def wait_outcomes(self, n: int, outcome: str = "*", timeout: float = 20.0) -> None:
        async def enough() -> bool:
            return len(await self.outcomes(outcome)) >= n

        await wait_for(enough, timeout=timeout)

    async def pending_keys(self, pattern: str = ">") -> set[str]:
        kv = await self.js.key_value("mail_pending")
        try:
            return set(await kv.keys(filters=[pattern] if pattern != ">" else None))
        except NoKeysError:
            return set()

    async def pending_events(self, key: str) -> int:
        kv = await self.js.key_value("mail_pending")
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return 0
        return len(PendingEntry.model_validate_json(entry.value or b"{}").events)

    async def wait_pending(self, key: str, events: int) -> None:
        async def there() -> bool:
            return await self.pending_events(key) >= events

        await wait_for(there)

    async def wait_idle(self, *durables: str) -> None:
        """Every listed consumer has handled (acked or termed) all its messages."""
        names = durables or ("mailer-ils", "mailer-triggers", "mailer-send")
        streams = {
            "mailer-ils": "ILS",
            "mailer-triggers": "SCHEDULE",
            "mailer-send": "MAIL",
            "mailer-digest": "BOUNCE",
        }

        async def idle() -> bool:
            for name in names:
                try:
                    info = await self.js.consumer_info(streams[name], name)
                except NotFoundError:
                    return False
                if info.num_pending or info.num_ack_pending:
                    return False
            return True

        await wait_for(idle, timeout=20)

    async def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run("mailer", self.settings, wire, self.stop))

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            assert await asyncio.wait_for(self.task, 30) == 0
            self.task = None


def mailer_settings(nats_url: str, smtp_port: int, **overrides: Any) -> MailerSettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "http_port": 0,
        "http_host": "127.0.0.1",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "clock_start": SATURDAY,
        "retry_base": 0.2,
        "retry_factor": 1.0,
        "retry_max": 0.2,
        "shutdown_grace": 5.0,
        **overrides,
    }
    return MailerSettings(**values)


MailerFactory = Callable[..., Mailer]


@pytest.fixture
async def mailer_factory(
    fresh_nats: NatsServer, nc: Client, smtp_server: RecordingSMTP
) -> AsyncIterator[MailerFactory]:
    made: list[Mailer] = []

    def make(**overrides: Any) -> Mailer:
        settings = mailer_settings(fresh_nats.url, smtp_server.port, **overrides)
        m = Mailer(nc.jetstream(), smtp_server, settings, asyncio.Event())
        made.append(m)
        return m

    yield make
    for m in made:
        await m.halt()


@pytest.fixture
async def mailer(mailer_factory: MailerFactory) -> Mailer:
    m = mailer_factory()
    await m.start()
    return m
