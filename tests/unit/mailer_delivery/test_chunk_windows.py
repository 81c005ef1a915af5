"""A run's entries are cut into chunks of one carrier group each, none larger than asked."""

from __future__ import annotations

import random

import pytest

from services.mailer.plan.chunks import windows


@pytest.mark.parametrize("seed", range(20))
def test_windows_keep_every_item_once_in_groups_no_larger_than_asked(seed: int) -> None:
    rng = random.Random(seed)
    items = [(i, rng.choice("abcde")) for i in range(rng.randrange(0, 200))]
    size = rng.randrange(1, 20)
    cut = windows(items, lambda item: item[1], size)
    assert sorted(i for w in cut for i in w) == sorted(items)
    for window in cut:
        assert 1 <= len(window) <= size
        assert len({group for _, group in window}) == 1
    # Within a group, order is kept and only the last window may be short.
    for group in {g for _, g in items}:
        mine = [w for w in cut if w[0][1] == group]
        assert [i for w in mine for i in w] == [i for i in items if i[1] == group]
        assert all(len(w) == size for w in mine[:-1])
    # The groups take turns: the k-th window of every group before any group's (k+1)-th.
    turn: dict[str, int] = {}
    turns = []
    for window in cut:
        group = window[0][1]
        turns.append(turn.get(group, 0))
        turn[group] = turns[-1] + 1
    assert turns == sorted(turns)


def test_a_carrier_with_many_patrons_does_not_come_first_as_a_block() -> None:
    items = [("docomo", i) for i in range(40)] + [("au", i) for i in range(3)]
    cut = windows(items, lambda item: item[0], 16)
    assert [w[0][0] for w in cut] == ["docomo", "au", "docomo", "docomo"]


def test_a_window_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError):
        windows([1, 2], str, 0)
