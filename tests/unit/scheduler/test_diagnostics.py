"""Who ran a command, and what a failed tick logs: without secrets, never a crash."""

from __future__ import annotations

import getpass
import os
import socket

import pytest

from services.scheduler.commands import operator_name
from services.scheduler.engine import describe


def test_the_operator_is_the_login_name_at_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "staff")
    assert operator_name() == f"staff@{socket.gethostname()}"


@pytest.mark.parametrize("error", [KeyError("getpwuid(): uid not found"), OSError("no user")])
def test_without_a_login_name_the_operator_is_the_uid(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_login() -> str:
        raise error

    monkeypatch.setattr(getpass, "getuser", no_login)
    assert operator_name() == f"uid:{os.getuid()}@{socket.gethostname()}"


def test_a_failed_tick_is_described_briefly_and_without_credentials() -> None:
    error = ConnectionError("cannot reach nats://otayori:s3cret@nats.internal:4222 " + "x" * 300)
    text = describe(error)
    assert "s3cret" not in text and "nats://***@nats.internal:4222" in text
    assert len(text) == 200
