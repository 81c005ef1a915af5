"""Every stream and KV bucket of the cluster, declared as code.

``otayori provision`` (and each service at start-up) applies these idempotently, so a k8s
Job can run the same thing. Durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY = 24 * 3600.0
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age: float
    duplicate_window: float
    description: str
    max_msg_size: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BucketSpec:
    name: str
    description: str
    history: int = 1
    ttl: float = 0.0  # 0: entries never expire
    max_value_size: int = 256 * 1024
    tags: tuple[str, ...] = field(default=())


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "ILS",
        ("ils.>",),
        max_age=60 * DAY,
        duplicate_window=2 * DAY,
        description="Events posted by the ILS (public subjects).",
    ),
    StreamSpec(
        "SCHEDULE",
        ("schedule.>",),
        max_age=120 * DAY,
        # Covers the scheduler's longest catch-up horizon: an occurrence re-fired after a
        # restart inside this window is stored once.
        duplicate_window=8 * DAY,
        description="Trigger occurrences, missed and suspended reports.",
    ),
    StreamSpec(
        "MAIL",
        ("mail.>",),
        max_age=400 * DAY,
        duplicate_window=2 * DAY,
        description="Mail work items and one outcome record per send attempt (Q14).",
    ),
    StreamSpec(
        "BOUNCE",
        ("bounce.>", "patron.>"),
        max_age=400 * DAY,
        duplicate_window=2 * DAY,
        description="Classified bounces and staff-queue events.",
    ),
    StreamSpec(
        "DEADLETTER",
        # The consume loop dead-letters at its own max_deliver; the server's limit (two
        # more) only bites when the last deliveries got no outcome at all (a crash loop;
        # a message waiting in hand is kept from redelivery by ``in_progress``).
        # The server then stops silently, so its advisory (stream, consumer, stream_seq of
        # the message, which stays in its stream) is kept here for ops to see and replay.
        ("deadletter.>", MAX_DELIVERIES_ADVISORY),
        max_age=90 * DAY,
        duplicate_window=2 * DAY,
        description="Messages that could not be handled, with the reason.",
        max_msg_size=2 * 1024 * 1024,
    ),
)

BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec("mail_ledger", "Mailer: one entry per mail business key (exactly-once).", history=1),
    BucketSpec("mail_pending", "Mailer: items collected per patron and batch/run until sent."),
    # 90 days: longer than the ILS stream keeps an event (60), so no reminder or ready
    # report of an ended loan or hold can be redelivered or replayed after its record.
    BucketSpec(
        "mail_returned",
        "Mailer: returned loans and cancelled holds (no reminder or ready mail for them).",
        ttl=90 * DAY,
    ),
    BucketSpec("suppressions", "Addresses not to be mailed (bad_address), by address."),
    BucketSpec("bounce_queue", "Staff bounce queue: one entry per flagged patron.", history=5),
    BucketSpec("bounce_addresses", "Address -> patron ids using it (families share)."),
    BucketSpec("bounce_seen", "Bounce ids already processed (idempotency).", ttl=30 * DAY),
    BucketSpec("schedule_state", "Scheduler: last fired occurrence per trigger, pauses."),
    BucketSpec("schedule_lease", "Scheduler: leader lease (TTL).", ttl=10.0),
    BucketSpec("schedule_closures", "Scheduler: closures added at runtime."),
)


def stream(name: str) -> StreamSpec:
    for spec in STREAMS:
        if spec.name == name:
            return spec
    raise KeyError(name)
