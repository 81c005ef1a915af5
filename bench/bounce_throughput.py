"""Bounce classifier throughput vs. Debian's sisimai, over the shared corpus.

Run: .venv/bin/python bench/bounce_throughput.py [--passes N] [CORPUS_DIR]

Ours: in-process, files pre-read into memory, one pass over every .eml per round.
sisimai: ../shared/tools/sisimai-scan as a whole process over the same folder, once per
round, timed from spawn to exit (Perl start-up and module loading included, nothing
subtracted). The two alternate round by round, so both see the same machine load (the
shared VM's speed varies by +-30% from minute to minute); each side's best round is
reported, with the ratio of the bests and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.bounce.classifier import classify  # noqa: E402

SHARED = (REPO / ".." / "shared").resolve()
DEFAULT_DIR = SHARED / "corpus" / "sisimai" / "eml"
SISIMAI_SCAN = SHARED / "tools" / "sisimai-scan"


def ours(files: list[bytes]) -> float:
    """files/s of one in-process pass."""
    t0 = time.perf_counter()
    for raw in files:
        classify(raw)
    return len(files) / (time.perf_counter() - t0)


def sisimai(root: Path, count: int) -> float | None:
    """files/s of one whole sisimai-scan process, or None when it cannot run."""
    if not SISIMAI_SCAN.is_file() or shutil.which("perl") is None:
        return None
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(SISIMAI_SCAN), str(root)], capture_output=True, check=False, timeout=600
    )
    elapsed = time.perf_counter() - t0
    return count / elapsed if proc.returncode == 0 else None


def rounds(root: Path, files: list[bytes], count: int) -> tuple[list[float], list[float]]:
    """``count`` alternating rounds: (our files/s per round, sisimai's per round)."""
    ours(files)  # warm-up: imports, regex compilation
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(count):
        mine.append(ours(files))
        other = sisimai(root, len(files))
        if other is not None:
            theirs.append(other)
    return mine, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(args.dir)
    files = [p.read_bytes() for p in sorted(root.rglob("*.eml"))]
    if not files:
        print(f"no .eml files under {root}", file=sys.stderr)
        return 2
    mine, theirs = rounds(root, files, args.rounds)
    print(f"corpus: {root} ({len(files)} files), {args.rounds} alternating rounds")
    print(f"{'classifier':<34} {'best files/s':>12}")
    print(f"{'otayori (in-process)':<34} {max(mine):>12.0f}")
    if not theirs:
        print(f"{'sisimai-scan (whole process)':<34} {'n/a':>12}")
        return 0
    print(f"{'sisimai-scan (whole process)':<34} {max(theirs):>12.0f}")
    print(f"{'ratio of bests ours/sisimai':<34} {max(mine) / max(theirs):>11.2f}x")
    per_round = [a / b for a, b in zip(mine, theirs, strict=False)]
    print(f"{'median per-round ratio':<34} {statistics.median(per_round):>11.2f}x")
    print("sisimai timed as a whole process: start-up included, nothing subtracted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
