"""``otayori preview KIND FILE``: validated input, decoded output, ``--raw`` bytes."""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
from pathlib import Path

import pytest

from services.mailer import cli as mailer_cli
from tests.unit.mailer.builders import FIXTURES

AT = "2026-12-05T09:00:00+09:00"
CASES = [
    ("online_loan", "ils.loan.online_issued.json", "12月6日(日)から12月13日(日)まで"),
    ("hold_ready", "ils.hold.ready.json", "受取期限日：12月15日(火)"),
    ("hold_cancelled", "ils.hold.cancelled.json", "受取期限日（12月15日(火)）を過ぎたため"),
    ("overdue", "ils.loan.overdue.json", "返却期限日：12月20日(日)"),
    ("loan_suspended", "ils.patron.loan_suspended.json", "青森県電子申請・届出システム"),
    ("bounce_digest", "bounce.digest.json", "利用者番号 A0010007"),
]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="otayori")
    mailer_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([*argv, "--at", AT])
    return int(args.func(args))


@pytest.mark.parametrize(("kind", "file", "says"), CASES, ids=[c[0] for c in CASES])
def test_preview_prints_decoded_headers_and_body(
    kind: str, file: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["preview", kind, str(FIXTURES / file)]) == 0
    out = capsys.readouterr().out
    headers, _, body = out.partition("\n\n")
    # The mailer's own From (its default settings), not an address patrons never see.
    assert "From: オンライン貸出サービス担当 <online-lending@plib.pref.aomori.lg.jp>" in headers
    assert "Subject: 【" in headers
    assert "Date: Sat, 05 Dec 2026 09:00:00 +0900" in headers
    assert says in body
    assert "=?utf-8?" not in out


def test_preview_raw_prints_the_wire_bytes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert (
        run(["preview", "online_loan", str(FIXTURES / "ils.loan.online_issued.json"), "--raw"]) == 0
    )
    data = capsysbinary.readouterr().out
    assert data.isascii() and b"\r\n" in data
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert "オンライン貸出メール" in str(msg["Subject"])


def test_preview_iso_2022_jp(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    file = str(FIXTURES / "ils.loan.online_issued.json")
    assert run(["preview", "online_loan", file, "--raw", "--iso-2022-jp"]) == 0
    assert b'charset="iso-2022-jp"' in capsysbinary.readouterr().out


def test_preview_reads_an_array_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((FIXTURES / "ils.hold.ready.json").read_text("utf-8"))
    second = {**event, "event_id": "second-event-0001", "hold_id": "H-2", "title": "二冊目の本"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps([event, second])))
    assert run(["preview", "hold_ready", "-"]) == 0
    out = capsys.readouterr().out
    assert "りんごの木の育て方" in out and "二冊目の本" in out


def test_a_bad_event_fails_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((FIXTURES / "ils.loan.online_issued.json").read_text("utf-8"))
    event["batch_thursday"] = "2026-12-04"
    event["items"][1]["due_date"] = "soon"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(event), "utf-8")
    assert run(["preview", "online_loan", str(path)]) == 1
    err = capsys.readouterr().err
    assert "batch_thursday" in err and "not a Thursday" in err
    assert "items.1.due_date" in err


def test_an_event_of_another_kind_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["preview", "overdue", str(FIXTURES / "ils.hold.ready.json")]) == 1
    assert "LoanOverdue" in capsys.readouterr().err


def test_invalid_json_and_a_missing_file_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", "utf-8")
    assert run(["preview", "hold_ready", str(path)]) == 1
    assert "Invalid JSON" in capsys.readouterr().err
    assert run(["preview", "hold_ready", str(tmp_path / "missing.json")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_an_invalid_recipient_is_explained_in_japanese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((FIXTURES / "ils.hold.ready.json").read_text("utf-8"))
    event["email"] = "hanako@docomo,ne,jp"
    path = tmp_path / "comma.json"
    path.write_text(json.dumps(event), "utf-8")
    assert run(["preview", "hold_ready", str(path)]) == 1
    err = capsys.readouterr().err
    assert "comma_for_dot" in err and "コンマ" in err
    assert "hanako" not in err


def test_the_otayori_console_script_has_the_preview_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from otayori import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["preview", "hold_ready", str(FIXTURES / "ils.hold.ready.json"), "--at", AT])
    assert exited.value.code == 0
    assert "予約資料のご用意ができました" in capsys.readouterr().out


def test_a_naive_at_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="otayori")
    mailer_cli.register(parser.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit):
        parser.parse_args(["preview", "hold_ready", "x.json", "--at", "2026-12-05T09:00:00"])
    assert "UTC offset" in capsys.readouterr().err


def test_preview_writes_the_headers_the_mailers_settings_give(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: staff must read what patrons get, sender and Reply-To included."""
    monkeypatch.setenv("OTAYORI_MAIL_FROM_ADDRESS", "lending@lib.example.jp")
    monkeypatch.setenv("OTAYORI_MAIL_FROM_NAME", "県立図書館")
    monkeypatch.setenv("OTAYORI_MAIL_REPLY_TO", "desk@lib.example.jp")
    monkeypatch.setenv("OTAYORI_MAIL_DOMAIN", "lib.example.jp")
    assert run(["preview", "hold_ready", str(FIXTURES / "ils.hold.ready.json")]) == 0
    headers = capsys.readouterr().out.partition("\n\n")[0]
    assert "From: 県立図書館 <lending@lib.example.jp>" in headers
    assert "Reply-To: desk@lib.example.jp" in headers
    assert "@lib.example.jp>" in headers.split("Message-ID: ", 1)[1].splitlines()[0]


def test_preview_encodes_iso_2022_jp_for_a_configured_domain(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    file = str(FIXTURES / "ils.hold.ready.json")
    to_domain = json.loads(Path(file).read_text(encoding="utf-8"))["email"].rpartition("@")[2]
    monkeypatch.setenv("OTAYORI_ISO2022JP_DOMAINS", to_domain.upper())
    assert run(["preview", "hold_ready", file, "--raw"]) == 0
    assert b'charset="iso-2022-jp"' in capsysbinary.readouterr().out.lower()
