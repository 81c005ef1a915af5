"""Placeholder while the staff queue CLI is being written (see docs/bounce-service.md)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``otayori queue ...`` (filled in below as the staff API lands)."""
    parser: argparse.ArgumentParser = sub.add_parser("queue", help="Staff bounce queue.")
    parser.set_defaults(func=lambda args: 0)
