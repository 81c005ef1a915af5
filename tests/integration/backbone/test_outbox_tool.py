"""`python -m tools.outbox`: lists and shows the demo's mails, and says clearly when it can't."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from tools.outbox import main


def _mail(box: mailbox.Maildir, subject: str, date: str) -> None:
    msg = EmailMessage()
    msg["From"] = "online-lending@plib.pref.aomori.lg.jp"
    msg["To"] = "P1100234567@example.jp"
    msg["Subject"] = subject
    msg["Date"] = date
    msg.set_content(f"{subject}の本文")
    box.add(msg.as_bytes())


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    box = mailbox.Maildir(tmp_path / "outbox", create=True)
    _mail(box, "二通目", "Sat, 05 Dec 2026 09:00:10 +0900")
    _mail(box, "一通目", "Thu, 03 Dec 2026 08:00:00 +0900")
    return tmp_path / "outbox"


def test_before_the_first_run_there_is_no_mail_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path / "missing")]) == 0
    assert "no mail yet" in capsys.readouterr().out
    assert main(["--dir", str(tmp_path / "missing"), "--show", "1"]) == 2


def test_lists_oldest_first_and_shows_by_the_listed_number(
    outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(outbox)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "一通目" in listed[0] and "二通目" in listed[1]
    assert main(["--dir", str(outbox), "--show", "2"]) == 0
    assert "二通目の本文" in capsys.readouterr().out


def test_a_number_past_the_end_is_a_clear_error(
    outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(outbox), "--show", "99"]) == 2
    assert "no mail 99" in capsys.readouterr().err


def test_numbering_starts_at_one(outbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--dir", str(outbox), "--show", "0"])
    assert exit_.value.code == 2
    assert "counts from 1" in capsys.readouterr().err
