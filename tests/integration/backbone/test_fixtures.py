"""The real servers the other tests stand on start, answer and stop."""

from __future__ import annotations

import aioimaplib
import aiosmtplib
from nats.js import JetStreamContext

from shared.bus.topology import BUCKETS, STREAMS
from tests.support.dovecot import Dovecot
from tests.support.smtp import RecordingSMTP


async def test_nats_fixture_is_provisioned_with_every_stream_and_bucket(
    js: JetStreamContext,
) -> None:
    names = {s.config.name for s in await js.streams_info()}
    assert {s.name for s in STREAMS} <= names
    for bucket in BUCKETS:
        kv = await js.key_value(bucket.name)
        assert (await kv.status()).bucket == bucket.name


async def test_recording_smtp_stores_an_accepted_mail(smtp_server: RecordingSMTP) -> None:
    await aiosmtplib.send(
        b"Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n",
        sender="bounce@plib.pref.aomori.lg.jp",
        recipients=["patron@example.jp"],
        hostname="127.0.0.1",
        port=smtp_server.port,
    )
    assert [r.message_id for r in smtp_server.received] == ["<a@b>"]


async def test_dovecot_accepts_login_and_append(dovecot: Dovecot) -> None:
    client = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(dovecot.user, dovecot.password)).result == "OK"
    assert (await client.append(b"Subject: x\r\n\r\nbody\r\n", mailbox="INBOX")).result == "OK"
    response = await client.select("INBOX")
    assert response.result == "OK"
    assert any(b"1 EXISTS" in line for line in response.lines if isinstance(line, bytes))
    await client.logout()
