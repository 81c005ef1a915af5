"""The `otayori` command: publish validates against the contract and names the bad field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otayori.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "examples"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_a_valid_event_passes_a_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "ils.loan.online_issued.json"
    assert _run(["publish", "--dry-run", "ils.loan.online_issued", str(path)]) == 0
    assert capsys.readouterr().out.startswith("valid\tils.loan.online_issued\t")


def test_an_invalid_event_exits_non_zero_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads((EXAMPLES / "ils.loan.online_issued.json").read_text("utf-8"))
    payload["items"][0]["due_date"] = "next week"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload, ensure_ascii=False), "utf-8")
    assert _run(["publish", "ils.loan.online_issued", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "invalid LoanOnlineIssued event" in err
    assert "items.0.due_date:" in err


def test_an_event_on_the_wrong_subject_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "ils.hold.ready.json"
    assert _run(["publish", "--dry-run", "ils.hold.cancelled", str(path)]) == 1
    assert "invalid HoldCancelled event" in capsys.readouterr().err


def test_an_unknown_subject_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "ils.hold.ready.json"
    assert _run(["publish", "ils.hold.lost", str(path)]) == 2
    assert "unknown subject 'ils.hold.lost'" in capsys.readouterr().err


def test_malformed_json_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", "utf-8")
    assert _run(["publish", "ils.hold.ready", str(bad)]) == 1
    assert "(payload): Invalid JSON" in capsys.readouterr().err


def test_an_unreachable_nats_is_a_clear_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", "nats://127.0.0.1:1")
    path = EXAMPLES / "ils.hold.ready.json"
    assert _run(["publish", "ils.hold.ready", str(path)]) == 3
    assert "cannot reach NATS at nats://127.0.0.1:1" in capsys.readouterr().err
    assert _run(["provision"]) == 3
