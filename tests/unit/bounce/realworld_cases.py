"""What the bounce classifier tests share: a case type and short category names."""

from __future__ import annotations

from services.bounce.classifier import Category

#: ``(id, raw bytes, expected category)``
Case = tuple[str, bytes, Category]

BAD = Category.BAD_ADDRESS
REJ = Category.DOMAIN_REJECTION
FULL = Category.MAILBOX_FULL
FWD = Category.FORWARDING_FAILURE
TMP = Category.TRANSIENT
OURS = Category.SENDER_SIDE
UNK = Category.UNKNOWN
NOT = Category.NOT_A_BOUNCE
