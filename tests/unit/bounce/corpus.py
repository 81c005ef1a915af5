"""Shared access to the labelled sisimai corpus (../shared/corpus/sisimai)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.bounce.classifier import Category, Classification, RecipientResult, classify

REPO = Path(__file__).resolve().parents[3]
CORPUS = (REPO / ".." / "shared" / "corpus" / "sisimai").resolve()
EML = CORPUS / "eml"

JP_CARRIER_DIRS = ("lhost-ezweb", "lhost-kddi", "rhost-kddi", "rhost-nttdocomo", "lhost-biglobe")
JP_CARRIER_DOMAINS = ("docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp")
DELAYED_SUFFIX = "+delayed"
"""``evidence.rule`` of a verdict that a delay warning turned transient (``decide.py``)."""


@dataclass(frozen=True)
class Label:
    path: str
    recipient: str
    reason: str
    category: str

    @property
    def test_id(self) -> str:
        return f"{self.path}#{self.recipient or '-'}"

    @property
    def is_jp_carrier(self) -> bool:
        folder = self.path.split("/")[0]
        domain = self.recipient.rpartition("@")[2].lower()
        in_dir = folder in JP_CARRIER_DIRS or any(d in self.path for d in JP_CARRIER_DIRS)
        return in_dir or any(domain == d or domain.endswith("." + d) for d in JP_CARRIER_DOMAINS)


def available() -> bool:
    return (CORPUS / "labels.tsv").is_file()


@cache
def labels() -> tuple[Label, ...]:
    with (CORPUS / "labels.tsv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return tuple(Label(r["path"], r["recipient"], r["sisimai_reason"], r["category"]) for r in rows)


@cache
def result(path: str) -> Classification:
    return classify((EML / path).read_bytes())


def recipient_result(label: Label) -> RecipientResult | None:
    """Our result for a labelled row, matched like tools/score-bounces does: the same
    address, else the first; ``None`` when the file is not a bounce to us."""
    res = result(label.path)
    if not res.is_bounce or not res.recipients:
        return None
    want = label.recipient.lower()
    same = [r for r in res.recipients if r.recipient == want] or list(res.recipients)
    return same[0]


def answer(label: Label) -> tuple[str, str]:
    """(category, underlying category) our classifier gives for a labelled row."""
    found = recipient_result(label)
    if found is None:
        return (Category.NOT_A_BOUNCE.value, "")
    if label.category == Category.NOT_A_BOUNCE.value:
        return (found.category.value, "")
    return (found.category.value, found.evidence.underlying_category)


def is_delay_warning(found: RecipientResult | None) -> bool:
    """A verdict given to a delay warning (the reporting MTA still retries): transient,
    with the cause the diagnostic names kept as the underlying category."""
    return (
        found is not None
        and found.category is Category.TRANSIENT
        and found.evidence.rule.endswith(DELAYED_SUFFIX)
    )


def agrees(label: Label) -> bool:
    """Same category as the label.

    Forwarding is reported as evidence (``evidence.forwarding``) while the category stays
    the underlying cause, so a forwarded failure must still carry the labelled category.
    A delay warning is the one exception, by the project's policy: sisimai labels it by
    the cause of the delay ("450 4.2.2 Mailbox full" -> mailboxfull) while we report it
    ``transient`` (no patron is flagged while the mail is still being retried); it agrees
    when the label equals the cause we keep in ``evidence.underlying_category``.
    """
    category, underlying = answer(label)
    if category == label.category:
        return True
    return is_delay_warning(recipient_result(label)) and underlying == label.category


def agrees_exactly(label: Label) -> bool:
    """Same category as the label, no policy exception (what tools/score-bounces counts)."""
    return answer(label)[0] == label.category
