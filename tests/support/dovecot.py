"""A private Dovecot IMAP server for the bounce service's tests (no system config touched)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import find_binary, require
from tools.localservers import DOVECOT_PASSWORD, DOVECOT_USER, Dovecot, start_dovecot

__all__ = ["DOVECOT_PASSWORD", "DOVECOT_USER", "Dovecot", "dovecot", "start_dovecot"]


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    require("Dovecot (apt-get install dovecot-imapd)", find_binary("dovecot", "/usr/sbin"))
    with tempfile.TemporaryDirectory(prefix="otayori-dovecot-") as tmp:
        server = start_dovecot(Path(tmp))
        yield server
        server.stop()
