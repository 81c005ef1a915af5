"""The mailer's exceptions: one root, structured fields, no personal data in messages.

``str()``/``repr()`` of these errors may reach logs, so they never carry a patron's
address or name; where the offending value matters it sits in an attribute only.
"""

from __future__ import annotations


class MailerError(Exception):
    """Root of every exception the mailer raises on purpose."""


class ComposeError(MailerError):
    """A mail cannot be composed: a missing value, inconsistent events, a bad header.

    ``kind`` is the mail kind when known; ``field`` names the offending value.
    """

    def __init__(self, message: str, *, kind: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


class HeaderInjection(ComposeError):
    """CR, LF or NUL in a value placed in a header. Only the header's name is reported."""

    def __init__(self, header: str) -> None:
        super().__init__(f"CR, LF or NUL in the {header} header value", field=header)
        self.header = header


class InvalidAddress(MailerError):
    """A registered address a patron got wrong (Q6); staff read ``message_ja``.

    ``code`` is machine-readable (``no_at_sign``, ``comma_for_dot``, ``full_width``, ...).
    The address itself is kept in ``address`` and never appears in ``str()``/``repr()``.
    """

    def __init__(self, code: str, message_ja: str, *, address: str) -> None:
        super().__init__(f"{code}: {message_ja}")
        self.code = code
        self.message_ja = message_ja
        self.address = address

    def __repr__(self) -> str:
        return f"InvalidAddress(code={self.code!r}, message_ja={self.message_ja!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_invalid_address, (self.code, self.message_ja, self.address))


def _rebuild_invalid_address(code: str, message_ja: str, address: str) -> InvalidAddress:
    return InvalidAddress(code, message_ja, address=address)


class PreviewInputError(MailerError):
    """``otayori preview`` got input it cannot use; the message names the field."""


class DkimKeyError(MailerError):
    """The DKIM key file does not hold an RSA private key."""
