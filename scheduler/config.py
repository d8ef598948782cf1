"""Settings: environment, then an optional TOML file under conf/, then CLI flags (strongest).

Every setting is declared once in ``SETTINGS`` (scheduler/config_table.py; parsers in config_values.py) with its parser, default and help text; names are
Scale's where Scale has one, so existing deployments carry over. A bad value raises ``ConfigError``
naming the setting; the CLI turns that into one line on stderr and exit code 2.

Every secret setting (marked ``secret``) may instead be given as ``NAME_FILE``: the path of a file
holding the value (Docker/Marathon secrets, files on the agents). The file is read at start; an
unreadable one is an error naming the setting. Settings remembers which came from files, so system
tasks are handed the path rather than the value (scheduler.scheduling.system_tasks).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.config_table import SETTINGS, SETTINGS_BY_KEY, URL_SETTINGS, Setting
from scheduler.config_values import (
    ConfigError,
    resolve_mesos_secret,
)
from scheduler.redact import url_passwords

__all__ = ["SETTINGS", "SETTINGS_BY_KEY", "URL_SETTINGS", "ConfigError", "Setting", "Settings", "load_settings"]

DEFAULT_CONFIG_PATH = Path("conf") / "scale-scheduler.toml"
CONFIG_PATH_ENV = "SCALE_SCHEDULER_CONFIG"


@dataclass(frozen=True, slots=True)
class Settings:
    mesos_master_url: str
    mesos_master_scheme: str
    mesos_role: str
    accepted_resource_role: str
    framework_name: str
    mesos_user: str
    mesos_principal: str | None
    mesos_secret: str | None
    mesos_secret_file: str | None
    failover_timeout_s: float
    missed_heartbeats: int
    backoff_max_s: float
    call_timeout_s: float
    offer_refuse_s: float
    offer_hold_warn_s: float
    unreachable_timeout_s: float
    outcome_wait_s: float
    pause_failing_nodes: bool
    max_launches_in_flight: int
    database_url: str
    database_timeout_s: float
    broker_url: str
    queue_name: str
    queue_depth_warn: int
    message_max_bytes: int
    message_max_deliveries: int
    elasticsearch_url: str | None
    logging_address: str | None
    logging_health_address: str | None
    fluentd_buffer_warn: int
    fluentd_buffer_size_warn: int
    silo_url: str | None
    geoaxis_enabled: bool
    geoaxis_key: str | None
    geoaxis_host: str
    scale_vhost: str
    secrets_url: str | None
    secrets_token: str | None
    message_handler_mode: str
    scale_docker_image: str | None
    api_host: str
    api_port: int
    api_tokens_file: str | None
    api_tokens_vault_path: str | None
    api_read_token_required: bool
    api_max_connections: int
    api_keepalive_timeout_s: float
    api_header_timeout_s: float
    api_write_timeout_s: float
    status_interval_s: float
    status_freshness_s: float
    status_persist_interval_s: float
    master_poll_interval_s: float
    node_retire_after_s: float
    metrics_window_s: int
    probe_interval_s: float
    probe_timeout_s: float
    loop_lag_warn_ms: float
    log_level: str
    bench_routes: bool
    database_url_secret_ref: str | None = None
    broker_url_secret_ref: str | None = None
    database_sslmode: str | None = None
    ca_file: str | None = None
    # (setting key, path) of the secret settings read from a NAME_FILE file
    secret_files: tuple[tuple[str, str], ...] = ()

    def secret_file(self, key: str) -> str | None:
        """The file a secret setting was read from (``NAME_FILE``), or None."""
        return dict(self.secret_files).get(key)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def secret_values(self) -> list[str]:
        """Values that must never appear in logs or the status: tokens and URL passwords.

        A URL password is given as written (percent-encoded) and decoded (``S3c%40ret`` and
        ``S3c@ret``); the user information ends at the URL's *last* ``@``.
        """
        values = []
        for setting in SETTINGS:
            value = getattr(self, setting.attr)
            if not setting.secret or not value:
                continue
            if setting.key in URL_SETTINGS:  # only the password is secret, never the address
                values.extend(url_passwords(str(value)))
            else:
                values.append(str(value))
        return sorted({v for v in values if v and len(v) >= 4 and "://" not in v}, key=len, reverse=True)


MAX_SECRET_FILE = 64 * 1024
FILE_SUFFIX = "_FILE"


def _file_settings() -> dict[str, Setting]:
    """``NAME_FILE`` -> the secret setting it gives (unless NAME_FILE is a setting of its own)."""
    return {s.key + FILE_SUFFIX: s for s in SETTINGS if s.secret and (s.key + FILE_SUFFIX) not in SETTINGS_BY_KEY}


def read_secret_file(key: str, path: str) -> str:
    """The value in a ``NAME_FILE`` file, without its trailing newline; ConfigError naming the setting."""
    where = f"{key}{FILE_SUFFIX}"
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path!r} ({exc.strerror or exc})") from None
    if len(data) > MAX_SECRET_FILE:
        raise ConfigError(f"{where}: {path!r} is larger than {MAX_SECRET_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path!r} is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ConfigError(f"{where}: {path!r} is empty")
    return value


def _with_files(raw: dict[str, str], files: dict[str, str], where: str) -> None:
    """Move ``NAME_FILE`` entries of one source into NAME (read from the file) and ``files``."""
    for file_key, setting in _file_settings().items():
        if file_key not in raw:
            continue
        path = raw.pop(file_key).strip()
        if setting.key in raw:
            raise ConfigError(f"{setting.key}: set either {setting.key} or {file_key} {where}, not both")
        if not path:
            continue
        raw[setting.key] = read_secret_file(setting.key, path)
        files[setting.key] = path


def _raw_from_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    raw = {}
    file_keys = _file_settings()
    for key, value in data.items():
        if key not in SETTINGS_BY_KEY and key not in file_keys:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{key}: expected a string or a number in {path}")
        raw[key] = str(value)
    return raw


def _raw_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    raw = {}
    for setting in SETTINGS:
        # The canonical name wins over its aliases; aliases are listed strongest first.
        for name in (setting.key, *setting.aliases):
            if name in environ:
                raw[setting.key] = environ[name]
                break
    for file_key in _file_settings():
        if file_key in environ:
            raw[file_key] = environ[file_key]
    return raw


def config_path(environ: Mapping[str, str], explicit: str | None) -> Path | None:
    """The config file to read: --config, else $SCALE_SCHEDULER_CONFIG, else conf/ if present."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_PATH_ENV):
        return Path(environ[CONFIG_PATH_ENV])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    config_file: str | None = None,
    overrides: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from mode defaults < environment < config file < CLI overrides."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str | None] = {s.key: s.default for s in SETTINGS}
    raw.update(defaults or {})
    files: dict[str, str] = {}
    from_environ = _raw_from_environ(environ)
    _with_files(from_environ, files, "in the environment")
    raw.update(from_environ)
    path = config_path(environ, config_file)
    if path is not None:
        from_file = _raw_from_file(path)
        for key in from_file:
            files.pop(key, None)  # a stronger source gives the value itself
        _with_files(from_file, files, f"in {path}")
        raw.update(from_file)
    for key, value in (overrides or {}).items():
        if key not in SETTINGS_BY_KEY:
            raise ConfigError(f"unknown setting {key!r}")
        raw[key] = value
        files.pop(key, None)
    values = {}
    for setting in SETTINGS:
        text = raw[setting.key]
        if text is None:
            values[setting.attr] = None
            continue
        try:
            values[setting.attr] = setting.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{setting.key}: {exc}") from None
    resolve_mesos_secret(values)
    return Settings(**values, secret_files=tuple(sorted(files.items())))
