"""Command-line sub-commands of this service (registered by ``otayori.cli``).

``otayori preview KIND FILE`` renders a mail from event JSON without sending anything:
staff and template authors check wording and dates; ``--raw`` shows the wire bytes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from services.mailer.compose import (
    EVENT_TYPES,
    Envelope,
    compose,
)
from services.mailer.compose.dates import JST, jst_date
from services.mailer.compose.preview import batch_window_for, decoded_text
from services.mailer.errors import InvalidAddress, MailerError, PreviewInputError
from services.mailer.settings import MailerSettings
from shared.contracts.base import Event
from shared.contracts.ils import LoanOnlineIssued
from shared.contracts.mail import MailKind
from shared.mailrecord import mail_id_for, message_id_for

MAIL_KINDS: tuple[str, ...] = get_args(MailKind)


def register(sub: Any) -> None:
    """Add this service's sub-commands to the ``otayori`` parser."""
    parser = sub.add_parser(
        "preview",
        help="render a mail from event JSON and print it (sends nothing)",
        description="Render a mail from one event (or a JSON array of events) and print it.",
    )
    parser.add_argument("kind", choices=MAIL_KINDS, help="the mail kind")
    parser.add_argument("file", help="event JSON file, a JSON array of events, or - for stdin")
    parser.add_argument("--raw", action="store_true", help="print the wire bytes instead")
    parser.add_argument(
        "--iso-2022-jp",
        dest="iso2022jp",
        action="store_true",
        help="encode as for a domain listed for ISO-2022-JP",
    )
    parser.add_argument(
        "--to",
        help="recipient (default: the event's email; for the digest, the staff address"
        " of OTAYORI_STAFF_DIGEST_ADDRESS)",
    )
    parser.add_argument(
        "--from-addr",
        help="From address (default: the mailer's own, from its OTAYORI_MAIL_* settings)",
    )
    parser.add_argument(
        "--at",
        type=_aware_datetime,
        help="the mail's date, e.g. 2026-12-05T09:00:00+09:00 (default: now)",
    )
    parser.set_defaults(func=preview_command)


def preview_command(args: argparse.Namespace) -> int:
    try:
        events = parse_events(args.kind, _read(args.file))
        data = _compose(args, events)
    except InvalidAddress as exc:
        print(f"preview: invalid recipient address ({exc.code}): {exc.message_ja}", file=sys.stderr)
        return 1
    except MailerError as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 1
    if args.raw:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(decoded_text(data))
    return 0


def parse_events(kind: str, text: str) -> list[Event]:
    """Validate ``text`` (one event or an array) with the kind's contract model."""
    model = EVENT_TYPES[kind]  # type: ignore[index]  # argparse restricts kind
    try:
        if text.lstrip().startswith("["):
            events: list[Event] = list(TypeAdapter(list[model]).validate_json(text))  # type: ignore[valid-type]
        else:
            events = [model.model_validate_json(text)]
    except ValidationError as exc:
        raise PreviewInputError(_describe(model.__name__, exc)) from None
    if not events:
        raise PreviewInputError("the JSON array holds no events")
    return events


def _describe(model: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in err["loc"]) or "(document)"
        problems.append(f"{loc}: {err['msg']}")
    return f"not a valid {model}: " + "; ".join(problems)


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PreviewInputError(f"cannot read {file}: {exc}") from None


def _compose(args: argparse.Namespace, events: Sequence[Event]) -> bytes:
    kind: MailKind = args.kind
    now: datetime = args.at or datetime.now(JST)
    # The headers the mailer would write with its settings (the same environment).
    settings = MailerSettings()
    staff = settings.staff_digest_address
    to = args.to or (staff if kind == "bounce_digest" else _email_of(events[0]))
    first = events[0]
    batch = batch_window_for(first.batch_thursday) if isinstance(first, LoanOnlineIssued) else None
    key = f"preview:{kind}:" + ",".join(e.event_id for e in events)
    envelope = Envelope(
        to=to,
        from_addr=args.from_addr or settings.from_address,
        from_name=settings.mail_from_name,
        message_id=message_id_for(mail_id_for(key), settings.mail_domain),
        date=now,
        reply_to=settings.mail_reply_to,
    )
    domain = to.rpartition("@")[2].lower()
    forced = frozenset({domain}) if args.iso2022jp else frozenset()
    domains = forced | settings.iso2022jp_domain_set
    mail = compose(
        kind,
        events,
        batch=batch,
        run_date=jst_date(now),
        envelope=envelope,
        iso2022jp_domains=domains,
    )
    return mail.data


def _aware_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-12-05T09:00:00+09:00")
    return value


def _email_of(event: Event) -> str:
    email = getattr(event, "email", None)
    if not isinstance(email, str):
        raise PreviewInputError(f"{type(event).__name__} has no email field; use --to")
    return email


__all__ = ["MAIL_KINDS", "parse_events", "preview_command", "register"]
