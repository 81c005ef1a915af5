"""The bounce service's Prometheus families, registered on the runtime's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.contracts.staff import QueueEntry


class BounceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.bounces = Counter(
            "otayori_bounces_total",
            "Classified failed recipients by category and carrier group.",
            ["category", "carrier_group", "source"],
            registry=registry,
        )
        self.complaints = Counter(
            "otayori_bounce_complaints_total",
            "Complaint (ARF feedback) reports received.",
            registry=registry,
        )
        self.sender_side = Counter(
            "otayori_bounce_sender_side_alerts_total",
            "Bounces blaming our own mail or server: ops must look (never flags a patron).",
            ["carrier_group"],
            registry=registry,
        )
        self.messages = Counter(
            "otayori_bounce_messages_total",
            "Mailbox messages handled, by disposition (processed, quarantine, duplicate, poison).",
            ["disposition"],
            registry=registry,
        )
        self.verp_forged = Counter(
            "otayori_bounce_verp_forged_total",
            "Failed recipients whose VERP token did not verify (forged or old secret): no flag.",
            registry=registry,
        )
        self.address_moved = Counter(
            "otayori_bounce_moved_address_total",
            "Bounces for an address the patron has changed since: evidence only, no flag.",
            registry=registry,
        )
        self.flags = Counter(
            "otayori_bounce_flags_total",
            "Patrons put into the staff queue, by category.",
            ["category"],
            registry=registry,
        )
        self.queue_size = Gauge(
            "otayori_bounce_queue_size",
            "Entries of the staff bounce queue by status.",
            ["status"],
            registry=registry,
        )
        self.imap_last_poll = Gauge(
            "otayori_bounce_imap_last_poll_timestamp_seconds",
            "Unix time of the last successful look at the bounce mailbox.",
            registry=registry,
        )
        self.imap_oldest_age = Gauge(
            "otayori_bounce_imap_oldest_unprocessed_age_seconds",
            "Age of the oldest message waiting in the bounce mailbox (0 when empty).",
            registry=registry,
        )
        self.imap_connected = Gauge(
            "otayori_bounce_imap_connected", "1 while logged in to IMAP.", registry=registry
        )
        self.imap_reconnects = Counter(
            "otayori_bounce_imap_reconnects_total",
            "IMAP sessions lost and retried, by error type.",
            ["error"],
            registry=registry,
        )

    def set_queue(self, entries: list[QueueEntry]) -> None:
        for status in ("open", "contacted", "resolved"):
            self.queue_size.labels(status=status).set(sum(1 for e in entries if e.status == status))
