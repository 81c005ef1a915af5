"""Settings from a real secrets directory, as a k8s secret volume lays it out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from services.bounce.settings import BounceSettings
from services.mailer.settings import MailerSettings
from shared.settings import (
    DEV_VERP_SECRET,
    CommonSettings,
    SettingsRefused,
    load_settings,
)
from tools.settings_table import rows

SECRET_SETTINGS = (
    "verp_secret",
    "smtp_username",
    "smtp_password",
    "imap_username",
    "imap_password",
    "nats_password",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SECRET_SETTINGS, "clock_start", "secrets_dir", "timezone", "nats_replicas"):
        monkeypatch.delenv(f"OTAYORI_{name.upper()}", raising=False)


def k8s_secret_volume(root: Path, values: dict[str, str]) -> Path:
    """Files as the kubelet writes them: each key a symlink into ``..data``, a trailing
    newline as ``kubectl create secret --from-file`` keeps it."""
    root.mkdir()
    version = root / "..2026_01_05_09_00_00.000000001"
    version.mkdir()
    for key, value in values.items():
        (version / key).write_text(f"{value}\n", "utf-8")
    (root / "..data").symlink_to(version.name)
    for key in values:
        (root / key).symlink_to(Path("..data") / key)
    return root


def use_secrets_dir(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("OTAYORI_SECRETS_DIR", os.fspath(directory))


def secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def test_mailer_reads_the_documented_secret_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"verp_secret": "k8s-verp", "smtp_username": "relay", "smtp_password": "pw-s"}
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "secrets", files))
    settings = load_settings(MailerSettings)
    assert secret(settings.verp_secret) == "k8s-verp"
    assert settings.smtp_username == "relay"
    assert secret(settings.smtp_password) == "pw-s"
    assert not settings.uses_dev_secret()


def test_bounce_reads_the_documented_secret_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"verp_secret": "k8s-verp", "imap_username": "bounces@lib", "imap_password": "pw-i"}
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "secrets", files))
    settings = load_settings(BounceSettings)
    assert secret(settings.verp_secret) == "k8s-verp"
    assert settings.imap_username == "bounces@lib"
    assert secret(settings.imap_password) == "pw-i"


def test_prefixed_secret_file_names_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"otayori_verp_secret": "prefixed", "otayori_smtp_password": "pw-p"}
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "secrets", files))
    settings = load_settings(MailerSettings)
    assert secret(settings.verp_secret) == "prefixed"
    assert secret(settings.smtp_password) == "pw-p"


def test_an_environment_variable_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "s", {"verp_secret": "file"}))
    monkeypatch.setenv("OTAYORI_VERP_SECRET", "env")
    assert secret(load_settings(MailerSettings).verp_secret) == "env"


def test_a_deployment_refuses_the_development_verp_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Secret was created without its verp_secret key.
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "s", {"smtp_password": "pw"}))
    with pytest.raises(SettingsRefused) as caught:
        load_settings(MailerSettings)
    assert caught.value.setting == "OTAYORI_VERP_SECRET"
    assert DEV_VERP_SECRET not in str(caught.value)


def test_a_demo_clock_may_run_on_the_development_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_secrets_dir(monkeypatch, k8s_secret_volume(tmp_path / "s", {"smtp_password": "pw"}))
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-05T08:55:00+09:00")
    assert load_settings(BounceSettings).uses_dev_secret()


def test_without_a_secrets_directory_the_development_secret_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_secrets_dir(monkeypatch, tmp_path / "absent")
    assert load_settings(MailerSettings).uses_dev_secret()


def test_an_unknown_time_zone_is_a_validation_error_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as caught:
        CommonSettings(timezone="Asia/Tokio")
    (error,) = caught.value.errors()
    assert error["loc"] == ("timezone",)
    assert "Asia/Tokio" in error["msg"]


@pytest.mark.parametrize("bad", ["", "../etc/passwd"])
def test_a_malformed_time_zone_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ValidationError):
        CommonSettings(timezone=bad)


def test_nats_replicas_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().nats_replicas == 1
    monkeypatch.setenv("OTAYORI_NATS_REPLICAS", "3")
    assert CommonSettings().nats_replicas == 3
    monkeypatch.setenv("OTAYORI_NATS_REPLICAS", "0")
    with pytest.raises(ValidationError):
        CommonSettings()


def test_the_settings_table_tells_an_empty_secret_from_the_dev_value() -> None:
    defaults = {env: default for env, default, _, _ in rows()}
    assert defaults["OTAYORI_IMAP_PASSWORD"] == "`(empty)`"
    assert defaults["OTAYORI_VERP_SECRET"] == "`(dev value)`"
