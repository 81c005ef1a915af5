"""The ``otayori`` console script: the operators' and the ILS side's entry point.

This module is the composition root of the command line: it owns the common commands
(``provision``, ``publish``) and lets each service add its own through the service's
``cli.register(subparsers)``. It also owns what every command shares: a bad ``OTAYORI_*``
setting is one line per variable and exit 2, and a reader that goes away (``| head``)
ends the command quietly with exit 141.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator, Sequence

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from otayori import bus_commands
from services.bounce import cli as bounce_cli
from services.bounce import queue_cli
from services.mailer import cli as mailer_cli
from services.scheduler import cli as scheduler_cli
from shared.settings import SettingsRefused

#: Exit code of a bad setting (like a bad argument: the command was not run).
EXIT_BAD_SETTING = 2
#: Exit code when standard output was closed early: 128 + SIGPIPE, what a shell reports
#: for any Unix tool cut off by ``head``. 0 would claim output that was never written, and
#: ``set -o pipefail`` scripts treat ``otayori`` like ``cat`` or ``grep``.
EXIT_BROKEN_PIPE = 141


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


def _subclasses(cls: type[BaseSettings]) -> Iterator[type[BaseSettings]]:
    for child in cls.__subclasses__():
        yield child
        yield from _subclasses(child)


def _settings_class(title: str) -> type[BaseSettings] | None:
    """The settings class a ``ValidationError`` is about (its title is the class name)."""
    return next((c for c in _subclasses(BaseSettings) if c.__name__ == title), None)


def setting_errors(exc: ValidationError) -> list[str] | None:
    """One line per bad setting naming its environment variable, or None when ``exc`` is
    not about a settings class. Values are never shown (they may be secrets)."""
    cls = _settings_class(exc.title)
    if cls is None:
        return None
    prefix = str(cls.model_config.get("env_prefix") or "")
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        field, *rest = err["loc"] or ("(settings)",)
        where = (prefix + str(field)).upper() + "".join(f"[{p}]" for p in rest)
        lines.append(f"otayori: bad setting {where}: {err['msg']}")
    return lines


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
        if asyncio.iscoroutine(code):
            code = asyncio.run(code)
    except KeyboardInterrupt:
        return 130
    except ValidationError as exc:
        lines = setting_errors(exc)
        if lines is None:
            raise
        print("\n".join(lines), file=sys.stderr)
        return EXIT_BAD_SETTING
    except SettingsRefused as exc:  # valid, but not allowed here (load_settings)
        print(f"otayori: bad setting {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    except SettingsError as exc:  # a value pydantic-settings could not even parse
        print(f"otayori: bad setting: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    return int(code or 0)


def _discard_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush does
    not fail again (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a descriptor (a capture)
        pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        _discard_stdout()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


if __name__ == "__main__":
    main()
