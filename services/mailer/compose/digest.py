"""The staff bounce digest's context: counts by cause, new flags, the oldest waiting.

Staff mail, always Japanese. Patrons appear by id only (never a name or an address):
staff look the patron up in the library system before they call (Q15).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.mailer.compose.dates import jst_date
from shared.contracts.bounce import BounceDigest, DigestEntry

#: Japanese names of the bounce causes, in the order the digest lists them.
CATEGORY_JA: dict[str, str] = {
    "bad_address": "宛先不明",
    "domain_rejection": "ドメイン拒否(受信拒否)",
    "mailbox_full": "メールボックス容量超過",
    "forwarding_failure": "転送エラー",
    "transient": "一時的エラー",
    "sender_side": "送信側の問題",
    "unknown": "不明",
    "not_a_bounce": "不達以外",
}
STATUS_JA: dict[str, str] = {"open": "未対応", "contacted": "連絡済み", "resolved": "解決済み"}


@dataclass(frozen=True)
class CategoryCount:
    label: str
    count: int


@dataclass(frozen=True)
class DigestLine:
    patron_id: str
    category: str
    status: str
    first_seen: date
    last_seen: date
    bounce_count: int
    days_waiting: int


def category_ja(category: str) -> str:
    """The Japanese name of a cause; an unknown key is shown as it is."""
    return CATEGORY_JA.get(category, category)


def digest_context(digest: BounceDigest, run_date: date) -> dict[str, object]:
    counts = [
        CategoryCount(category_ja(key), digest.open_by_category[key])
        for key in _ordered_keys(digest.open_by_category)
    ]
    return {
        "week_start": jst_date(digest.week_start),
        "open_counts": counts,
        "open_total": sum(c.count for c in counts),
        "contacted_waiting": digest.contacted_waiting,
        "new_this_week": [_line(e, run_date) for e in digest.new_this_week],
        "oldest_open": [_line(e, run_date) for e in digest.oldest_open],
    }


def _ordered_keys(counts: dict[str, int]) -> list[str]:
    known = [k for k in CATEGORY_JA if k in counts]
    return known + sorted(k for k in counts if k not in CATEGORY_JA)


def _line(entry: DigestEntry, run_date: date) -> DigestLine:
    first = jst_date(entry.first_seen)
    return DigestLine(
        patron_id=entry.patron_id,
        category=category_ja(entry.category),
        status=STATUS_JA.get(entry.status, entry.status),
        first_seen=first,
        last_seen=jst_date(entry.last_seen),
        bounce_count=entry.bounce_count,
        days_waiting=max(0, (run_date - first).days),
    )
