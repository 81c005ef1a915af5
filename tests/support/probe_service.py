"""A minimal service on the shared runtime, for testing the runtime itself as a process.

It consumes ``ils.patron.email_changed`` with durable ``probe``. For each event it
announces ``probe.started`` (core NATS), then, when ``PROBE_HOLD`` is set, holds the
message until a ``probe.release`` message arrives, then announces ``probe.done`` and acks.
It logs the new address on purpose: the log redaction must mask it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Coroutine
from typing import Any

from shared.bus.consume import ConsumerSpec, Delivery
from shared.contracts.ils import PatronEmailChanged
from shared.runtime.service import Runtime, main
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


async def wire(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    release = asyncio.Event()
    hold = bool(os.environ.get("PROBE_HOLD"))

    async def on_release(_msg: object) -> None:
        release.set()

    await runtime.nc.subscribe("probe.release", cb=on_release)

    async def handle(event: PatronEmailChanged, delivery: Delivery) -> None:
        info = {"event_id": event.event_id, "delivered": delivery.num_delivered}
        await runtime.nc.publish("probe.started", json.dumps(info).encode())
        log.info("probe.handling", extra={"patron_id": event.patron_id, "to": event.new_email})
        if hold:
            await release.wait()
        await runtime.nc.publish("probe.done", json.dumps(info).encode())
        await runtime.nc.flush()

    spec = ConsumerSpec(
        stream="ILS",
        durable="probe",
        filter_subjects=("ils.patron.email_changed",),
        ack_wait=float(os.environ.get("PROBE_ACK_WAIT", "30")),
        batch=1,
    )
    return [runtime.consumer(spec, handle)]


if __name__ == "__main__":
    main("probe", CommonSettings, wire)
