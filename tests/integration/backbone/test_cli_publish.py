"""``otayori publish`` and ``provision`` against a real server: a missing stream is a clear
error with the fix, and output cut short by ``| head`` is a quiet exit 141."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from otayori.cli import EXIT_BROKEN_PIPE, main
from tools.localservers import NatsServer

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "shared" / "contracts" / "examples" / "ils.loan.online_issued.json"
PUBLISH = ["publish", "ils.loan.online_issued", str(EXAMPLE)]


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_publishing_before_provision_says_to_run_provision_then_works_after_it(
    fresh_nats: NatsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    assert _run(PUBLISH) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "otayori publish: no stream stores ils.loan.online_issued yet: run `otayori provision`\n"
    )
    assert _run(["provision"]) == 0
    capsys.readouterr()
    assert _run(PUBLISH) == 0
    assert capsys.readouterr().out.startswith("published\tils.loan.online_issued\t")
    assert _run(PUBLISH) == 0  # the same event again: stored once
    assert capsys.readouterr().out.startswith("duplicate\tils.loan.online_issued\t")


def test_provision_piped_into_a_reader_that_went_away_exits_141_quietly(
    fresh_nats: NatsServer,
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "otayori", "provision"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "OTAYORI_NATS_URL": fresh_nats.url},
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, b"")
