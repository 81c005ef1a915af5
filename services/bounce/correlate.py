"""Which patrons a failed recipient concerns: VERP token > Message-ID > address.

A VERP token is trusted only when its HMAC verifies. A token whose MAC does not verify is
evidence of forgery (or of mail sent under an old ``verp_secret``): the bounce concerns
nobody — no other method is tried, since everything else in that message is as untrusted
— and it is said so in the evidence (``verp: forged``). A patron found by the address
alone is *unconfirmed* (``Correlated.confirmed``): anybody can write a patron's address
into a bounce, so such a bounce may put them on the staff queue but never suppresses
their address. The lookups are a protocol, so the order is table-tested with in-memory
fakes and wired to JetStream KV in the service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.contracts.staff import Correlation, VerpCheck
from shared.mailrecord import MailRecord, mail_id_from_message_id
from shared.verp import VerpError, find_token, verify_token

_OUR_MSGID = re.compile(r"otayori\.[0-9a-f]{32}@[^>\s]+", re.IGNORECASE)
_SCAN_LIMIT = 512 * 1024


class Lookups(Protocol):
    """Read access to the mail ledger and the address index."""

    async def mail(self, mail_id: str) -> MailRecord | None: ...

    async def patrons_for(self, address: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Correlated:
    method: Correlation
    patron_ids: tuple[str, ...] = ()
    record: MailRecord | None = None
    verp: VerpCheck = "absent"

    @property
    def confirmed(self) -> bool:
        """The patrons come from our own record of the mail (the ledger, reached by a
        verified VERP token or by our Message-ID, or the mailer's own outcome), not from
        an address written in the bounce: only then may the bounce suppress an address."""
        return self.method != "address"


@dataclass(frozen=True, slots=True)
class MailIds:
    """Mail ids named in a bounce: the verified VERP one and those of our Message-IDs.

    ``token`` is the first ``bounce+TOKEN@`` token anywhere in the (scanned) bounce,
    whatever its domain, verified or not: ``verp`` is its mail id when it verified.
    """

    verp: str | None = None
    forged_token: bool = False
    by_message_id: tuple[str, ...] = field(default=())
    token: str = ""

    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*([self.verp] if self.verp else []), *self.by_message_id]))

    def token_for(self, classified: str) -> str:
        """The token to correlate a recipient with, given the one the classifier found.

        A forged token anywhere in the bounce wins: the message as a whole is untrusted,
        so no recipient of it may fall back to its address. Otherwise the classifier's
        token, else the scan's (the classifier may not have looked where it was).
        """
        if self.forged_token or not classified:
            return self.token or classified
        return classified


def verp_mail_id(key: bytes, token: str) -> tuple[str | None, VerpCheck]:
    if not token:
        return None, "absent"
    try:
        return verify_token(key, token), "verified"
    except VerpError:
        return None, "forged"


def mail_ids_in(raw: bytes, key: bytes) -> MailIds:
    """Scan a bounce (bounded) for a VERP token and our Message-IDs, before classifying."""
    text = raw[:_SCAN_LIMIT].decode("latin-1")
    token = find_token(text) or ""
    verp, check = verp_mail_id(key, token)
    found = (mail_id_from_message_id(m.group(0)) for m in _OUR_MSGID.finditer(text))
    return MailIds(verp, check == "forged", tuple(dict.fromkeys(i for i in found if i)), token)


class SentLookup:
    """The classifier's ``sent`` callback: a Message-ID or VERP token -> address mailed."""

    def __init__(self, key: bytes, records: Mapping[str, MailRecord]) -> None:
        self._key = key
        self._records = records

    def __call__(self, key: str, /) -> str | None:
        mail_id = mail_id_from_message_id(key) if "@" in key else verp_mail_id(self._key, key)[0]
        record = self._records.get(mail_id) if mail_id else None
        return record.recipient if record else None


async def prefetch(lookups: Lookups, mail_ids: Iterable[str]) -> dict[str, MailRecord]:
    found: dict[str, MailRecord] = {}
    for mail_id in mail_ids:
        record = await lookups.mail(mail_id)
        if record is not None:
            found[mail_id] = record
    return found


def _patrons(record: MailRecord) -> tuple[str, ...]:
    return (record.patron_id,) if record.patron_id else ()


async def correlate(
    lookups: Lookups, key: bytes, recipient: str, token: str, message_id: str
) -> Correlated:
    """Find the patrons of one failed recipient, trying the methods in order."""
    mail_id, verp = verp_mail_id(key, token)
    if verp == "forged":
        return Correlated("none", (), None, verp)
    if mail_id is not None:
        record = await lookups.mail(mail_id)
        if record is not None and record.patron_id:
            return Correlated("verp", _patrons(record), record, verp)
    by_msgid = mail_id_from_message_id(message_id) if message_id else None
    if by_msgid is not None:
        record = await lookups.mail(by_msgid)
        if record is not None and record.patron_id:
            return Correlated("message_id", _patrons(record), record, verp)
    if recipient:
        patrons = await lookups.patrons_for(recipient)
        if patrons:
            return Correlated("address", tuple(sorted(set(patrons))), None, verp)
    return Correlated("none", (), None, verp)
