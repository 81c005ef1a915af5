"""Build the wire message (pure): headers, charset choice, transfer encoding.

UTF-8 is the default, with RFC 2047 encoded-words in headers and a **base64** body.
Base64 rather than quoted-printable because the bodies are Japanese: QP turns every
Japanese byte into ``=XX`` (three times the size, ~2.3x base64's) and carrier mail
clients on phones decode base64 UTF-8 without trouble; 8bit would need 8BITMIME on every
hop. ISO-2022-JP (7bit, the classic Japanese mobile format) is used for domains the
operator lists, when every character of the mail can be encoded in it; otherwise the mail
falls back to UTF-8 (①, 髙, emoji are not in JIS X 0208).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from services.mailer.compose.dates import JST
from services.mailer.compose.model import Charset, Envelope, RenderedMail
from services.mailer.errors import ComposeError, HeaderInjection
from shared.carriers import domain_of

#: CRLF output; pre-encoded ISO-2022-JP headers are emitted as given, never refolded to UTF-8.
POLICY = email.policy.SMTP.clone(refold_source="none")
MAX_LINE = 998  # RFC 5322 2.1.1, octets without CRLF
_UNSAFE_IN_HEADER = re.compile("[\r\n\0]")

#: Unicode characters Japanese input methods produce (CP932 style) for JIS X 0208 symbols,
#: mapped to the code points Python's ``iso-2022-jp`` codec encodes (9:00～19:00 -> 〜).
_JIS_EQUIVALENTS = str.maketrans(
    {
        "\uff5e": "\u301c",  # FULLWIDTH TILDE -> WAVE DASH
        "\u2225": "\u2016",  # PARALLEL TO -> DOUBLE VERTICAL LINE
        "\uff0d": "\u2212",  # FULLWIDTH HYPHEN-MINUS -> MINUS SIGN
        "\uffe0": "\u00a2",  # FULLWIDTH CENT SIGN
        "\uffe1": "\u00a3",  # FULLWIDTH POUND SIGN
        "\uffe2": "\u00ac",  # FULLWIDTH NOT SIGN
        "\u2014": "\u2015",  # EM DASH -> HORIZONTAL BAR
    }
)


def check_header_value(header: str, value: str) -> str:
    """``value`` unchanged, or ``HeaderInjection`` when it holds CR, LF or NUL."""
    if _UNSAFE_IN_HEADER.search(value):
        raise HeaderInjection(header)
    return value


def domain_listed(address: str, domains: frozenset[str]) -> bool:
    """Whether the address's domain is one of ``domains`` or a subdomain of one."""
    domain = domain_of(address).rstrip(".")
    listed = {d.lower().strip(".") for d in domains}
    return any(domain == d or domain.endswith("." + d) for d in listed if d)


def to_iso2022jp(text: str) -> str | None:
    """``text`` with CP932-style symbols mapped, or ``None`` if it cannot be ISO-2022-JP."""
    mapped = text.translate(_JIS_EQUIVALENTS)
    try:
        mapped.encode("iso-2022-jp")
    except UnicodeEncodeError:
        return None
    return mapped


def build_message(mail: RenderedMail, envelope: Envelope, charset: Charset) -> bytes:
    """The message's bytes with CRLF line endings. ``mail`` is already in final form."""
    msg = EmailMessage(policy=POLICY)
    if charset == "iso-2022-jp":
        name = Header(envelope.from_name, "iso-2022-jp", header_name="From").encode()
        msg.set_raw("From", f"{name}\n <{envelope.from_addr}>")
        msg["To"] = envelope.to
    else:
        msg["From"] = Address(display_name=envelope.from_name, addr_spec=envelope.from_addr)
        msg["To"] = envelope.to
    msg.set_raw("Subject", encoded_header("Subject", mail.subject, charset))
    msg["Date"] = format_datetime(envelope.date.astimezone(JST))
    msg["Message-ID"] = envelope.message_id
    if envelope.reply_to is not None:
        msg["Reply-To"] = envelope.reply_to
    cte = "7bit" if charset == "iso-2022-jp" else "base64"
    msg.set_content(mail.body, charset=charset, cte=cte)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    msg["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange/Outlook
    return msg.as_bytes()


def encoded_header(name: str, value: str, charset: Charset) -> str:
    """``value`` folded to 78 columns: plain ASCII when it is, RFC 2047 words otherwise.

    (The stdlib's own folder moves a long ASCII subject whole onto a continuation line,
    which reads back with a leading space; ``Header`` folds at the spaces instead.)
    """
    if value.isascii() and all(len(word) <= 60 for word in value.split()):
        return Header(value, "us-ascii", header_name=name).encode()
    return Header(value, charset, header_name=name).encode()


def wrap_for_7bit(text: str) -> str:
    """Split lines whose ISO-2022-JP form would pass 998 octets (very long titles)."""
    out: list[str] = []
    for line in text.split("\n"):
        while len(line.encode("iso-2022-jp")) > MAX_LINE:
            cut = _longest_prefix(line)
            out.append(line[:cut])
            line = "  " + line[cut:]
        out.append(line)
    return "\n".join(out)


def _longest_prefix(line: str) -> int:
    cut = 1
    while cut < len(line) and len(line[: cut + 1].encode("iso-2022-jp")) <= MAX_LINE:
        cut += 1
    return cut


def verify(data: bytes, mail: RenderedMail, envelope: Envelope) -> None:
    """Parse the bytes back; the subject, sender and body must read as composed."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    problems = []
    if str(parsed["Subject"]) != mail.subject:
        problems.append("Subject")
    sender = parsed["From"]
    if sender is None or [a.display_name for a in sender.addresses] != [envelope.from_name]:
        problems.append("From")
    body = parsed.get_body()
    text = body.get_content() if isinstance(body, EmailMessage) else None
    if text is None or text.replace("\r\n", "\n") != mail.body:
        problems.append("body")
    if problems:
        raise ComposeError(f"the message does not parse back: {', '.join(problems)}")
