"""Plain-text rendering of the staff queue for the CLI (pure; Japanese for staff)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contracts.staff import QueueListReply, QueueShowReply, QueueUpdateReply

JST = ZoneInfo("Asia/Tokyo")
STATUS_JA = {"open": "未対応", "contacted": "連絡済み", "resolved": "解決済み"}
#: Ends the evidence line of a bounce for an address the patron had already left
#: (``QueueEvidence.moved_away``): it says nothing about the current address.
MOVED_MARK = "【変更前のメールアドレス宛て】"


def _t(when: datetime | None) -> str:
    return when.astimezone(JST).strftime("%Y-%m-%d %H:%M") if when else "-"


def render_list(reply: QueueListReply) -> str:
    head = f"{'PATRON':<16} {'STATUS':<10} {'CATEGORY':<19} {'COUNT':>5}  {'FLAGGED':<16}  LAST"
    rows = [head]
    for e in reply.entries:
        rows.append(
            f"{e.patron_id:<16} {e.status:<10} {e.category:<19} {e.bounce_count:>5}  "
            f"{_t(e.flagged_at):<16}  {_t(e.last_seen)}"
        )
    rows.append(f"{reply.total} 件")
    return "\n".join(rows) + "\n"


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
            f"[{ev.correlation}{', VERP偽造' if ev.verp == 'forged' else ''}] {mail}"
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
