"""The 59 cooperating libraries (協力館), loaded once from the packaged reference table.

Source: ``../shared/data/cooperating_libraries.tsv`` (a clean copy of the seed FAQ's Q28 table),
copied to ``shared/data/cooperating_libraries.tsv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class CooperatingLibrary:
    no: int
    district: str
    municipality: str
    name: str
    hands_out_registration_set: bool


@cache
def cooperating_libraries() -> dict[int, CooperatingLibrary]:
    """All cooperating libraries by their number (1–59)."""
    text = resources.files("shared").joinpath("data/cooperating_libraries.tsv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return {
        int(r["no"]): CooperatingLibrary(
            no=int(r["no"]),
            district=r["district"],
            municipality=r["municipality"],
            name=r["name"],
            hands_out_registration_set=r["registration_set"] == "yes",
        )
        for r in rows
    }


def library(no: int) -> CooperatingLibrary:
    """One cooperating library; ``KeyError`` names the unknown number."""
    try:
        return cooperating_libraries()[no]
    except KeyError:
        raise KeyError(f"no cooperating library numbered {no} (valid: 1–59)") from None
