"""``otayori bounce classify DIR``: classify every ``*.eml`` below DIR and print TSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from services.bounce.classifier import Category, RecipientResult, classify
from services.bounce.queue import DELAYED_SUFFIX

HEADER = ("path", "recipient", "category", "status", "reason")


def _clean(value: str) -> str:
    return " ".join(value.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def rows_for(path: Path, root: Path) -> Iterator[tuple[str, ...]]:
    """TSV rows for one file: one per failed recipient, or one ``not_a_bounce`` row."""
    rel = path.relative_to(root).as_posix()
    result = classify(path.read_bytes())
    if not result.is_bounce or not result.recipients:
        reason = "unreadable: quarantine" if not result.readable else result.detector
        yield (rel, "", Category.NOT_A_BOUNCE.value, "", reason)
        return
    for r in result.recipients:
        yield (rel, r.recipient, reported_category(r), r.status, f"{r.evidence.rule}: {r.reason}")


def reported_category(r: RecipientResult) -> str:
    """The cause of a delay warning (its mail still being retried), else the category.

    The service keeps a delay warning as ``transient`` and never counts it towards a flag
    (``queue.counts_as_soft``); the cause the warning names is in its evidence
    (``underlying_category``), and that is the category the corpus's labels give a delay
    warning. The reason column says it was a delay (``+delayed``)."""
    underlying = r.evidence.underlying_category
    if r.evidence.rule.endswith(DELAYED_SUFFIX) and underlying:
        return underlying
    return r.category.value


def classify_dir(root: Path, out: TextIO) -> int:
    """Write the TSV report for ``root`` to ``out``; returns the number of files."""
    out.write("\t".join(HEADER) + "\n")
    files = sorted(p for p in root.rglob("*.eml") if p.is_file())
    for path in files:
        for row in rows_for(path, root):
            out.write("\t".join(_clean(v) for v in row) + "\n")
    return len(files)


def _run_classify(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        print(f"bounce classify: not a directory: {root}", file=sys.stderr)
        return 2
    classify_dir(root, sys.stdout)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``bounce`` command (sub-command ``classify DIR``) to a top-level CLI."""
    bounce = subparsers.add_parser("bounce", help="bounce mail tools")
    sub = bounce.add_subparsers(dest="bounce_command", required=True)
    cls = sub.add_parser("classify", help="classify every *.eml below DIR, print TSV")
    cls.add_argument("dir", metavar="DIR")
    cls.set_defaults(func=_run_classify)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.bounce.cli")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(["bounce", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
