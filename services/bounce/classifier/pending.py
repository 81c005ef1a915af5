"""Final failure, or a delay warning while the reporting MTA still retries? (pure)

A delay warning (RFC 3464 ``Action: delayed``; Postfix "THIS IS A WARNING ONLY", sendmail
"Warning: could not send message for past 4 hours", Exim "has not yet been delivered",
Gmail / Exchange "delivery has been delayed", OpenSMTPD "temporary failure report") reports
a temporary failure while delivery goes on: the mail may still arrive. Its diagnostic often
sounds final ("450 4.1.1 User unknown", "452 4.2.2 Mailbox full"), but no hard cause may be
drawn from it: the patron would be flagged, and the address suppressed, while the library's
mail is still on its way. An MTA that gave up ("Action: failed" after retrying, Exim
"retry timeout exceeded", qmail "I'm not going to try again") reports a final failure,
whatever its (4.x.x) status: that keeps its cause.
"""

from __future__ import annotations

import re

_WARNING = re.compile(
    r"this is a warning|warning message only|warning only"
    r"|(?:do not|don't) need to re-?send"
    r"|will be retried|still being retried|will keep trying|will continue (?:to )?(?:try|attempt)"
    r"|server will keep trying|delivery attempts will continue|still trying"
    r"|(?:has|have) not (?:yet )?been delivered yet|not yet been delivered"
    r"|hasn't been delivered yet|still undelivered after"
    r"|retry timeout not exceeded|retry time not reached"
    r"|temporary failure report|only a temporary failure"
    r"|delivery (?:to the following recipients? )?(?:has been|is|was) delayed"
    r"|message (?:is|has been) delayed|delivery is delayed|delivery delayed"
    r"|warning: could not send message for past|status notification \(delay\)"
    r"|再試行します|配送を再試行|遅延しています|まだ(?:配送|配信|送信)されていません"
)
"""Wording of delay warnings (run on lower-cased text, whitespace collapsed)."""

_GAVE_UP = re.compile(
    r"gave up|given up|giving up|not going to try again|will not be retried"
    r"|retry time(?:out)? (?:was |has been )?exceeded|too long in (?:the )?queue"
    r"|been in the queue too long|no further (?:delivery )?attempts"
    r"|permanent(?:ly)? (?:fatal )?(?:error|failure)|failed permanently"
    r"|配送を中止|配送をあきらめ|再送を中止"
)
"""Wording of an MTA that stopped retrying: the report is final."""

_REPLY = re.compile(r"(?<![\w.:/#=+-])([45])\d\d(?=[ -]|$)", re.M)
"""An SMTP reply code (``450 ...``, ``550-...``), for diagnostics with no status code."""

_FINAL_ACTIONS = ("fail", "expired", "delivered", "relayed", "expanded")


def _flat(text: str) -> str:
    return " ".join(text.lower().split())


def temporary(status: str, diagnostic: str) -> bool:
    """RFC 3463 class 4 status; lacking a status, a 4xx SMTP reply code (RFC 5321 4.2.1)."""
    if status:
        return status.startswith("4.")
    m = _REPLY.search(diagnostic)
    return m is not None and m.group(1) == "4"


def gave_up(text: str) -> bool:
    return _GAVE_UP.search(_flat(text)) is not None


def is_delay_warning(text: str) -> bool:
    """The notice is worded as a delay warning and does not say the MTA gave up."""
    flat = _flat(text)
    return _WARNING.search(flat) is not None and _GAVE_UP.search(flat) is None


def record_pending(action: str, status: str, diagnostic: str, paragraph: str) -> bool:
    """Is an RFC 3464 per-recipient record a delay, not a final failure?

    ``Action`` decides when it is given (``delayed``: still retrying; ``failed``: the MTA
    gave up, even after only temporary replies); without it, a temporary status or reply
    code is a delay unless the record's text says the MTA gave up.
    """
    act = action.strip().lower()
    if act.startswith("delayed"):
        return True
    if act.startswith(_FINAL_ACTIONS):
        return False
    return temporary(status, diagnostic) and not gave_up(f"{diagnostic}\n{paragraph}")


def text_pending(notice: str, paragraph: str, status: str) -> bool:
    """Is a recipient of a plain-text (non-RFC 3464) notice still being retried?

    The recipient's own paragraph saying the MTA gave up is final; otherwise the notice's
    delay-warning wording, or a temporary status / reply code in a notice that does not say
    the MTA gave up, means delivery goes on.
    """
    if gave_up(paragraph):
        return False
    if is_delay_warning(notice):
        return True
    return temporary(status, paragraph) and not gave_up(notice)
