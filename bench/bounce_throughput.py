"""Bounce classifier throughput vs. Debian's sisimai, over the shared corpus.

Run: .venv/bin/python bench/bounce_throughput.py [--passes N] [CORPUS_DIR]

Ours: in-process, files pre-read into memory, best of N passes over every .eml.
sisimai: ../shared/tools/sisimai-scan run once as a whole process over the same folder,
timed from spawn to exit (Perl start-up and module loading included, nothing subtracted).
"""

from __future__ import annotations

import argparse
import shutil
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


def ours(files: list[bytes], passes: int) -> float:
    """Best files/s over ``passes`` passes."""
    best = 0.0
    for _ in range(passes):
        t0 = time.perf_counter()
        for raw in files:
            classify(raw)
        best = max(best, len(files) / (time.perf_counter() - t0))
    return best


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    root = Path(args.dir)
    files = [p.read_bytes() for p in sorted(root.rglob("*.eml"))]
    if not files:
        print(f"no .eml files under {root}", file=sys.stderr)
        return 2
    mine = ours(files, args.passes)
    theirs = sisimai(root, len(files))
    print(f"corpus: {root} ({len(files)} files)")
    print(f"{'classifier':<34} {'files/s':>10}")
    print(f"{'otayori (in-process, best of ' + str(args.passes) + ')':<34} {mine:>10.0f}")
    if theirs is None:
        print(f"{'sisimai-scan (whole process)':<34} {'n/a':>10}")
        return 0
    print(f"{'sisimai-scan (whole process)':<34} {theirs:>10.0f}")
    print(f"{'ratio ours/sisimai':<34} {mine / theirs:>10.2f}x")
    print("sisimai timed as a whole process: start-up included, nothing subtracted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
