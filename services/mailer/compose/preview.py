"""Pure helpers of ``otayori preview``: the batch window of a Thursday, decoded output."""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from email.message import EmailMessage

from shared.contracts.schedule import BatchWindow


def batch_window_for(thursday: date) -> BatchWindow:
    """The weekly window of a processing Thursday, for previews only.

    In production the scheduler is the authority on the batch window (it knows closures
    and sends it in ``TriggerFired.batch``); this is the plain rule of Q18/Q20/Q21:
    pickup starts that Sunday (+3 days) and ends the following Sunday (+10 days).
    """
    return BatchWindow(
        thursday=thursday,
        pickup_start=thursday + timedelta(days=3),
        pickup_deadline=thursday + timedelta(days=10),
    )


def decoded_text(data: bytes) -> str:
    """The message as a person reads it: decoded headers, a blank line, the body."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    lines = [f"{name}: {value}" for name, value in parsed.items()]
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return "\n".join(lines) + "\n\n" + str(text).replace("\r\n", "\n")
