"""``free_port``: a server's ports, picked before any is bound, are distinct (found by a
review: nats-server's client and monitor ports were two independent picks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools import localservers


def test_a_port_picked_already_is_not_picked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: Iterator[int] = iter([24000, 24000, 24001])
    monkeypatch.setattr(localservers.random, "randrange", lambda start, stop: next(draws))
    monkeypatch.setattr(localservers, "port_free", lambda port: True)  # nothing bound yet
    first = localservers.free_port()
    assert localservers.free_port(first) == 24001
    assert 20000 <= first < 32000  # below the ephemeral range
