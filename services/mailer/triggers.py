"""The runs' consumers: one durable per kind of run, one trigger in hand at a time each.

A run marks the entries it takes and releases them once its mails are published; a mark it
finds from another run of its kind counts as that run's failure (free again). Two runs of
one kind side by side (a past day fired by hand while today's run is on) would each take
the other's marks and mail the same items twice, so each kind has its own durable consumer
with ``max_ack_pending`` 1: the server hands out the kind's next trigger, to whichever
replica, only once the one in hand is acked or dead-lettered. Kinds never share entries
(``plan/keys.py``), so a run failing again and again holds up only its own kind, never
another's (the Saturday mail does not wait behind a failing overdue run).

Until 2026-11-30 one durable, ``mailer-triggers``, took all three kinds. A kind's durable
created where that one exists starts after its ack floor, so no trigger is lost or run
again in the move; the old durable is left alone (a replica of the previous version may
still read it during a rolling update) and can be removed once none does:
``nats consumer rm SCHEDULE mailer-triggers``.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from services.mailer.settings import MailerSettings
from shared.bus.consume import ConsumerSpec
from shared.contracts.schedule import TriggerFired, TriggerName

STREAM = "SCHEDULE"
#: The triggers the mailer runs on, each with its own durable consumer.
RUN_TRIGGERS: tuple[TriggerName, ...] = ("weekly-loan-mail", "daily-hold-ready", "daily-overdue")
#: The durable all three kinds shared before (see the module's docstring).
LEGACY_DURABLE = "mailer-triggers"


def durable_of(trigger: TriggerName) -> str:
    return f"mailer-run-{trigger}"


RUN_DURABLES = tuple(durable_of(t) for t in RUN_TRIGGERS)


async def run_consumers(js: JetStreamContext, s: MailerSettings) -> list[ConsumerSpec]:
    """The consumer of each kind of run, starting where its triggers were left."""
    legacy = await _ack_floor(js, LEGACY_DURABLE)
    return [
        ConsumerSpec(
            STREAM,
            durable_of(trigger),
            (f"{TriggerFired.SUBJECT}.{trigger}",),
            ack_wait=s.trigger_ack_wait,
            max_ack_pending=1,
            start_seq=await _start_of(js, durable_of(trigger), legacy),
        )
        for trigger in RUN_TRIGGERS
    ]


async def _ack_floor(js: JetStreamContext, durable: str) -> int | None:
    """The last stream sequence ``durable`` acked with all before it; None without it."""
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return None
    return info.ack_floor.stream_seq if info.ack_floor else 0


async def _start_of(js: JetStreamContext, durable: str, legacy: int | None) -> int | None:
    """Where ``durable`` starts: as it was created if it exists (a consumer's start cannot
    change), else after the legacy durable's ack floor, else the stream's beginning."""
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return None if legacy is None else legacy + 1
    config = info.config
    if config.deliver_policy == DeliverPolicy.BY_START_SEQUENCE and config.opt_start_seq:
        return int(config.opt_start_seq)
    return None
