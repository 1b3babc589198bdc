"""Settings: defaults, overridden by a TOML config file, by environment variables, then by command-line flags.

The config file is `$STUDIO_CONFIG`, else `config.toml` in the data folder the flags or the environment name
(`--home` wins over `STUDIO_HOME`), and the studio saves to the same file it read. Environment variables are
the upper-case names with the `STUDIO_` prefix (`STUDIO_PORT`), except `AMPHION_ROOT`. Paths must be absolute
(`~` is expanded).
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_HOME = Path("~/.local/share/amphion-studio")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
PATH_SETTINGS = ("home", "amphion_root", "ssl_certfile", "ssl_keyfile", "runtimes_dir")
ENGINE_ID = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)+")


class SettingsError(ValueError):
    """A setting has a value the studio cannot use; the message says which and what is allowed."""


@dataclass(frozen=True)
class Settings:
    home: Path = DEFAULT_HOME
    host: str = "0.0.0.0"
    port: int = 8080
    device: str = "auto"
    memory_budget_gb: float | None = None  # None: 85 % of the memory the device can use
    amphion_root: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    log_level: str = "INFO"
    engine_packages: tuple[str, ...] = ()  # extra packages of engines (plug-ins), comma-separated in the environment
    runtimes_dir: Path | None = None  # isolated runtimes' environments; None: <home>/runtimes
    default_engine: str = "builtin.hibari"  # the speech engine used where none is named: API, CLI, Speech page
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # setting -> where its value came from
    config_path: Path | None = field(default=None, compare=False)  # the file `load` read; `save` writes it

    ENV_NAMES = {"amphion_root": "AMPHION_ROOT"}

    @classmethod
    def env_name(cls, name: str) -> str:
        return cls.ENV_NAMES.get(name, "STUDIO_" + name.upper())

    @property
    def runtimes(self) -> Path:
        """Where isolated runtimes (engines/isolated) keep their environments."""
        return self.runtimes_dir or self.home / "runtimes"

    @property
    def config_file(self) -> Path:
        return self.config_path or self.home / "config.toml"

    @classmethod
    def setting_names(cls) -> set[str]:
        """The settings a config file, the environment or a flag can set."""
        return {f.name for f in fields(cls)} - {"sources", "config_path"}

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < config file < environment < `overrides` (command-line flags); validated."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        sources: dict[str, str] = {}
        home = overrides.get("home") or env.get("STUDIO_HOME") or DEFAULT_HOME
        config_path = _absolute("STUDIO_CONFIG", env["STUDIO_CONFIG"]) if env.get("STUDIO_CONFIG") else \
            _absolute("home", home) / "config.toml"
        if config_path.is_file():
            try:
                from_file = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"The config file {config_path} is not valid TOML: {exc}") from None
            names = cls.setting_names()
            unknown = set(from_file) - names
            if unknown:
                raise SettingsError(f"The config file {config_path} has unknown settings: {', '.join(sorted(unknown))}. "
                                    f"Known: {', '.join(sorted(names))}.")
            raw.update(from_file)
            sources.update({k: f"config file {config_path}" for k in from_file})
        for name in cls.setting_names():
            if env.get(cls.env_name(name)):
                raw[name] = env[cls.env_name(name)]
                sources[name] = f"environment {cls.env_name(name)}"
        for name, value in overrides.items():
            if value is not None:
                raw[name] = value
                sources[name] = "command line"
        return cls._validated(raw, sources, config_path)

    @classmethod
    def _validated(cls, raw: dict[str, Any], sources: dict[str, str], config_path: Path) -> Settings:
        values = {name: _convert(name, value) for name, value in raw.items()}
        settings = cls(**values, sources=sources, config_path=config_path)
        if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
            raise SettingsError("HTTPS needs both ssl_certfile and ssl_keyfile (STUDIO_SSL_CERTFILE, STUDIO_SSL_KEYFILE).")
        return replace(settings, home=_absolute("home", settings.home))

    def with_changes(self, **changes: Any) -> Settings:
        values = {k: _convert(k, v) if v is not None else None for k, v in changes.items()}
        return replace(self, **values)

    def save(self, **changes: Any) -> Settings:
        """Write `changes` into the config file (a None value removes the key) and return the new settings."""
        path = self.config_file
        current: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        for name, value in changes.items():
            _convert(name, value) if value is not None else None
            if value is None:
                current.pop(name, None)
            else:
                current[name] = str(value) if isinstance(value, Path) else value
        path.parent.mkdir(parents=True, exist_ok=True)
        from .storage import atomic_write_text
        atomic_write_text(path, "".join(f"{k} = {json.dumps(v)}\n" for k, v in sorted(current.items())))
        return self.with_changes(**changes)


def _absolute(name: str, value: str | Path) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise SettingsError(f"Setting {name} = {str(value)!r} is not valid: use an absolute path (starting with / "
                            f"or ~); a relative one would depend on the folder the studio was started from.")
    return path


def _convert(name: str, value: Any) -> Any:
    if name in PATH_SETTINGS:
        return None if value in (None, "") else _absolute(name, value)
    try:
        if name == "port":
            port = int(value)
            if not 1 <= port <= 65535:
                raise ValueError
            return port
        if name == "memory_budget_gb":
            if value in (None, "", "auto"):
                return None
            budget = float(value)
            if not budget > 0:
                raise ValueError
            return budget
        if name == "device":
            if not DEVICE_PATTERN.match(str(value)):
                raise ValueError
            return str(value)
        if name == "log_level":
            level = str(value).upper()
            if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
                raise ValueError
            return level
        if name == "host":
            return str(value)
        if name == "default_engine":
            if not ENGINE_ID.fullmatch(str(value)):
                raise ValueError
            return str(value)
        if name == "engine_packages":
            items = value.split(",") if isinstance(value, str) else list(value)
            packages = tuple(item.strip() for item in items if item.strip())
            if not all(re.fullmatch(r"[A-Za-z_][\w.]*", p) for p in packages):
                raise ValueError
            return packages
    except (TypeError, ValueError):
        allowed = {
            "port": "a whole number from 1 to 65535", "memory_budget_gb": "a number of gigabytes above 0, or 'auto'",
            "device": "auto, cpu, cuda or cuda:N", "log_level": "DEBUG, INFO, WARNING or ERROR",
            "engine_packages": "importable package names separated by commas",
            "default_engine": "a speech engine's id, such as builtin.hibari (amphion-studio doctor lists them)",
        }
        raise SettingsError(f"Setting {name} = {value!r} is not valid: use {allowed.get(name, 'another value')}.") from None
    raise SettingsError(f"Unknown setting {name!r}.")
