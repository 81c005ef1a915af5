"""Docs that are generated must be current."""

from __future__ import annotations

from tools.settings_table import README, updated_readme


def test_readme_configuration_table_is_current() -> None:
    text = README.read_text("utf-8")
    assert updated_readme(text) == text, "run: .venv/bin/python -m tools.settings_table --write"


def test_readme_names_every_required_setting() -> None:
    text = README.read_text("utf-8")
    for name in (
        "OTAYORI_NATS_URL",
        "OTAYORI_SMTP_HOST",
        "OTAYORI_SMTP_PORT",
        "OTAYORI_SMTP_USERNAME",
        "OTAYORI_SMTP_PASSWORD",
        "OTAYORI_SMTP_TLS",
        "OTAYORI_IMAP_HOST",
        "OTAYORI_IMAP_PORT",
        "OTAYORI_IMAP_USERNAME",
        "OTAYORI_IMAP_PASSWORD",
        "OTAYORI_IMAP_MAILBOX",
        "OTAYORI_HTTP_PORT",
        "OTAYORI_TIMEZONE",
    ):
        assert f"`{name}`" in text, name
