"""``compose``: events + envelope -> the message's bytes (pure; no sockets, no env)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from services.mailer.compose.address import check_address
from services.mailer.compose.context import MailInput, build_context
from services.mailer.compose.dates import jst_date
from services.mailer.compose.mime import (
    build_message,
    check_header_value,
    domain_listed,
    to_iso2022jp,
    verify,
    wrap_for_7bit,
)
from services.mailer.compose.model import ComposedMail, Envelope, RenderedMail
from services.mailer.compose.render import render
from services.mailer.compose.wire import build_utf8, fast_path_ok
from services.mailer.errors import ComposeError
from shared.contracts.base import Event
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow


def compose(
    kind: MailKind,
    events: Sequence[Event],
    *,
    batch: BatchWindow | None,
    run_date: date,
    envelope: Envelope,
    iso2022jp_domains: frozenset[str] = frozenset(),
) -> ComposedMail:
    """The full message for ``kind`` built from ``events``.

    Raises ``HeaderInjection`` (CR/LF/NUL in a header value), ``InvalidAddress``
    (``envelope.to`` is not a usable address) or ``ComposeError`` (missing value,
    inconsistent events, a stdlib-built message that does not parse back).
    """
    _check_envelope(envelope)
    check_address(envelope.to)
    ref_year = jst_date(envelope.date).year
    context, language = build_context(kind, events, MailInput(batch, run_date, ref_year))
    mail = render(kind, context, language)
    check_header_value("Subject", mail.subject)
    if domain_listed(envelope.to, iso2022jp_domains):
        jis = _as_iso2022jp(mail, envelope)
        if jis is not None:
            jis_mail, jis_envelope = jis
            data = build_message(jis_mail, jis_envelope, "iso-2022-jp")
            verify(data, jis_mail, jis_envelope)
            return ComposedMail(data=data, subject=jis_mail.subject, charset="iso-2022-jp")
    if fast_path_ok(envelope):
        # Written directly (no parse-back: the unit tests parse every kind back).
        data = build_utf8(mail, envelope)
    else:
        data = build_message(mail, envelope, "utf-8")
        verify(data, mail, envelope)
    return ComposedMail(data=data, subject=mail.subject, charset="utf-8")


def _check_envelope(envelope: Envelope) -> None:
    if envelope.date.tzinfo is None or envelope.date.utcoffset() is None:
        raise ComposeError("the envelope's date must be timezone-aware", field="date")
    check_header_value("To", envelope.to)
    check_header_value("From", envelope.from_addr)
    check_header_value("From", envelope.from_name)
    check_header_value("Message-ID", envelope.message_id)
    if envelope.reply_to is not None:
        check_header_value("Reply-To", envelope.reply_to)


def _as_iso2022jp(mail: RenderedMail, envelope: Envelope) -> tuple[RenderedMail, Envelope] | None:
    subject = to_iso2022jp(mail.subject)
    body = to_iso2022jp(mail.body)
    from_name = to_iso2022jp(envelope.from_name)
    if subject is None or body is None or from_name is None:
        return None
    return (
        RenderedMail(subject=subject, body=wrap_for_7bit(body)),
        replace(envelope, from_name=from_name),
    )
