"""Finding server binaries and ports for tests; missing servers fail in CI, skip locally."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(what: str, found: object) -> None:
    """Skip when a server is missing locally; fail in CI (a skip there hides a gap)."""
    if found:
        return
    message = f"{what} is not available (run `make test`, which installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


from tools.localservers import find_binary, free_port  # noqa: E402

__all__ = ["find_binary", "free_port", "in_ci", "require"]
