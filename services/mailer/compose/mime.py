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

import binascii
import email
import email.policy
import re
from email.errors import HeaderParseError
from email.header import Header, decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr
from functools import lru_cache

from services.mailer.compose.dates import JST
from services.mailer.compose.model import Charset, Envelope, RenderedMail
from services.mailer.errors import ComposeError, HeaderInjection
from shared.carriers import domain_of

#: CRLF output; pre-encoded ISO-2022-JP headers are emitted as given, never refolded to UTF-8.
POLICY = email.policy.SMTP.clone(refold_source="none")
MAX_LINE = 998  # RFC 5322 2.1.1, octets without CRLF
#: Folded header lines are at most 76 octets: one 75-character encoded-word (the RFC 2047
#: maximum) after the continuation line's space.
FOLD_WIDTH = 76
MAX_WORD = 75
#: An ASCII subject with a word longer than this is encoded (a line of its own otherwise).
_LONGEST_PLAIN_WORD = 60
#: NUL and every line boundary ``str.splitlines`` (and so ``email.header.Header``) breaks
#: at, not only CR and LF: a vertical tab in a value would otherwise start a new line.
_UNSAFE_IN_HEADER = re.compile("[\r\n\0\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
#: A display name written as RFC 2047 encoded-words only (raw, before the ``<addr>``).
_ENCODED_PHRASE = re.compile(r"(?:\s*=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)+\s*")

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
    """``value`` unchanged, or ``HeaderInjection`` when it holds NUL or a line break."""
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
    _set_sender(msg, envelope, charset)
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


def _set_sender(msg: EmailMessage, envelope: Envelope, charset: Charset) -> None:
    """From: the display name as ``encoded_words``, one per line, then the address on a
    line of its own; a short plain-ASCII name in UTF-8 mail as the stdlib writes it.

    The stdlib's ``Address`` folder writes a long non-ASCII name in words of up to 76
    characters (RFC 2047 allows 75) and splits a long quoted ASCII name into a quoted part
    and a comment, which reads back without its parentheses.
    """
    name, address = envelope.from_name, envelope.from_addr
    if name and (charset == "iso-2022-jp" or not _plain_phrase(name, address)):
        msg.set_raw("From", "\n ".join((*encoded_words("From", name, charset), f"<{address}>")))
    else:
        msg["From"] = Address(display_name=name, addr_spec=address)


def _plain_phrase(name: str, address: str) -> bool:
    """Whether the stdlib writes ``name`` as a display name that reads back unchanged:
    ASCII, single spaces, nothing like an encoded-word, the header on one line."""
    return (
        name.isascii()
        and name == " ".join(name.split())
        and "=?" not in name
        and len(f"From: {formataddr((name, address))}") <= FOLD_WIDTH
    )


@lru_cache(maxsize=64)
def encoded_words(header: str, value: str, charset: Charset) -> tuple[str, ...]:
    """``value`` as RFC 2047 ``B`` encoded-words, to be folded one per line after ``header:``.

    Each word is at most 75 characters (the first leaves room for ``header: `` within
    ``FOLD_WIDTH``), holds whole characters and is encoded on its own: an ISO-2022-JP word
    starts in ASCII and ends switched back to it, so every word decodes by itself
    (RFC 2047 section 5). ``value`` must be encodable in ``charset``; ``()`` when empty.
    """
    if not value:
        return ()
    prefix = f"=?{charset}?b?"
    overhead = len(prefix) + len("?=")
    first = (FOLD_WIDTH - len(header) - len(": ") - overhead) // 4 * 3
    rest = (MAX_WORD - overhead) // 4 * 3
    return tuple(
        prefix + binascii.b2a_base64(chunk, newline=False).decode("ascii") + "?="
        for chunk in _chunks(value, charset, first, rest)
    )


def _chunks(value: str, codec: str, first: int, rest: int) -> list[bytes]:
    """``value`` cut between characters into pieces that encode to at most ``first``, then
    ``rest`` octets each (a piece is encoded whole: ISO-2022-JP escapes are per piece)."""
    pieces: list[bytes] = []
    start, limit, encoded = 0, first, b""
    for end in range(1, len(value) + 1):
        candidate = value[start:end].encode(codec)
        if len(candidate) > limit and end - 1 > start:
            pieces.append(encoded)
            start, limit = end - 1, rest
            candidate = value[start:end].encode(codec)
        encoded = candidate
    pieces.append(encoded)
    return pieces


def encoded_header(name: str, value: str, charset: Charset) -> str:
    """``value`` folded to 78 columns: plain ASCII when it is, ``encoded_words`` otherwise.

    (The stdlib's own folder moves a long ASCII subject whole onto a continuation line,
    which reads back with a leading space; ``Header`` folds at the spaces instead. Its
    encoded-words reach 76 characters, one more than RFC 2047 allows.)
    """
    if value.isascii() and all(len(word) <= _LONGEST_PLAIN_WORD for word in value.split()):
        return Header(value, "us-ascii", header_name=name).encode()
    return "\n ".join(encoded_words(name, value, charset))


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
    if sender_names(data, parsed) != [envelope.from_name]:
        problems.append("From")
    body = parsed.get_body()
    text = body.get_content() if isinstance(body, EmailMessage) else None
    if text is None or text.replace("\r\n", "\n") != mail.body:
        problems.append("body")
    if problems:
        raise ComposeError(f"the message does not parse back: {', '.join(problems)}")


def sender_names(data: bytes, parsed: EmailMessage) -> list[str | None]:
    """The From header's display names as RFC 2047 reads them (``None``: undecodable).

    Python's address parser (3.11) reads the whitespace between two adjacent encoded-words
    of a display name as a space (CPython gh-128110), where RFC 2047 section 6.2 says it
    is ignored: a name too long for one word would read back with spaces where it was cut.
    A display name written as encoded-words only is therefore decoded from the raw header
    with ``decode_header``, which ignores that whitespace as mail clients do.
    """
    sender = parsed["From"]
    if sender is None:
        return []
    names: list[str | None] = [address.display_name for address in sender.addresses]
    if len(names) == 1:
        raw = str(BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)["From"])
        phrase = raw.rpartition("<")[0]
        if _ENCODED_PHRASE.fullmatch(phrase):
            names = [_decoded(phrase)]
    return names


def _decoded(phrase: str) -> str | None:
    try:
        return str(make_header(decode_header(phrase)))
    except (HeaderParseError, UnicodeDecodeError, LookupError):
        return None
