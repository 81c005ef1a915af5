"""From a mail the library sent to a patron in the staff queue, with the service as a process.

The mail's traces are what the mailer leaves: its ``mail_ledger`` record and its ``sent``
outcome. The recipient's server then returns a DSN to the VERP envelope sender, delivered
into the bounce mailbox (Dovecot). The bounce service (``python -m services.bounce``) must
classify it, flag the patron, suppress the address and move the DSN to ``Processed``; staff
then see the patron with ``otayori queue``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from nats.js import JetStreamContext

from services.bounce.stores import Stores, patron_key
from shared.bus.publish import publish
from shared.contracts.mail import MailOutcome
from shared.mailrecord import address_key
from tests.integration.bounce_service.helpers import Imap
from tests.support.nats import wait_for
from tests.support.procs import ROOT, start_service
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tools.localservers import Dovecot, NatsServer

SECRET = "e2e-verp-secret"
PATRON = "P-0012345"
ADDRESS = "kijitora-old@example.jp"


async def test_a_bounced_online_loan_mail_puts_the_patron_in_the_staff_queue(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    stores = await Stores.open(js)
    record = ledger_record(f"online_loan:{PATRON}:batch-2026-12-03", PATRON, ADDRESS)
    await stores.ledger.put(record.mail_id, record)
    envelope = verp_for(SECRET.encode(), record)
    await publish(
        js,
        MailOutcome(
            occurred_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
            mail_key=record.business_key,
            kind="online_loan",
            outcome="sent",
            patron_id=PATRON,
            recipient=ADDRESS,
            recipient_domain="example.jp",
            carrier_group="other",
            message_id=record.message_id,
            verp_token=envelope.split("+", 1)[1].split("@", 1)[0],
            smtp_code=250,
            smtp_text="ok",
        ),
    )
    env = {
        "OTAYORI_NATS_URL": fresh_nats.url,
        "OTAYORI_VERP_SECRET": SECRET,
        "OTAYORI_IMAP_HOST": dovecot.host,
        "OTAYORI_IMAP_PORT": str(dovecot.port),
        "OTAYORI_IMAP_USERNAME": dovecot.user,
        "OTAYORI_IMAP_PASSWORD": dovecot.password,
        "OTAYORI_HTTP_HOST": "127.0.0.1",
    }
    service = start_service("bounce", env, tmp_path)
    try:
        async with Imap(dovecot) as imap:
            dsn = build_dsn(
                recipient=ADDRESS, verp_to=envelope, original_message_id=record.message_id
            )
            await imap.append(dsn)

            async def flagged() -> bool:
                entry, _ = await stores.queue.get(patron_key(PATRON))
                return entry is not None and entry.status == "open"

            await wait_for(flagged, timeout=60)
            await wait_for(lambda: _processed(imap), timeout=60)
        suppression, _ = await stores.suppressions.get(address_key(ADDRESS))
        assert suppression is not None and suppression.patron_ids == [PATRON]
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "otayori.cli", "queue", "show", PATRON],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert "bad_address" in shown.stdout and "online_loan sent" in shown.stdout
        assert "送信記録と一致（VERP）" in shown.stdout
        assert service.terminate() == 0
    finally:
        if service.process.poll() is None:
            service.kill()
    assert ADDRESS not in service.log(), "logs carry patron ids, never addresses"


async def _processed(imap: Imap) -> bool:
    return await imap.count("INBOX") == 0 and await imap.count("Processed") == 1
