"""``otayori provision`` and ``otayori publish``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nats.errors import Error as NatsError
from nats.js.errors import NoStreamResponseError
from pydantic import ValidationError

from shared.bus.connect import connect_once
from shared.bus.consume import validation_lines
from shared.bus.provision import provision
from shared.bus.publish import publish
from shared.contracts.registry import channel_for
from shared.runtime.logging import mask_url
from shared.settings import CommonSettings, load_settings


def register(sub: Any) -> None:
    p = sub.add_parser("provision", help="create or update every stream and KV bucket")
    p.set_defaults(func=_provision)
    p = sub.add_parser(
        "publish",
        help="validate an event against its subject's contract and publish it",
        description="Publishes with the event's event_id as Nats-Msg-Id (re-publishing is safe).",
    )
    p.add_argument("subject", help="e.g. ils.loan.online_issued")
    p.add_argument("file", help="JSON file with the event, or - for standard input")
    p.add_argument("--dry-run", action="store_true", help="validate only")
    p.set_defaults(func=_publish)


#: NATS unreachable, or it failed a request (a malformed URL is a NatsError too).
BUS_ERRORS = (OSError, TimeoutError, NatsError)


def _detail(exc: Exception) -> str:
    return mask_url(f"{type(exc).__name__} {exc}".strip())


def _unreachable(settings: CommonSettings, exc: Exception) -> int:
    url = mask_url(settings.nats_url)
    print(f"otayori: cannot reach NATS at {url}: {_detail(exc)}", file=sys.stderr)
    return 3


async def _provision(args: argparse.Namespace) -> int:
    settings = load_settings(CommonSettings)
    try:
        nc = await connect_once(settings, name="otayori-cli")
    except BUS_ERRORS as exc:
        return _unreachable(settings, exc)
    try:
        done = await provision(nc.jetstream(), settings.nats_replicas)
    except BUS_ERRORS as exc:
        print(f"otayori provision: failed: {_detail(exc)}", file=sys.stderr)
        return 1
    finally:
        await nc.close()
    for kind, name, action in done:  # printed outside the try: a broken pipe is no NATS error
        print(f"{kind}\t{name}\t{action}")
    return 0


def read_payload(file: str) -> bytes:
    return sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()


async def _publish(args: argparse.Namespace) -> int:
    try:
        channel = channel_for(args.subject)
        payload = read_payload(args.file)
    except (LookupError, OSError) as exc:
        print(f"otayori publish: {exc}", file=sys.stderr)
        return 2
    try:
        event = channel.model.model_validate_json(payload)
    except ValidationError as exc:
        print(f"otayori publish: invalid {channel.model.__name__} event:", file=sys.stderr)
        for line in validation_lines(exc):
            print(f"  {line}", file=sys.stderr)
        return 1
    if event.subject() != args.subject:
        print(
            f"otayori publish: this event belongs on {event.subject()}, not {args.subject}",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        print(f"valid\t{args.subject}\t{event.event_id}")
        return 0
    settings = load_settings(CommonSettings)
    try:
        nc = await connect_once(settings, name="otayori-cli")
    except BUS_ERRORS as exc:
        return _unreachable(settings, exc)
    try:
        ack = await publish(nc.jetstream(), event)
    except NoStreamResponseError:
        print(
            f"otayori publish: no stream stores {args.subject} yet: run `otayori provision`",
            file=sys.stderr,
        )
        return 1
    except BUS_ERRORS as exc:
        print(
            f"otayori publish: NATS did not store {event.event_id} ({_detail(exc)}); "
            "publishing it again is safe",
            file=sys.stderr,
        )
        return 3
    finally:
        await nc.close()
    state = "duplicate" if ack.duplicate else "published"
    print(f"{state}\t{args.subject}\t{event.event_id}\t{ack.stream}:{ack.seq}")
    return 0
