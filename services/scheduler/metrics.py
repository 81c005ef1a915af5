"""The scheduler's metric families (registered on the runtime's registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fired = Counter(
            "otayori_scheduler_fired_total",
            "Occurrences fired (published) by this replica, by trigger.",
            ["trigger"],
            registry=registry,
        )
        self.coalesced = Counter(
            "otayori_scheduler_coalesced_total",
            "Due occurrences folded into a single late fire, by trigger.",
            ["trigger"],
            registry=registry,
        )
        self.skipped = Counter(
            "otayori_scheduler_skipped_total",
            "Occurrences not fired on purpose, by trigger and reason (paused, closed, suspended).",
            ["trigger", "reason"],
            registry=registry,
        )
        self.missed = Counter(
            "otayori_scheduler_missed_total",
            "Occurrences found outside their grace window and reported missed, by trigger.",
            ["trigger"],
            registry=registry,
        )
        self.leader = Gauge(
            "otayori_scheduler_leader",
            "1 while this replica holds the leader lease, else 0.",
            registry=registry,
        )
