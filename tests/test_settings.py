"""Settings: environment, config file, production refusals, the secret key."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.auth.secretbox import SecretBox
from homeport.errors import HomeportError, ValidationFailed
from homeport.settings import ClientSettings, Settings, load_settings


def test_defaults_listen_on_localhost_8080(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert (settings.host, settings.port, settings.env) == ("127.0.0.1", 8080, "dev")
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'homeport.db'}"
    assert settings.resolved_public_url == "http://127.0.0.1:8080"


def test_environment_variables_and_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "homeport.yaml"
    config.write_text("port: 9000\ndefault_model: openai/gpt-4o\nlog_level: DEBUG\n")
    monkeypatch.setenv("HOMEPORT_CONFIG", str(config))
    monkeypatch.setenv("HOMEPORT_PORT", "9100")
    monkeypatch.setenv("OLLAMA_HOST", "http://10.0.0.5:11434/")
    settings = Settings(data_dir=tmp_path)
    assert settings.port == 9100  # the environment wins over the file
    assert settings.default_model == "openai/gpt-4o"
    assert settings.ollama_host == "http://10.0.0.5:11434"


def test_postgres_urls_get_the_async_driver(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u:p@db:5432/homeport")
    assert settings.resolved_database_url == "postgresql+asyncpg://u:p@db:5432/homeport"


def test_production_refuses_insecure_defaults(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_settings(env="production", data_dir=tmp_path)
    message = caught.value.message
    assert "HOMEPORT_SECRET_KEY" in message and "HOMEPORT_PUBLIC_URL" in message
    with pytest.raises(ValidationFailed):
        load_settings(
            env="production", data_dir=tmp_path, secret_key="x" * 40, public_url="http://h"
        )
    ok = load_settings(
        env="production",
        data_dir=tmp_path,
        secret_key="x" * 40,
        public_url="https://homeport.example",
    )
    assert ok.env == "production"
    with pytest.raises(ValidationFailed) as caught:
        load_settings(
            env="production",
            data_dir=tmp_path,
            secret_key="x" * 40,
            public_url="https://homeport.example",
            oidc_issuer="http://idp.example",
            oidc_client_id="homeport",
        )
    assert "HOMEPORT_OIDC_ISSUER must use https" in caught.value.message


def test_a_wrong_type_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_settings(data_dir=tmp_path, port="eighty")
    assert "port" in caught.value.message


def test_dev_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).load_or_create_secret_key()
    assert first == Settings(data_dir=tmp_path).load_or_create_secret_key()
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_secrets_survive_key_rotation(tmp_path: Path) -> None:
    old = SecretBox(["old-key"])
    token = old.encrypt("sk-provider")
    rotated = Settings(data_dir=tmp_path, secret_key="new-key", secret_key_previous="old-key")
    box = SecretBox(rotated.secret_keys())
    assert box.decrypt(token) == "sk-provider"
    assert SecretBox(["new-key"]).decrypt(box.rotate(token)) == "sk-provider"
    with pytest.raises(HomeportError):
        SecretBox(["unrelated"]).decrypt(token)


def test_the_cli_prefers_environment_variables_over_its_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ClientSettings(config_dir=tmp_path)
    path = client.write_profile(url="http://saved:8080/", api_key="hp-saved")
    assert path.stat().st_mode & 0o777 == 0o600
    assert ClientSettings(config_dir=tmp_path).resolve() == ("http://saved:8080", "hp-saved")
    monkeypatch.setenv("HOMEPORT_URL", "http://env:9000")
    monkeypatch.setenv("HOMEPORT_API_KEY", "hp-env")
    assert ClientSettings(config_dir=tmp_path).resolve() == ("http://env:9000", "hp-env")
