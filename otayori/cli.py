"""The ``otayori`` console script: the operators' and the ILS side's entry point.

This module is the composition root of the command line: it owns the common commands
(``provision``, ``publish``) and lets each service add its own through the service's
``cli.register(subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from otayori import bus_commands
from services.bounce import cli as bounce_cli
from services.bounce import queue_cli
from services.mailer import cli as mailer_cli
from services.scheduler import cli as scheduler_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otayori", description="otayori: the library's notification cluster."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bus_commands.register(sub)
    mailer_cli.register(sub)
    bounce_cli.register(sub)
    queue_cli.register(sub)
    scheduler_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        if asyncio.iscoroutine(code):
            code = asyncio.run(code)
    except KeyboardInterrupt:
        code = 130
    sys.exit(int(code or 0))


if __name__ == "__main__":
    main()
