"""Settings come from defaults, a config file, the environment and flags, in that order, and are checked."""
from __future__ import annotations

import re
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


@pytest.mark.parametrize(("name", "value"), [("STUDIO_HOME", "studio-data"), ("AMPHION_ROOT", "../Amphion"),
                                             ("STUDIO_CONFIG", "config.toml")])
def test_relative_paths_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"= '{re.escape(value)}' is not valid: use an absolute path"):
        Settings.load()


def test_a_relative_home_flag_is_refused_and_a_home_under_the_user_folder_is_expanded() -> None:
    with pytest.raises(SettingsError, match="home = 'data' is not valid: use an absolute path"):
        Settings.load(home="data")
    assert Settings.load(home="~/studio-data").home == Path.home() / "studio-data"


def test_the_home_flag_picks_the_config_file_read_and_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment_home, flag_home = tmp_path / "a", tmp_path / "b"
    for home, port in ((environment_home, 9000), (flag_home, 9100)):
        home.mkdir()
        (home / "config.toml").write_text(f"port = {port}\n")
    monkeypatch.setenv("STUDIO_HOME", str(environment_home))
    settings = Settings.load(home=str(flag_home))
    assert (settings.home, settings.port, settings.config_file) == (flag_home, 9100, flag_home / "config.toml")
    settings.save(memory_budget_gb=40.0)  # what the Models page does with a new budget
    assert Settings.load(home=str(flag_home)).memory_budget_gb == 40.0
    assert (environment_home / "config.toml").read_text() == "port = 9000\n"


def test_an_explicit_config_file_is_the_one_saved_to(tmp_path: Path, studio_home: Path) -> None:
    config = tmp_path / "etc" / "studio.toml"
    config.parent.mkdir()
    config.write_text("port = 9300\n")
    settings = Settings.load(environ={"STUDIO_CONFIG": str(config), "STUDIO_HOME": str(studio_home)})
    assert settings.port == 9300 and settings.config_file == config
    settings.save(memory_budget_gb=12.0)
    assert "memory_budget_gb = 12.0" in config.read_text() and not (studio_home / "config.toml").exists()


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
