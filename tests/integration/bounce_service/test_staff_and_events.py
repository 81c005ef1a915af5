"""Staff API and CLI round trip, the mailer's 5xx failures, email changes, the digest."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from nats.js import JetStreamContext

from services.bounce.errors import StaffApiError
from services.bounce.queue_cli import request
from services.bounce.stores import Stores, patron_key
from shared.contracts.bounce import BounceDigest, PatronFlagUpdated
from shared.contracts.ils import PatronEmailChanged
from shared.contracts.mail import MailOutcome
from shared.contracts.schedule import TriggerFired
from shared.contracts.staff import (
    QUEUE_CONTACTED,
    QUEUE_LIST,
    QUEUE_RESOLVE,
    QUEUE_SHOW,
    QueueListReply,
    QueueListRequest,
    QueueShowReply,
    QueueShowRequest,
    QueueUpdateReply,
    QueueUpdateRequest,
)
from shared.mailrecord import address_key
from tests.integration.bounce_service.helpers import ROOT, emit, running_service, settings_for
from tests.support.nats import stream_messages, wait_for
from tools.localservers import Dovecot, NatsServer

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def failed(patron_id: str, recipient: str, code: int, text: str) -> MailOutcome:
    return MailOutcome(
        event_id=f"outcome-{patron_id}-failed",
        occurred_at=NOW,
        mail_key=f"online_loan:{patron_id}:b",
        kind="online_loan",
        outcome="failed",
        patron_id=patron_id,
        cause="smtp_permanent",
        recipient=recipient,
        recipient_domain=recipient.split("@")[1],
        carrier_group="other",
        smtp_code=code,
        smtp_text=text,
    )


def cli(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OTAYORI_NATS_URL": nats_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "otayori.cli", "queue", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_queue_api_and_cli_round_trip(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    stores = await Stores.open(js)
    async with running_service(settings_for(fresh_nats, dovecot, imap_enabled=False)):
        await emit(js, failed("P-5XX", "nobody@example.jp", 550, "5.1.1 User unknown"))
        await wait_for(lambda: _status(stores, "P-5XX", "open"), timeout=30)
        listed = await request(QUEUE_LIST, QueueListRequest(status="open"), QueueListReply)
        assert [e.patron_id for e in listed.entries] == ["P-5XX"]
        shown = await request(QUEUE_SHOW, QueueShowRequest(patron_id="P-5XX"), QueueShowReply)
        assert shown.guidance is not None and shown.guidance.category == "bad_address"
        assert [o.outcome for o in shown.recent_outcomes] == ["failed"]
        out = await asyncio.to_thread(cli, fresh_nats.url, "show", "P-5XX")
        assert out.returncode == 0, out.stderr
        assert "利用者番号: P-5XX" in out.stdout and "登録し直" in out.stdout
        out = await asyncio.to_thread(cli, fresh_nats.url, "contacted", "P-5XX", "--note", "留守電")
        assert out.returncode == 0 and "contacted" in out.stdout, out.stderr
        out = await asyncio.to_thread(cli, fresh_nats.url, "list", "--status", "contacted")
        assert "P-5XX" in out.stdout
        done = await request(
            QUEUE_RESOLVE,
            QueueUpdateRequest(patron_id="P-5XX", note="再登録済み"),
            QueueUpdateReply,
        )
        assert done.entry is not None and done.entry.status == "resolved"
        assert (await stores.suppressions.get(address_key("nobody@example.jp")))[0] is None
        with pytest.raises(StaffApiError) as err:
            await request(
                QUEUE_CONTACTED, QueueUpdateRequest(patron_id="P-NONE", note="x"), QueueUpdateReply
            )
        assert err.value.code == "not_in_queue"
        out = await asyncio.to_thread(cli, fresh_nats.url, "show", "P-NONE")
        assert out.returncode == 2 and "P-NONE" in out.stderr and "ありません" in out.stderr
    updates = await stream_messages(js, "BOUNCE", "patron.flag_updated")
    statuses = [PatronFlagUpdated.model_validate_json(m.data).status for m in updates]  # type: ignore[attr-defined]
    assert statuses == ["contacted", "resolved"]


async def test_an_email_change_resolves_the_flag_and_the_digest_lists_open_ones(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    stores = await Stores.open(js)
    async with running_service(settings_for(fresh_nats, dovecot, imap_enabled=False)):
        await emit(js, failed("P-A", "a@example.jp", 550, "5.1.1 User unknown"))
        await emit(js, failed("P-B", "b@example.jp", 554, "5.7.1 rejected as spam"))
        await wait_for(lambda: _status(stores, "P-A", "open"), timeout=30)
        await wait_for(lambda: _status(stores, "P-B", "open"), timeout=30)
        assert (await stores.suppressions.get(address_key("a@example.jp")))[0] is not None
        change = PatronEmailChanged(
            occurred_at=NOW, patron_id="P-A", new_email="a2@example.jp", old_email="a@example.jp"
        )
        await emit(js, change)
        await wait_for(lambda: _status(stores, "P-A", "resolved"), timeout=30)
        assert (await stores.suppressions.get(address_key("a@example.jp")))[0] is None
        fired = TriggerFired(
            occurred_at=NOW,
            trigger="weekly-bounce-digest",
            nominal_time=NOW,
            occurrence_id="weekly-bounce-digest:2026-12-07T09:00+09:00",
            run_date=date(2026, 12, 7),
        )
        await emit(js, fired)

        async def digested() -> bool:
            return bool(await stream_messages(js, "BOUNCE", "bounce.digest"))

        await wait_for(digested, timeout=30)
    (msg,) = await stream_messages(js, "BOUNCE", "bounce.digest")
    digest = BounceDigest.model_validate_json(msg.data)  # type: ignore[attr-defined]
    assert digest.open_by_category == {"domain_rejection": 1}
    assert [e.patron_id for e in digest.oldest_open] == ["P-B"]


async def _status(stores: Stores, patron_id: str, status: str) -> bool:
    entry, _ = await stores.queue.get(patron_key(patron_id))
    return entry is not None and entry.status == status
