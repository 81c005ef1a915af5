"""The weekly fan-out's speed paths answer exactly as the general code they stand in for.

``grouping.assign`` tells a change by identity and builds the new entry directly,
``release`` likewise; ``key_and_id`` feeds the digest a list; the store decodes an entry
with a model narrowed to its key's kind of event and encodes it straight to bytes. Same
entries (fields set included), same JSON bytes, same keys and ids, same errors.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, get_args

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.mailer.collect.store import _NARROW, decode_entry, encode_entry
from services.mailer.plan import grouping, keys
from services.mailer.plan.model import KIND_OF_EVENT, PendingEntry, PendingEvent, SourceEvent
from tests.unit.mailer_delivery.pending_strategies import (
    RUNS,
    assert_same_entry,
    entries,
    predicates,
    reference_assign,
    reference_business_key,
    reference_key_and_id,
    reference_release,
    release_days,
    siblings,
    source_events,
)

_runs = st.sampled_from(RUNS)
_steps = st.lists(
    st.tuples(st.sampled_from(["assign", "release"]), _runs, predicates, predicates, siblings),
    min_size=1,
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(entries(), _steps, release_days)
def test_assign_and_release_answer_as_the_general_code_step_by_step(
    entry: PendingEntry, steps: list[tuple[str, str, Any, Any, Any]], today: date | None
) -> None:
    fast, general = entry, entry
    for step, run, eligible, useless, sibling in steps:
        if step == "assign":
            mine = grouping.assign(fast, run, eligible, useless, sibling)
            theirs = reference_assign(general, run, eligible, useless, sibling)
            assert mine.changed == theirs.changed
            assert mine.taken == theirs.taken
            assert all(a is b for a, b in zip(mine.taken, theirs.taken, strict=True))
            assert (mine.entry is fast) == (theirs.entry is general)
            fast, general = mine.entry, theirs.entry
        else:
            released = grouping.release(fast, run, today)
            reference = reference_release(general, run, today)
            assert (released is fast) == (reference is general)
            fast, general = released, reference
        assert_same_entry(fast, general)
        assert encode_entry(fast) == general.model_dump_json().encode()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["online_loan", "hold_ready", "overdue", "bounce_digest"]),
    st.one_of(st.none(), st.just(""), st.sampled_from(["P1", "A0012345"])),
    st.text(max_size=20),
    st.lists(source_events, max_size=4),
)
def test_key_and_id_are_the_general_ones(
    kind: Any, patron_id: str | None, run_id: str, events: list[SourceEvent]
) -> None:
    assert keys.key_and_id(kind, patron_id, run_id, events) == reference_key_and_id(
        kind, patron_id, run_id, events
    )
    assert keys.key_and_id(kind, patron_id, run_id, iter(events)) == reference_key_and_id(
        kind, patron_id, run_id, events
    )


@given(st.lists(st.text(max_size=12), max_size=5))
@example([])
@example([""])
@example(["b", "a", "b"])
@example(["a\nb", "a"])
def test_business_key_digests_the_sorted_distinct_items(items: list[str]) -> None:
    assert keys.business_key("overdue", "P1", "r", items) == reference_business_key(
        "overdue", "P1", "r", items
    )
    assert keys.business_key("overdue", "P1", "r", iter(items)) == reference_business_key(
        "overdue", "P1", "r", items
    )


# -- decoding entries ----------------------------------------------------------------------

_KEYS = ("ol.2026-12-03.P1", "hr.P1", "od.P1", "addr.P1", "fired.ol.2026-12-03", "x")


def _decoded(decode: Any) -> tuple[str, Any]:
    try:
        return "ok", decode()
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # ``ctx`` may hold the validator's exception object: compare its words.
        return "error", (exc.title, [{**e, "ctx": repr(e.get("ctx"))} for e in errors])


def _mutated(document: dict[str, Any], how: str, where: int) -> dict[str, Any]:
    """One edit of an entry's JSON document: the shapes a bad or odd value may take."""
    events = document.get("events") or []
    event = events[where % len(events)]["event"] if events else None
    if how == "drop_optional":
        document.pop(["events", "mailed"][where % 2], None)
    elif how == "drop_run" and events:
        events[where % len(events)].pop("run", None)
    elif how == "drop_event_default" and event is not None:
        event.pop("language", None)
        event.pop("schema_version", None)
    elif how == "drop_required" and event is not None:
        # Not ``event_id``: its default is a fresh random id at each decode.
        droppable = sorted(set(event) - {"event_id"})
        event.pop(droppable[where % len(droppable)])
    elif how == "extra" and event is not None:
        event["unexpected"] = 1
    elif how == "extra_top":
        document["unexpected"] = []
    elif how == "bad_value" and event is not None:
        field = sorted(event)[where % len(event)]
        event[field] = [None, "x", 99, {}, -1][where % 5]
    elif how == "foreign_event" and len(events) > 1:
        events[0]["event"], events[-1]["event"] = events[-1]["event"], events[0]["event"]
    elif how == "bad_kind":
        document["kind"] = "nope"
    return document


@settings(max_examples=500, deadline=None)
@given(
    entries(),
    st.sampled_from(_KEYS),
    st.sampled_from(
        [
            "none",
            "drop_optional",
            "drop_run",
            "drop_event_default",
            "drop_required",
            "extra",
            "extra_top",
            "bad_value",
            "foreign_event",
            "bad_kind",
        ]
    ),
    st.integers(0, 50),
)
def test_decoding_an_entry_gives_the_full_models_entry_or_error(
    entry: PendingEntry, key: str, how: str, where: int
) -> None:
    document = _mutated(json.loads(entry.model_dump_json()), how, where)
    data = json.dumps(document, ensure_ascii=False).encode()
    fast = _decoded(lambda: decode_entry(key, data))
    general = _decoded(lambda: PendingEntry.model_validate_json(data))
    assert fast[0] == general[0]
    if fast[0] == "error":
        assert fast == general
        return
    assert_same_entry(fast[1], general[1], decoded=True)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[]", b"null", b'{"kind":"online_loan"}', b"\xff", b'{"kind": 1}']
)
def test_a_broken_value_gets_the_full_models_error(data: bytes) -> None:
    for key in _KEYS:
        assert _decoded(lambda k=key: decode_entry(k, data)) == _decoded(
            lambda: PendingEntry.model_validate_json(data)
        )


def test_every_collected_kind_has_its_narrow_model_mirroring_the_full_one() -> None:
    assert set(_NARROW) == {"online_loan", "hold_ready", "overdue"}
    for kind, narrow in _NARROW.items():
        event_type = next(t for t, k in KIND_OF_EVENT.items() if k == kind)
        assert issubclass(narrow, PendingEntry)
        assert narrow.model_config == PendingEntry.model_config
        _assert_same_fields(narrow, PendingEntry, differing="events")
        event_model, dots = get_args(narrow.model_fields["events"].annotation)
        assert dots is Ellipsis and issubclass(event_model, PendingEvent)
        assert event_model.model_config == PendingEvent.model_config
        assert event_model.model_fields["event"].annotation is event_type
        _assert_same_fields(event_model, PendingEvent, differing="event")


def _assert_same_fields(narrow: type[Any], full: type[Any], *, differing: str) -> None:
    assert list(narrow.model_fields) == list(full.model_fields)
    for name, field in full.model_fields.items():
        mine = narrow.model_fields[name]
        assert mine.is_required() == field.is_required(), name
        assert mine.default == field.default, name
        assert mine.metadata == field.metadata, name
        if name != differing:
            assert mine.annotation == field.annotation, name


def test_pending_kind_names_the_kind_of_every_entry_key_and_nothing_else() -> None:
    thursday = date(2026, 12, 3)
    assert keys.pending_kind(keys.online_loan_pending_key(thursday, "P:1")) == "online_loan"
    assert keys.pending_kind(keys.hold_ready_pending_key("P1")) == "hold_ready"
    assert keys.pending_kind(keys.overdue_pending_key("P1")) == "overdue"
    for other in (keys.address_change_key("P1"), keys.fired_marker(thursday), "ol", "", "olx.1"):
        assert keys.pending_kind(other) is None
