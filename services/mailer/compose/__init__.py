"""The mailer's pure compose core: templates, rendering, MIME, address checks.

No sockets, no environment reads: the delivery side passes everything in.
"""

from services.mailer.compose.address import check_address
from services.mailer.compose.composer import compose
from services.mailer.compose.context import EVENT_TYPES
from services.mailer.compose.dates import en_date, ja_date, weekday_kanji
from services.mailer.compose.model import (
    LIBRARY_DOMAIN,
    SENDER_NAME,
    Charset,
    ComposedMail,
    Envelope,
    RenderedMail,
)
from services.mailer.compose.render import render

__all__ = [
    "EVENT_TYPES",
    "LIBRARY_DOMAIN",
    "SENDER_NAME",
    "Charset",
    "ComposedMail",
    "Envelope",
    "RenderedMail",
    "check_address",
    "compose",
    "en_date",
    "ja_date",
    "render",
    "weekday_kanji",
]
