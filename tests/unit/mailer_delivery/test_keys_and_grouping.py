"""Business keys and grouping per patron and run (the exactly-once core)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.mailer.plan import eligibility, grouping
from services.mailer.plan.keys import business_key, key_and_id, kv_token
from services.mailer.plan.model import PendingEntry
from shared.clock import JST
from tests.integration.mailer.events import hold_ready, online_loan, overdue

RUN = "batch-2026-12-03"


def _entry(*events: object) -> PendingEntry:
    entry = PendingEntry(kind="online_loan", patron_id="P1")
    for event in events:
        added = grouping.add_event(entry, event)  # type: ignore[arg-type]
        if added is not None:
            entry = added
    return entry


def test_the_business_key_ignores_event_ids_and_item_order() -> None:
    a, b = online_loan("P1", "L1", "L2"), online_loan("P1", "L2", "L1")
    assert key_and_id("online_loan", "P1", RUN, [a]) == key_and_id("online_loan", "P1", RUN, [b])


def test_the_business_key_names_kind_patron_run_and_items() -> None:
    key = business_key("overdue", "P1", "overdue-2026-12-05", ["L1@1"])
    assert key.startswith("overdue:P1:overdue-2026-12-05:")
    assert business_key("overdue", "P1", "overdue-2026-12-05", ["L1@2"]) != key
    assert business_key("bounce_digest", None, "digest-x", ["x"]).startswith("bounce_digest:staff:")


def test_kv_tokens_are_safe_and_stable() -> None:
    assert kv_token("P0001") == "P0001"
    odd = kv_token("P:1.2")
    assert odd.startswith("h-") and odd == kv_token("P:1.2") and odd != kv_token("P:1.3")


def test_a_redelivered_or_reposted_event_is_collected_once() -> None:
    first = online_loan("P1", "L1")
    entry = _entry(first)
    assert grouping.add_event(entry, first) is None
    assert grouping.add_event(entry, first.model_copy(update={"event_id": "resent-1"})) is None
    assert grouping.add_event(entry, online_loan("P1", "L2")) is not None


def test_a_run_takes_every_eligible_event_of_the_patron() -> None:
    entry = _entry(online_loan("P1", "L1"), online_loan("P1", "L2", "L3"))
    result = grouping.assign(entry, RUN, eligibility.always, eligibility.never)
    assert result.changed and len(result.taken) == 2
    assert grouping.release(result.entry, RUN).events == ()


def test_a_rerun_keeps_the_frozen_set_and_leaves_new_events_for_later() -> None:
    first = grouping.assign(
        _entry(online_loan("P1", "L1")), RUN, eligibility.always, eligibility.never
    )
    later = grouping.add_event(first.entry, online_loan("P1", "L9"))
    assert later is not None
    again = grouping.assign(later, RUN, eligibility.always, eligibility.never)
    assert not again.changed
    assert again.taken == first.taken
    remaining = grouping.release(again.entry, RUN)
    assert [p.run for p in remaining.events] == [None]


def test_hold_ready_waits_until_the_day_after_securing() -> None:
    secured = datetime(2026, 12, 7, 8, 0, tzinfo=JST)
    event = hold_ready("P1", "H1", secured, date(2026, 12, 15))
    assert not eligibility.hold_ready_eligible(date(2026, 12, 7))(event)
    assert eligibility.hold_ready_eligible(date(2026, 12, 8))(event)
    assert eligibility.hold_ready_useless(date(2026, 12, 16))(event)


def test_the_securing_day_is_the_jst_day() -> None:
    # 2026-12-06 16:00 UTC is 2026-12-07 01:00 JST: secured on the 7th, mailed from the 8th.
    secured = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    event = hold_ready("P1", "H1", secured, date(2026, 12, 15))
    assert not eligibility.hold_ready_eligible(date(2026, 12, 7))(event)
    assert eligibility.hold_ready_eligible(date(2026, 12, 8))(event)


def test_returned_loans_drop_out_of_reminders() -> None:
    entry = PendingEntry(kind="overdue", patron_id="P1")
    for loan in ("L1", "L2"):
        added = grouping.add_event(entry, overdue("P1", loan))
        assert added is not None
        entry = added
    assert len(grouping.drop_loans(entry, {"L1"}).events) == 1
    result = grouping.assign(
        entry,
        "overdue-x",
        eligibility.overdue_eligible({"L2"}),
        eligibility.overdue_useless({"L2"}),
    )
    assert [e.loan_id for e in result.taken] == ["L1"]  # type: ignore[union-attr]
    assert len(result.entry.events) == 1
