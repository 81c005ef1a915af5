"""Correlation order: VERP token > original Message-ID > address; a forged token: none."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.bounce.correlate import SentLookup, correlate, mail_ids_in
from shared.mailrecord import MailRecord
from shared.verp import make_token
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY

VERP_MAIL = ledger_record("online_loan:P-VERP:batch-2026-12-03", "P-VERP", "a@docomo.ne.jp")
MSGID_MAIL = ledger_record("hold_ready:P-MSGID:h1", "P-MSGID", "a@docomo.ne.jp")


@dataclass
class Lookups:
    mails: dict[str, MailRecord] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)

    async def mail(self, mail_id: str) -> MailRecord | None:
        return self.mails.get(mail_id)

    async def patrons_for(self, address: str) -> list[str]:
        return self.addresses.get(address.lower(), [])


def lookups() -> Lookups:
    return Lookups(
        {VERP_MAIL.mail_id: VERP_MAIL, MSGID_MAIL.mail_id: MSGID_MAIL},
        {"a@docomo.ne.jp": ["P-FAMILY-2", "P-FAMILY-1"]},
    )


def token(record: MailRecord, key: bytes = KEY) -> str:
    return make_token(key, record.mail_id)


async def test_a_verified_verp_token_wins_over_message_id_and_address() -> None:
    c = await correlate(lookups(), KEY, "a@docomo.ne.jp", token(VERP_MAIL), MSGID_MAIL.message_id)
    assert (c.method, c.patron_ids, c.verp) == ("verp", ("P-VERP",), "verified")
    assert c.record == VERP_MAIL


async def test_the_message_id_is_used_when_there_is_no_token() -> None:
    c = await correlate(lookups(), KEY, "a@docomo.ne.jp", "", MSGID_MAIL.message_id)
    assert (c.method, c.patron_ids, c.verp) == ("message_id", ("P-MSGID",), "absent")


async def test_the_address_flags_every_patron_sharing_it() -> None:
    c = await correlate(lookups(), KEY, "A@docomo.ne.jp", "", "<foreign@example.com>")
    assert (c.method, c.patron_ids) == ("address", ("P-FAMILY-1", "P-FAMILY-2"))


async def test_a_forged_token_concerns_nobody_not_even_through_the_address() -> None:
    """A token whose MAC fails is evidence of forgery: no later method is tried, since the
    rest of that message (Final-Recipient, returned Message-ID) is as untrusted."""
    forged = token(VERP_MAIL, key=b"attacker-key")
    c = await correlate(lookups(), KEY, "a@docomo.ne.jp", forged, "")
    assert (c.method, c.patron_ids, c.record, c.verp) == ("none", (), None, "forged")
    c2 = await correlate(lookups(), KEY, "a@docomo.ne.jp", forged, MSGID_MAIL.message_id)
    assert (c2.method, c2.patron_ids, c2.verp) == ("none", (), "forged")


async def test_a_malformed_token_at_our_domain_counts_as_forged() -> None:
    c = await correlate(lookups(), KEY, "a@docomo.ne.jp", "not-a-token", "")
    assert (c.method, c.patron_ids, c.verp) == ("none", (), "forged")


async def test_a_valid_token_for_an_unknown_mail_falls_back() -> None:
    unknown = make_token(KEY, "0" * 32)
    c = await correlate(lookups(), KEY, "a@docomo.ne.jp", unknown, "")
    assert c.method == "address"


async def test_nothing_matches_gives_no_patrons() -> None:
    c = await correlate(lookups(), KEY, "stranger@example.com", "", "")
    assert (c.method, c.patron_ids) == ("none", ())


def test_mail_ids_are_found_in_the_raw_bounce_before_classifying() -> None:
    raw = build_dsn(
        recipient="a@docomo.ne.jp",
        verp_to=verp_for(KEY, VERP_MAIL),
        original_message_id=MSGID_MAIL.message_id,
    )
    ids = mail_ids_in(raw, KEY)
    assert ids.verp == VERP_MAIL.mail_id and not ids.forged_token
    assert MSGID_MAIL.mail_id in ids.by_message_id
    forged = mail_ids_in(build_dsn(recipient="x@y.jp", verp_to=verp_for(b"bad", VERP_MAIL)), KEY)
    assert forged.verp is None and forged.forged_token


def test_the_sent_lookup_answers_for_message_ids_and_verified_tokens_only() -> None:
    sent = SentLookup(KEY, {VERP_MAIL.mail_id: VERP_MAIL})
    assert sent(VERP_MAIL.message_id) == "a@docomo.ne.jp"
    assert sent(token(VERP_MAIL)) == "a@docomo.ne.jp"
    assert sent(token(VERP_MAIL, key=b"other")) is None
    assert sent("<unrelated@example.com>") is None
