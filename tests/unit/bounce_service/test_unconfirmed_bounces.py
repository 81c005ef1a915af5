"""Only a bounce we can tie to our own mail suppresses an address; a forged token: nobody.

Anybody can send a hand-written DSN to plain ``bounce@``: a patron found by the address
alone is flagged for staff to check (``correlation: address``, ``verp: absent``), but
their address is never suppressed. A verified VERP token, our Message-ID in the ledger or
the mailer's own outcome confirms the mail, and only those suppress.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from services.bounce.correlate import MailIds
from services.bounce.metrics import BounceMetrics
from services.bounce.processor import BounceProcessor
from services.bounce.queue import Policy
from services.bounce.stores import AddressPatrons, Stores, patron_key
from shared.clock import ManualClock
from shared.contracts.bounce import BounceClassified, PatronFlagged
from shared.contracts.mail import MailOutcome
from shared.mailrecord import address_key
from shared.verp import envelope_sender, make_token
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, Recorder, World, fake_stores, world

ADDR = "taro@docomo.ne.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", ADDR)
#: A ``mail_domain`` the classifier does not know: only the processor's own scan of the
#: raw bounce sees a token at it.
OTHER_DOMAIN = "mail.example-library.jp"


async def indexed(w: World | None = None) -> World:
    w = w or world()
    await index(w.stores)
    return w


async def index(stores: Stores) -> None:
    value = AddressPatrons(patron_ids=["P1"], updated_at=T0)
    await stores.addresses.put(address_key(ADDR), value)


def processor_for(domain: str, stores: Stores, publish: Recorder) -> BounceProcessor:
    metrics = BounceMetrics(CollectorRegistry())
    return BounceProcessor(stores, publish, metrics, ManualClock(T0), key=KEY, domain=domain,
                           policy=Policy(), max_bytes=5_000_000)  # fmt: skip


async def test_a_bounce_without_a_token_flags_for_staff_but_suppresses_nothing() -> None:
    w = await indexed()
    assert await w.processor.handle_message(build_dsn(recipient=ADDR)) == "processed"
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and (entry.status, entry.category) == ("open", "bad_address")
    (ev,) = entry.evidence
    assert (ev.correlation, ev.verp) == ("address", "absent")  # unconfirmed, and says so
    assert entry.address_keys == []
    assert await w.stores.suppressions.get(address_key(ADDR)) == (None, 0)
    assert len(w.publish.of(PatronFlagged)) == 1


async def test_a_verified_token_for_a_mail_the_ledger_lost_suppresses_nothing() -> None:
    """The token proves the mail was ours, not which patron the written address is."""
    w = await indexed()
    await w.processor.handle_message(build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC)))
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open"
    assert (entry.evidence[0].correlation, entry.evidence[0].verp) == ("address", "verified")
    assert await w.stores.suppressions.get(address_key(ADDR)) == (None, 0)


async def test_a_confirmed_bounce_after_an_unconfirmed_one_suppresses() -> None:
    w = await indexed()
    await w.processor.handle_message(build_dsn(recipient=ADDR))
    await w.stores.ledger.put(REC.mail_id, REC)
    raw = build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC), bounce_message_id="<dsn-2@mx>")
    await w.processor.handle_message(raw)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.address_keys == [address_key(ADDR)]
    sup, _ = await w.stores.suppressions.get(address_key(ADDR))
    assert sup is not None and sup.patron_ids == ["P1"]


async def test_the_mailers_own_refusal_still_suppresses() -> None:
    w = world()
    outcome = MailOutcome(
        occurred_at=datetime(2026, 12, 5, 0, 0, tzinfo=UTC), mail_key="online_loan:P1:b",
        kind="online_loan", outcome="failed", patron_id="P1", cause="smtp_permanent",
        recipient=ADDR, recipient_domain="docomo.ne.jp", carrier_group="docomo",
        smtp_code=550, smtp_text="Unknown user", smtp_command="rcpt",
    )  # fmt: skip
    await w.processor.handle_smtp_failure(outcome)
    sup, _ = await w.stores.suppressions.get(address_key(ADDR))
    assert sup is not None and sup.patron_ids == ["P1"]


async def test_a_forged_token_only_the_scan_sees_flags_nobody() -> None:
    """The classifier looks for tokens at its own domain; the processor's scan of the raw
    bounce finds a token at any domain. A forged one there must stop the address
    fallback just as one the classifier saw does."""
    stores, publish = fake_stores(), Recorder()
    await index(stores)
    proc = processor_for(OTHER_DOMAIN, stores, publish)
    forged = f"bounce+{REC.mail_id}.aaaaaaaaaaaaaaaa@{OTHER_DOMAIN}"
    assert await proc.handle_message(build_dsn(recipient=ADDR, verp_to=forged)) == "processed"
    assert await stores.queue.get(patron_key("P1")) == (None, 0)
    assert await stores.suppressions.get(address_key(ADDR)) == (None, 0)
    (event,) = publish.of(BounceClassified)
    assert isinstance(event, BounceClassified)
    assert (event.correlation, event.patron_ids) == ("none", [])


async def test_a_genuine_token_only_the_scan_sees_correlates_by_verp() -> None:
    stores, publish = fake_stores(), Recorder()
    proc = processor_for(OTHER_DOMAIN, stores, publish)
    rec = ledger_record("online_loan:P2:batch-2026-12-03", "P2", ADDR)
    await stores.ledger.put(rec.mail_id, rec)
    raw = build_dsn(recipient=ADDR, verp_to=envelope_sender(KEY, rec.mail_id, OTHER_DOMAIN))
    await proc.handle_message(raw)
    entry, _ = await stores.queue.get(patron_key("P2"))
    assert entry is not None and entry.status == "open"
    assert (entry.evidence[0].correlation, entry.evidence[0].verp) == ("verp", "verified")
    sup, _ = await stores.suppressions.get(address_key(ADDR))
    assert sup is not None and sup.patron_ids == ["P2"]


def test_a_forged_token_anywhere_in_the_bounce_wins_over_the_classifiers() -> None:
    genuine = make_token(KEY, REC.mail_id)
    forged = make_token(b"attacker-key", REC.mail_id)
    assert MailIds(forged_token=True, token=forged).token_for(genuine) == forged
    assert MailIds(verp=REC.mail_id, token=genuine).token_for("") == genuine
    assert MailIds(verp=REC.mail_id, token=genuine).token_for("other") == "other"
    assert MailIds().token_for("") == ""
