"""From a mail the mailer sends to a patron in the staff queue: mailer and bounce as processes.

Two paths lead a bad address into the queue:
- the relay refuses the recipient at once (5xx at RCPT): the mailer records a ``failed``
  outcome, the bounce service classifies it and flags the patron;
- the relay accepts the mail, the patron's server later returns a DSN to the VERP envelope
  sender the mailer chose; the DSN lands in the bounce mailbox (Dovecot) and the bounce
  service traces it back to the patron through the HMAC-signed token.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from nats.js import JetStreamContext

from services.bounce.stores import Stores, patron_key
from shared.bus.publish import publish
from shared.contracts import PatronLoanSuspended
from shared.mailrecord import address_key
from shared.verp import find_token, verify_token
from tests.integration.bounce_service.helpers import Imap
from tests.support.nats import wait_for
from tests.support.procs import ServiceProcess, start_service
from tests.support.smtp import RecordingSMTP
from tests.unit.bounce_service.dsn import build_dsn
from tools.localservers import Dovecot, NatsServer

SECRET = "e2e-mail-to-queue-secret"
REFUSED = "no-such-patron@example.jp"
LATER = "moved-away@example.jp"


def _refuse_unknown(phase: str, rcpt: str) -> str | None:
    if phase == "rcpt" and rcpt == REFUSED:
        return "550 5.1.1 <no-such-patron@example.jp>: Recipient address rejected: User unknown"
    return None


def _suspended(patron: str, address: str) -> PatronLoanSuspended:
    return PatronLoanSuspended(
        occurred_at=datetime.now(UTC),
        patron_id=patron,
        email=address,
        reason="card_expired",
        card_expired_on=date(2026, 11, 30),
    )


async def _flagged(stores: Stores, patron: str) -> str | None:
    entry, _ = await stores.queue.get(patron_key(patron))
    return entry.category if entry is not None and entry.status == "open" else None


async def test_refused_and_bounced_mail_both_put_the_patron_in_the_queue(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    smtp = RecordingSMTP(_refuse_unknown).start()
    common = {
        "OTAYORI_NATS_URL": fresh_nats.url,
        "OTAYORI_VERP_SECRET": SECRET,
        "OTAYORI_HTTP_HOST": "127.0.0.1",
    }
    mailer_env = {**common, "OTAYORI_SMTP_HOST": "127.0.0.1", "OTAYORI_SMTP_PORT": str(smtp.port)}
    bounce_env = {
        **common,
        "OTAYORI_IMAP_HOST": dovecot.host,
        "OTAYORI_IMAP_PORT": str(dovecot.port),
        "OTAYORI_IMAP_USERNAME": dovecot.user,
        "OTAYORI_IMAP_PASSWORD": dovecot.password,
    }
    services: list[ServiceProcess] = []
    try:
        services.append(start_service("mailer", mailer_env, tmp_path))
        services.append(start_service("bounce", bounce_env, tmp_path))
        stores = await Stores.open(js)

        # Refused at RCPT: a failed outcome, classified, the patron flagged.
        await publish(js, _suspended("P-REFUSED1", REFUSED))

        async def refused_flagged() -> bool:
            return await _flagged(stores, "P-REFUSED1") == "bad_address"

        await wait_for(refused_flagged, timeout=60)

        # Accepted, then bounced: the DSN returns to the mailer's own VERP sender.
        await publish(js, _suspended("P-LATER01", LATER))
        await wait_for(lambda: any(LATER in r.rcpt_tos for r in smtp.received), timeout=60)
        sent = next(r for r in smtp.received if LATER in r.rcpt_tos)
        token = find_token(sent.mail_from)
        assert token is not None and verify_token(SECRET.encode(), token)
        async with Imap(dovecot) as imap:
            await imap.append(
                build_dsn(
                    recipient=LATER, verp_to=sent.mail_from, original_message_id=sent.message_id
                )
            )

            async def later_flagged() -> bool:
                return await _flagged(stores, "P-LATER01") == "bad_address"

            await wait_for(later_flagged, timeout=60)
        suppression, _ = await stores.suppressions.get(address_key(LATER))
        assert suppression is not None and suppression.patron_ids == ["P-LATER01"]
        for service in services:
            assert service.terminate() == 0
    finally:
        for service in services:
            if service.process.poll() is None:
                service.kill()
        smtp.stop()
    for service in services:
        log = service.log()
        assert REFUSED not in log and LATER not in log, f"{service.name} logged an address"
