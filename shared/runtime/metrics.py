"""Prometheus metrics. One ``Metrics`` per process, each service adds its own families."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """The shared metric families; services register more on ``registry``."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.consumed = Counter(
            "otayori_messages_consumed_total",
            "Consumed messages by consumer and outcome (ack, retry, dead_letter).",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.up = Gauge(
            "otayori_service_ready", "1 when the service is ready.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
