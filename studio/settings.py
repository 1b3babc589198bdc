"""Settings: defaults, overridden by a TOML config file, overridden by environment variables.

The config file is `$STUDIO_CONFIG`, else `<STUDIO_HOME>/config.toml`. Environment variables are the
upper-case names with the `STUDIO_` prefix (`STUDIO_PORT`), except `AMPHION_ROOT`.
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
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # setting -> where its value came from

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
        explicit = os.environ.get("STUDIO_CONFIG")
        return Path(explicit).expanduser().absolute() if explicit else self.home / "config.toml"

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < config file < environment < `overrides` (command-line flags); validated."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        sources: dict[str, str] = {}
        home = env.get("STUDIO_HOME") or overrides.get("home")
        config_path = Path(env["STUDIO_CONFIG"]) if env.get("STUDIO_CONFIG") else \
            _absolute(home or DEFAULT_HOME) / "config.toml"
        if config_path.is_file():
            try:
                from_file = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"The config file {config_path} is not valid TOML: {exc}") from None
            names = {f.name for f in fields(cls)} - {"sources"}
            unknown = set(from_file) - names
            if unknown:
                raise SettingsError(f"The config file {config_path} has unknown settings: {', '.join(sorted(unknown))}. "
                                    f"Known: {', '.join(sorted(names))}.")
            raw.update(from_file)
            sources.update({k: f"config file {config_path}" for k in from_file})
        for f in fields(cls):
            if f.name != "sources" and env.get(cls.env_name(f.name)):
                raw[f.name] = env[cls.env_name(f.name)]
                sources[f.name] = f"environment {cls.env_name(f.name)}"
        for name, value in overrides.items():
            if value is not None:
                raw[name] = value
                sources[name] = "command line"
        return cls._validated(raw, sources)

    @classmethod
    def _validated(cls, raw: dict[str, Any], sources: dict[str, str]) -> Settings:
        values: dict[str, Any] = {}
        for name, value in raw.items():
            values[name] = _convert(name, value)
        settings = cls(**values, sources=sources)
        if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
            raise SettingsError("HTTPS needs both ssl_certfile and ssl_keyfile (STUDIO_SSL_CERTFILE, STUDIO_SSL_KEYFILE).")
        return replace(settings, home=_absolute(settings.home))

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


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().absolute()


def _convert(name: str, value: Any) -> Any:
    try:
        if name in ("home", "amphion_root", "ssl_certfile", "ssl_keyfile", "runtimes_dir"):
            return None if value in (None, "") else _absolute(value)
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
        }
        raise SettingsError(f"Setting {name} = {value!r} is not valid: use {allowed.get(name, 'another value')}.") from None
    raise SettingsError(f"Unknown setting {name!r}.")
