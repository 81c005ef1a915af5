"""Pure bounce classifier: raw bounce bytes -> per-recipient category (no I/O).

Public API::

    classify(raw: bytes, *, sent: SentMailLookup | None = None) -> Classification
"""

from services.bounce.classifier.engine import classify
from services.bounce.classifier.model import (
    Category,
    Classification,
    Evidence,
    RecipientResult,
    SentMailLookup,
)

__all__ = [
    "Category",
    "Classification",
    "Evidence",
    "RecipientResult",
    "SentMailLookup",
    "classify",
]
