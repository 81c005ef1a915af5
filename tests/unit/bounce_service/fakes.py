"""In-memory stand-ins for the KV buckets and the publisher (unit tests: no sockets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from services.bounce.metrics import BounceMetrics
from services.bounce.processor import BounceProcessor
from services.bounce.queue import Policy
from services.bounce.stores import AddressPatrons, Bucket, SeenBounce, Stores
from shared.clock import ManualClock
from shared.contracts.base import Event
from shared.contracts.staff import QueueEntry
from shared.mailrecord import MailRecord, Suppression
from tests.support.fakekv import FakeKV

KEY = b"unit-test-verp-secret"
DOMAIN = "plib.pref.aomori.lg.jp"
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def fake_stores() -> Stores:
    return Stores(
        Bucket(FakeKV(), MailRecord, "mail_ledger"),  # type: ignore[arg-type]
        Bucket(FakeKV(), AddressPatrons, "bounce_addresses"),  # type: ignore[arg-type]
        Bucket(FakeKV(), QueueEntry, "bounce_queue"),  # type: ignore[arg-type]
        Bucket(FakeKV(), Suppression, "suppressions"),  # type: ignore[arg-type]
        Bucket(FakeKV(), SeenBounce, "bounce_seen"),  # type: ignore[arg-type]
    )


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def subjects(self) -> list[str]:
        return [e.subject() for e in self.events]

    def of(self, cls: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, cls)]


@dataclass
class World:
    stores: Stores
    publish: Recorder
    clock: ManualClock
    processor: BounceProcessor
    metrics: BounceMetrics


def world(policy: Policy | None = None) -> World:
    stores = fake_stores()
    rec = Recorder()
    clock = ManualClock(T0)
    metrics = BounceMetrics(CollectorRegistry())
    proc = BounceProcessor(
        stores,
        rec,
        metrics,
        clock,
        key=KEY,
        domain=DOMAIN,
        policy=policy or Policy(),
        max_bytes=5_000_000,
    )
    return World(stores, rec, clock, proc, metrics)
