"""A run's mails travel in chunks of one carrier group; each mail is still decided alone.

A mail of a chunk that is not done at once (deferred, refused by compose) is handed off as
its own work item and takes the single item's path; a chunk delivered again sends nothing
twice.
"""

from __future__ import annotations

from collections import Counter

from nats.js import JetStreamContext

from services.mailer.plan.model import CHUNK_SIZE, MailWork, WorkChunk, carry, decode_send
from shared.carriers import carrier_group
from tests.integration.mailer.conftest import SATURDAY, Mailer, MailerFactory
from tests.integration.mailer.events import online_loan, online_loan_work, saturday_trigger
from tests.support.nats import stream_messages


def _patrons(n: int, domain: str, prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}{i}", f"{prefix.lower()}{i}@{domain}") for i in range(n)]


async def _carried(js: JetStreamContext) -> list[MailWork | WorkChunk]:
    msgs = await stream_messages(js, "MAIL", "mail.send.>")
    return [decode_send(m.subject, m.data) for m in msgs]  # type: ignore[attr-defined]


async def _collect(mailer: Mailer, patrons: list[tuple[str, str]]) -> None:
    for patron, email in patrons:
        await mailer.publish(online_loan(patron, f"L-{patron}", email=email))
    await mailer.wait_idle("mailer-ils")


async def test_a_run_carries_its_mails_in_chunks_of_one_carrier_group(mailer: Mailer) -> None:
    patrons = _patrons(20, "docomo.ne.jp", "D") + _patrons(20, "example.jp", "X")
    await _collect(mailer, patrons)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(40, "sent")
    await mailer.wait_idle()

    carried = await _carried(mailer.js)
    assert all(isinstance(c, WorkChunk) for c in carried)
    chunks = [c for c in carried if isinstance(c, WorkChunk)]
    assert sorted(len(c.works) for c in chunks) == [4, 4, CHUNK_SIZE, CHUNK_SIZE]
    for chunk in chunks:
        assert len({carrier_group(w.recipient) for w in chunk.works}) == 1
    assert Counter(w.patron_id for c in chunks for w in c.works) == Counter(p for p, _ in patrons)
    received = Counter(r.message_id for r in mailer.smtp.received)
    assert len(received) == 40 and set(received.values()) == {1}


async def test_a_deferred_mail_of_a_chunk_is_handed_off_and_sent_once(mailer: Mailer) -> None:
    patrons = _patrons(5, "example.jp", "P")
    refused = patrons[2][1]
    seen: Counter[str] = Counter()

    def script(phase: str, rcpt: str) -> str | None:
        if phase == "rcpt" and rcpt == refused:
            seen[rcpt] += 1
            return "452 4.2.2 Mailbox full" if seen[rcpt] == 1 else None
        return None

    mailer.smtp.set_script(script)
    await _collect(mailer, patrons)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(5, "sent")
    await mailer.wait_idle()

    (deferred,) = await mailer.outcomes("deferred")
    assert deferred.patron_id == "P2" and deferred.attempt == 1
    sent = {o.patron_id: o for o in await mailer.outcomes("sent")}
    assert sent["P2"].attempt == 2 and sent["P2"].message_id == deferred.message_id
    assert {o.attempt for p, o in sent.items() if p != "P2"} == {1}
    carried = await _carried(mailer.js)
    singles = [c for c in carried if isinstance(c, MailWork)]
    assert [w.patron_id for w in singles] == ["P2"]  # the hand-off, published once
    assert mailer.smtp.count() == 5
    assert Counter(r.message_id for r in mailer.smtp.received).most_common(1)[0][1] == 1


async def test_a_chunk_delivered_again_sends_nothing_twice(mailer: Mailer) -> None:
    patrons = _patrons(6, "example.jp", "R")
    await _collect(mailer, patrons)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(6, "sent")
    await mailer.wait_idle()
    (chunk,) = await _carried(mailer.js)
    assert isinstance(chunk, WorkChunk)

    # The same chunk again under another id (as a re-fired run cut differently would):
    # every mail is found done in the ledger.
    again = chunk.model_copy(update={"event_id": "chunk-again-0001"})
    await mailer.publish(again)
    await mailer.wait_idle()
    assert mailer.smtp.count() == 6
    assert len(await mailer.outcomes("sent")) == 6  # replayed outcomes stored once
    assert not await mailer.dead_letters()


async def test_a_mail_of_a_chunk_that_cannot_be_composed_ends_in_its_own_dead_letter(
    mailer: Mailer,
) -> None:
    good = online_loan_work("C1", "L-C1", "c1@example.jp")
    broken = online_loan_work("C2", "L-C2", "c2@example.jp").model_copy(update={"batch": None})
    chunk = carry([good, broken], SATURDAY)
    assert isinstance(chunk, WorkChunk)
    await mailer.publish(chunk)
    await mailer.wait_outcomes(1, "sent")
    await mailer.wait_idle()

    (letter,) = await mailer.dead_letters()
    assert letter.original_subject == "mail.send.online_loan"
    assert letter.original_msg_id == f"work-{broken.mail_id}"
    assert "cannot compose" in letter.reason and "batch" in letter.reason
    (sent,) = await mailer.outcomes("sent")
    assert sent.patron_id == "C1"
    assert [r.message_id for r in mailer.smtp.received] == [sent.message_id]


async def test_a_carrier_held_back_by_its_pacer_does_not_hold_back_the_others(
    mailer_factory: MailerFactory,
) -> None:
    # docomo takes one mail, then one per 1,000 s (a carrier slowed down after its 421s);
    # two mails in flight in all. Without admission per group, docomo's waiting mails
    # would hold both slots and no example.jp mail would go out until docomo's are through.
    mailer = mailer_factory(
        send_concurrency=2,
        group_concurrency="docomo=1,other=8",
        group_rate="docomo=0.001,other=0",
    )
    await mailer.start()
    patrons = [
        p
        for pair in zip(
            _patrons(40, "docomo.ne.jp", "D"), _patrons(40, "example.jp", "X"), strict=True
        )
        for p in pair
    ]
    await _collect(mailer, patrons)
    await mailer.publish(saturday_trigger())
    await mailer.wait_outcomes(41, "sent")

    sent = Counter(carrier_group(o.recipient) for o in await mailer.outcomes("sent"))
    assert sent == {"other": 40, "docomo": 1}
