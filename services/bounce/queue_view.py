"""Plain-text rendering of the staff queue for the CLI (pure; Japanese for staff)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contracts.staff import (
    QueueEvidence,
    QueueListReply,
    QueueShowReply,
    QueueUpdateReply,
)

JST = ZoneInfo("Asia/Tokyo")
STATUS_JA = {"open": "未対応", "contacted": "連絡済み", "resolved": "解決済み"}
#: Short names of the causes for the list (``queue show`` gives the full title); the code
#: in brackets is what ``--category`` takes.
CATEGORY_JA = {
    "bad_address": "宛先不明",
    "domain_rejection": "受信拒否",
    "mailbox_full": "容量不足",
    "forwarding_failure": "転送失敗",
    "transient": "一時的な不具合",
    "sender_side": "図書館側",
    "not_a_bounce": "エラー以外",
    "unknown": "原因不明",
}
#: Ends the evidence line of a bounce for an address the patron had already left
#: (``QueueEvidence.moved_away``): it says nothing about the current address.
MOVED_MARK = "【変更前のメールアドレス宛て】"
#: How a bounce was tied to the patron (``QueueEvidence.correlation``). Only our own
#: record of the mail confirms it; a patron found by the address alone is unconfirmed and
#: their address was not suppressed (``correlate.Correlated.confirmed``).
CORRELATION_JA = {
    "verp": "送信記録と一致（VERP）",
    "message_id": "送信記録と一致（Message-ID）",
    "address": "アドレス一致のみ・未確認（配信停止なし）",
    "none": "照合できず",
}
#: A verified VERP token whose mail the ledger does not know: found by the address alone.
UNRECORDED_TOKEN_JA = "VERPの送信記録なし・"
#: The mailer's own refusal at sending (no Message-ID): its outcome names the patron.
SMTP_REFUSAL_JA = "送信時の拒否（送信記録）"
FORGED_JA = "VERP偽造"


def _t(when: datetime | None) -> str:
    return when.astimezone(JST).strftime("%Y-%m-%d %H:%M") if when else "-"


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(columns - _width(text), 0)


def render_list(reply: QueueListReply) -> str:
    """One line per patron: status and cause in Japanese, each with the code the
    ``--status`` / ``--category`` filters take. (``--json`` gives the reply itself.)"""
    columns = (("利用者番号", 16), ("状態", 20), ("原因", 34), ("件数", 5))
    head = " ".join(_pad(name, width) for name, width in columns) + "  登録日時          最終受信"
    rows = [head]
    for e in reply.entries:
        status = f"{STATUS_JA.get(e.status, '-')}({e.status})"
        cause = f"{CATEGORY_JA.get(e.category, '-')}({e.category})"
        rows.append(
            f"{_pad(e.patron_id, 16)} {_pad(status, 20)} {_pad(cause, 34)} "
            f"{e.bounce_count:>5}  {_pad(_t(e.flagged_at), 16)}  {_t(e.last_seen)}"
        )
    rows.append(f"{reply.total} 件")
    return "\n".join(rows) + "\n"


def correlation_ja(ev: QueueEvidence) -> str:
    """The evidence's correlation for staff, in Japanese; says when it is unconfirmed."""
    if ev.correlation == "none" and ev.source == "smtp":
        text = SMTP_REFUSAL_JA
    else:
        text = CORRELATION_JA.get(ev.correlation, ev.correlation)
    if ev.correlation == "address" and ev.verp == "verified":
        text = UNRECORDED_TOKEN_JA + text
    return f"{text}, {FORGED_JA}" if ev.verp == "forged" else text


def render_show(reply: QueueShowReply) -> str:
    entry, guide = reply.entry, reply.guidance
    if entry is None or guide is None:
        return "該当なし\n"
    status = entry.status or "-"
    out = [
        f"利用者番号: {entry.patron_id}",
        f"状態: {status} ({STATUS_JA.get(status, '-')})",
        f"原因: {entry.category} ({guide.title})",
        f"件数: {entry.bounce_count}  登録: {_t(entry.flagged_at)}  最終: {_t(entry.last_seen)}",
        "",
        "電話での案内:",
        f"  {guide.script}",
        "",
        "証拠:",
    ]
    for ev in reversed(entry.evidence):
        mail = " ".join(x for x in (ev.mail_kind or "", ev.message_id or "") if x) or "-"
        out.append(
            f"  {_t(ev.received_at)} {ev.source} {ev.category} {ev.status or '-'} "
            f"[{correlation_ja(ev)}] {mail}"
            f"{' ' + MOVED_MARK if ev.moved_away else ''}"
        )
        if ev.diagnostic:
            out.append(f"    {ev.diagnostic[:200]}")
    out += ["", "最近のメール:"]
    for o in reply.recent_outcomes or []:
        code = f" {o.smtp_code}" if o.smtp_code else ""
        out.append(f"  {_t(o.occurred_at)} {o.kind} {o.outcome}{code} {o.cause or ''}".rstrip())
    if not reply.recent_outcomes:
        out.append("  (記録なし)")
    out += ["", "対応履歴:"]
    out += [f"  {_t(n.at)} {n.status} {n.by}: {n.text}" for n in entry.notes] or ["  (なし)"]
    return "\n".join(out) + "\n"


def render_update(reply: QueueUpdateReply) -> str:
    entry = reply.entry
    if entry is None or entry.status is None:
        return "更新なし\n"
    return f"{entry.patron_id}: {entry.status} ({STATUS_JA[entry.status]})\n"
