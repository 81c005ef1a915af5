"""The template folder: every kind has a subject and a body, in Japanese and English."""

from __future__ import annotations

from typing import get_args

import pytest

from services.mailer.compose.render import TEMPLATE_DIR
from shared.contracts.mail import MailKind

PATRON_KINDS = [k for k in get_args(MailKind) if k != "bounce_digest"]


@pytest.mark.parametrize("kind", get_args(MailKind))
@pytest.mark.parametrize("part", ["subject", "body"])
def test_japanese_templates_exist(kind: str, part: str) -> None:
    assert (TEMPLATE_DIR / f"{kind}.{part}.txt").is_file()


@pytest.mark.parametrize("kind", PATRON_KINDS)
@pytest.mark.parametrize("part", ["subject", "body"])
def test_english_templates_exist(kind: str, part: str) -> None:
    assert (TEMPLATE_DIR / "en" / f"{kind}.{part}.txt").is_file()
