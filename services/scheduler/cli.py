"""Command-line sub-commands of this service (registered by ``otayori.cli``)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add this service's sub-commands to the ``otayori`` parser."""
