"""Settings come from defaults, a config file, the environment and flags, in that order, and are checked."""
from __future__ import annotations

from pathlib import Path

import pytest

from studio.settings import Settings, SettingsError
from studio.storage import Paths


def test_defaults_put_everything_under_an_absolute_home(studio_home: Path) -> None:
    settings = Settings.load()
    assert settings.home == studio_home and settings.home.is_absolute()
    assert (settings.port, settings.device, settings.memory_budget_gb) == (8080, "auto", None)
    paths = Paths(settings.home).ensure()
    for path in (paths.database, paths.generations, paths.exports, paths.logs):
        assert path.is_absolute() and studio_home in path.parents


def test_config_file_then_environment_then_flags(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    studio_home.mkdir(parents=True)
    (studio_home / "config.toml").write_text('port = 9000\nmemory_budget_gb = 12.5\ndevice = "cpu"\n'
                                             'amphion_root = "~/Amphion"\n')
    settings = Settings.load()
    assert (settings.port, settings.memory_budget_gb, settings.device) == (9000, 12.5, "cpu")
    assert settings.amphion_root == Path("~/Amphion").expanduser()
    assert settings.sources["port"].startswith("config file")
    monkeypatch.setenv("STUDIO_PORT", "9100")
    monkeypatch.setenv("AMPHION_ROOT", "/opt/Amphion")
    settings = Settings.load()
    assert settings.port == 9100 and settings.sources["port"] == "environment STUDIO_PORT"
    assert settings.amphion_root == Path("/opt/Amphion")
    assert Settings.load(port=9200).port == 9200


@pytest.mark.parametrize(("name", "value", "message"), [
    ("STUDIO_PORT", "99999", "port = '99999' is not valid: use a whole number from 1 to 65535"),
    ("STUDIO_MEMORY_BUDGET_GB", "-2", "a number of gigabytes above 0"),
    ("STUDIO_DEVICE", "gpu", "auto, cpu, cuda or cuda:N"),
])
def test_bad_values_say_what_is_allowed(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.load()


def test_a_broken_or_unknown_config_file_is_reported(studio_home: Path) -> None:
    studio_home.mkdir(parents=True)
    config = studio_home / "config.toml"
    config.write_text("port = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load()
    config.write_text("prot = 8000\n")
    with pytest.raises(SettingsError, match="unknown settings: prot"):
        Settings.load()


def test_saved_changes_survive_a_restart(studio_home: Path) -> None:
    settings = Settings.load()
    changed = settings.save(memory_budget_gb=40.0)
    assert changed.memory_budget_gb == 40.0
    assert Settings.load().memory_budget_gb == 40.0
    Settings.load().save(memory_budget_gb=None)
    assert Settings.load().memory_budget_gb is None


def test_https_needs_both_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_SSL_CERTFILE", "/etc/cert.pem")
    with pytest.raises(SettingsError, match="needs both"):
        Settings.load()


def test_storage_secret_is_created_once_and_private(studio_home: Path) -> None:
    paths = Paths(studio_home).ensure()
    secret = paths.storage_secret()
    assert len(secret) > 30 and paths.storage_secret() == secret
    assert paths.secret_file.stat().st_mode & 0o777 == 0o600
