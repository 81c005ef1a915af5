"""A patron's recent mail outcomes, read from the MAIL stream (``mail.outcome.*``)."""

from __future__ import annotations

from datetime import datetime

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from shared.contracts.mail import MailOutcome
from shared.contracts.staff import MailOutcomeLine

_BATCH = 256
_MAX_SCAN = 50_000


def _line(o: MailOutcome) -> MailOutcomeLine:
    return MailOutcomeLine(
        occurred_at=o.occurred_at,
        kind=o.kind,
        outcome=o.outcome,
        cause=o.cause,
        detail=o.detail,
        smtp_code=o.smtp_code,
        message_id=o.message_id,
        carrier_group=o.carrier_group,
    )


async def recent_outcomes(
    js: JetStreamContext, patron_id: str, since: datetime, limit: int = 20
) -> list[MailOutcomeLine]:
    """The patron's outcomes since ``since``, newest first (at most ``limit``)."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
    )
    sub = await js.pull_subscribe("mail.outcome.*", stream="MAIL", config=config)
    found: list[MailOutcomeLine] = []
    scanned = 0
    try:
        while scanned < _MAX_SCAN:
            try:
                msgs = await sub.fetch(_BATCH, timeout=0.5)
            except NatsTimeoutError:
                break
            scanned += len(msgs)
            for msg in msgs:
                try:
                    outcome = MailOutcome.model_validate_json(msg.data)
                except ValidationError:
                    continue  # not ours to judge here: the consumers dead-letter it
                if outcome.patron_id == patron_id:
                    found.append(_line(outcome))
            if not msgs or msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return sorted(found, key=lambda o: o.occurred_at, reverse=True)[:limit]
