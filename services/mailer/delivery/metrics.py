"""The mailer's Prometheus families, registered on the runtime's registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.contracts.mail import CarrierGroup, MailKind, OutcomeName


class MailerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "otayori_mail_outcomes_total",
            "Send attempts by mail kind, carrier group and outcome.",
            ["kind", "carrier_group", "outcome"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "otayori_mail_send_seconds",
            "Duration of one SMTP transaction (connection wait included), by carrier group.",
            ["carrier_group"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.handed_off = Counter(
            "otayori_mail_handed_off_total",
            "Mails of a chunk handed off as their own work item (deferred, claimed by"
            " another sender, refused or failed), by mail kind.",
            ["kind"],
            registry=registry,
        )
        self.work_items = Counter(
            "otayori_mail_work_items_total",
            "Mail work items published by the collecting side, by kind.",
            ["kind"],
            registry=registry,
        )

        # ``labels()`` validates and looks up its arguments on every call; the label sets
        # are few (kinds × groups × outcomes), so each child is looked up once.
        self._outcome: dict[tuple[str, str, str], Any] = {}
        self._seconds: dict[str, Any] = {}

    def outcome(self, kind: MailKind, group: CarrierGroup, outcome: OutcomeName) -> None:
        key = (kind, group, outcome)
        child = self._outcome.get(key)
        if child is None:
            child = self._outcome[key] = self.outcomes.labels(
                kind=kind, carrier_group=group, outcome=outcome
            )
        child.inc()

    def observe_send(self, group: CarrierGroup, seconds: float) -> None:
        child = self._seconds.get(group)
        if child is None:
            child = self._seconds[group] = self.send_seconds.labels(carrier_group=group)
        child.observe(seconds)
