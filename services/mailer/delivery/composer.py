"""The bridge from a work item to the compose core (pure; plus optional DKIM)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.mailer.compose import Envelope, check_address, compose
from services.mailer.delivery.dkim import DkimSigner
from services.mailer.plan.model import MailWork


class Composer(Protocol):
    def check(self, raw: str) -> str:
        """The normalised address; raises ``InvalidAddress``."""
        ...

    def build(self, work: MailWork, to: str, message_id: str, now: datetime) -> bytes:
        """The wire message; raises ``MailerError`` (ComposeError, HeaderInjection)."""
        ...


@dataclass(frozen=True, slots=True)
class LibraryComposer:
    from_addr: str
    from_name: str
    reply_to: str | None
    iso2022jp_domains: frozenset[str]
    signer: DkimSigner | None = None

    def check(self, raw: str) -> str:
        return check_address(raw)

    def build(self, work: MailWork, to: str, message_id: str, now: datetime) -> bytes:
        envelope = Envelope(
            to=to,
            from_addr=self.from_addr,
            from_name=self.from_name,
            message_id=message_id,
            date=now,
            reply_to=self.reply_to,
        )
        mail = compose(
            work.kind,
            work.events,
            batch=work.batch,
            run_date=work.run_date,
            envelope=envelope,
            iso2022jp_domains=self.iso2022jp_domains,
        )
        return self.signer.sign(mail.data) if self.signer else mail.data
