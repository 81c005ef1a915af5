"""``otayori queue list``: Japanese for staff, columns aligned, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest

from services.bounce import queue_cli
from services.bounce.queue_view import render_list
from shared.contracts.staff import QueueListReply, QueueSummary

AT = datetime(2026, 12, 6, 8, 40, tzinfo=UTC)


def _row(patron: str, status: Any, category: Any, count: int) -> QueueSummary:
    return QueueSummary(
        patron_id=patron,
        status=status,
        category=category,
        bounce_count=count,
        flagged_at=AT,
        last_seen=AT,
    )


REPLY = QueueListReply(
    entries=[
        _row("P-0012345", "open", "domain_rejection", 1),
        _row("P-0020001", "contacted", "forwarding_failure", 12),
    ],
    total=2,
)


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_the_list_speaks_japanese_and_keeps_the_codes_the_filters_take() -> None:
    head, first, second, total = render_list(REPLY).splitlines()
    assert head.split()[:4] == ["利用者番号", "状態", "原因", "件数"]
    assert "未対応(open)" in first and "受信拒否(domain_rejection)" in first
    assert "連絡済み(contacted)" in second and "転送失敗(forwarding_failure)" in second
    assert total == "2 件"
    # Aligned on a terminal: each column starts at the same column on every line.
    for line in (first, second):
        for word in ("P-", "未対応" if line is first else "連絡済み", "2026-12-06"):
            start = line.index(word)
            assert _columns(line[:start]) == _columns(head[: head.index(_header_of(word))])


def _header_of(word: str) -> str:
    return {"P-": "利用者番号", "未対応": "状態", "連絡済み": "状態", "2026-12-06": "登録日時"}[
        word
    ]


async def test_json_prints_the_reply_for_scripts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def answer(subject: str, body: object, reply: type[QueueListReply]) -> QueueListReply:
        return REPLY

    monkeypatch.setattr(queue_cli, "request", answer)
    args = argparse.Namespace(status=None, category=None, json=True)
    assert await queue_cli._list(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert QueueListReply.model_validate(printed) == REPLY
