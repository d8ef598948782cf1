"""Settings: environment, then an optional TOML file under conf/, then CLI flags (strongest).

Every setting is declared once in ``SETTINGS`` with its parser, default and help text; names are
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scheduler.redact import mask_url, url_passwords

DEFAULT_CONFIG_PATH = Path("conf") / "scale-scheduler.toml"
CONFIG_PATH_ENV = "SCALE_SCHEDULER_CONFIG"


class ConfigError(Exception):
    """A setting has a value that cannot be used; the message names the setting."""


# --- parsers: each takes the raw text and returns the typed value or raises ValueError ---------


def _text(raw: str) -> str:
    return raw.strip()


def _optional_text(raw: str) -> str | None:
    return raw.strip() or None


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _number(raw: str, *, minimum: float, strict: bool, integer: bool = False) -> float | int:
    try:
        value: float | int = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"expected {kind}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {raw!r}")
    if (strict and value <= minimum) or (not strict and value < minimum):
        bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
        raise ValueError(f"must be {bound}, got {raw!r}")
    return value


def _positive_seconds(raw: str) -> float:
    return float(_number(raw, minimum=0, strict=True))


def _non_negative_seconds(raw: str) -> float:
    return float(_number(raw, minimum=0, strict=False))


def _positive_int(raw: str) -> int:
    return int(_number(raw, minimum=0, strict=True, integer=True))


def _threshold(raw: str) -> int:
    # Scale's convention: -1 (or any negative) disables a threshold.
    return int(_number(raw, minimum=-1, strict=False, integer=True))


def _port(raw: str) -> int:
    value = int(_number(raw, minimum=0, strict=False, integer=True))
    if value > 65535:
        raise ValueError(f"must be a TCP port (0-65535), got {raw!r}")
    return value


def _url(*schemes: str, optional: bool = False) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        value = raw.strip()
        if not value:
            if optional:
                return None
            raise ValueError("must not be empty")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc}): {mask_url(value)!r}") from None
        if parts.scheme not in schemes:
            wanted = ", ".join(f"{s}://" for s in schemes)
            raise ValueError(f"expected a {wanted} URL, got {mask_url(value)!r}")
        if not parts.hostname:
            raise ValueError(f"URL has no host: {mask_url(value)!r}")
        return value.rstrip("/")

    return parse


def _database_url(raw: str) -> str:
    value = raw.strip()
    from sqlalchemy.engine import make_url  # local: keep config importable without SQLAlchemy

    try:
        url = make_url(value)
    except Exception:  # SQLAlchemy raises ArgumentError for anything unparseable
        raise ValueError(f"not a valid SQLAlchemy URL: {mask_url(value)!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"only sqlite:// and postgresql:// are supported, got {mask_url(value)!r}")
    return value


def _broker_url(raw: str) -> str:
    value = raw.strip()
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in ("amqp", "amqps", "pyamqp", "memory", "sqs"):
        raise ValueError(f"expected an amqp://, amqps://, memory:// or sqs:// URL, got {mask_url(value)!r}")
    return value


def _secret_name(raw: str) -> str | None:
    """A Mesos secret reference name: printable, no spaces, bounded."""
    value = raw.strip()
    if not value:
        return None
    if len(value) > 255 or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("expected a secret name of at most 255 printable characters without spaces")
    return value


def _path(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if "\x00" in value or not value.isprintable():
        raise ValueError("expected a file path of printable characters")
    return value


def _master_url(raw: str) -> str:
    """An http(s):// master, or zk://[user:pass@]h1:p1,h2:p2/path to find the leader in ZooKeeper."""
    from scheduler.mesos.master_detector import ZkUrlError, is_zk_url, parse_zk_url

    if not is_zk_url(raw):
        return _url("http", "https")(raw)
    try:
        parse_zk_url(raw)
    except ZkUrlError as exc:  # its message never carries the password
        raise ValueError(f"not a valid zk:// URL ({exc}): {mask_url(raw.strip())!r}") from None
    return raw.strip().rstrip("/")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _optional_choice(*choices: str) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        if not raw.strip():
            return None
        return _choice(*choices)(raw)

    return parse


def _principal(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    # Mesos' Basic authenticator splits "principal:secret" on every colon.
    if ":" in value or any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > 255:
        raise ValueError("must be at most 255 characters, without ':' or control characters")
    return value


def _mesos_secret(raw: str) -> str | None:
    # Not stripped: a secret is taken byte for byte. Errors never quote it.
    if not raw:
        return None
    if ":" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw) or len(raw) > 4096:
        raise ValueError("must be at most 4096 characters, without ':' or control characters")
    return raw


def _read_secret_file(path: str) -> str:
    """The content of a secret file, without one trailing newline (as `echo secret > file` leaves)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(4097 + 2)
    except OSError as exc:
        raise ConfigError(f"MESOS_SECRET_FILE: cannot read {path} ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"MESOS_SECRET_FILE: {path} is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        value = _mesos_secret(text)
    except ValueError as exc:
        raise ConfigError(f"MESOS_SECRET_FILE: the secret in {path} {exc}") from None
    if value is None:
        raise ConfigError(f"MESOS_SECRET_FILE: {path} is empty")
    return value


def _resolve_mesos_secret(values: dict[str, Any]) -> None:
    """MESOS_SECRET_FILE fills MESOS_SECRET; a secret needs a principal."""
    path = values.get("mesos_secret_file")
    if path:
        if values.get("mesos_secret") is not None:
            raise ConfigError("MESOS_SECRET and MESOS_SECRET_FILE are both set; use one")
        values["mesos_secret"] = _read_secret_file(path)
    if values.get("mesos_secret") is not None and values.get("mesos_principal") is None:
        raise ConfigError("MESOS_SECRET (or MESOS_SECRET_FILE) is set without MESOS_PRINCIPAL")


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return value


# --- the declarations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    key: str  # the environment / file name
    attr: str  # the Settings field
    parse: Callable[[str], Any]
    default: str | None  # raw text, parsed like any other value; None means "unset"
    help: str
    aliases: tuple[str, ...] = ()  # other environment names, weaker than ``key``
    secret: bool = False  # never echoed in errors or logs


SETTINGS: tuple[Setting, ...] = (
    # Mesos
    Setting(
        "MESOS_MASTER_URL",
        "mesos_master_url",
        _master_url,
        "http://127.0.0.1:5050",
        "Mesos master to subscribe to: http(s)://host:port, or zk://[user:pass@]h1:p1,h2:p2/path",
        secret=True,  # only its password is a secret (secret_values takes the password of a URL)
    ),
    Setting(
        "MESOS_MASTER_SCHEME",
        "mesos_master_scheme",
        _choice("http", "https"),
        "http",
        "Scheme of the master found through ZooKeeper (MasterInfo does not say)",
    ),
    Setting("MESOS_ROLE", "mesos_role", _text, "*", "Role the framework subscribes with"),
    Setting(
        "ACCEPTED_RESOURCE_ROLE",
        "accepted_resource_role",
        _text,
        "*",
        "Role of the offered resources the scheduler uses; offers of other roles are declined",
    ),
    Setting(
        "FRAMEWORK_NAME",
        "framework_name",
        _text,
        "scale",
        "Framework name shown by Mesos",
        aliases=("DCOS_PACKAGE_FRAMEWORK_NAME",),
    ),
    Setting("MESOS_USER", "mesos_user", _text, "root", "Unix user tasks run as on the agents"),
    Setting(
        "MESOS_PRINCIPAL",
        "mesos_principal",
        _principal,
        None,
        "Principal of the framework (FrameworkInfo.principal; with a secret, HTTP Basic on every call to the master)",
    ),
    Setting(
        "MESOS_SECRET",
        "mesos_secret",
        _mesos_secret,
        None,
        "Secret of MESOS_PRINCIPAL for a master with --authenticate_http_frameworks",
        secret=True,
    ),
    Setting(
        "MESOS_SECRET_FILE",
        "mesos_secret_file",
        _optional_text,
        None,
        "File holding MESOS_SECRET (one trailing newline is ignored); instead of MESOS_SECRET",
    ),
    Setting(
        "FAILOVER_TIMEOUT",
        "failover_timeout_s",
        _positive_seconds,
        "604800",
        "Seconds Mesos keeps the framework's tasks while the scheduler is away (default one week)",
    ),
    Setting(
        "MESOS_MISSED_HEARTBEATS",
        "missed_heartbeats",
        _positive_int,
        "5",
        "Heartbeat intervals without any event before the scheduler re-subscribes",
    ),
    Setting(
        "MESOS_BACKOFF_MAX",
        "backoff_max_s",
        _positive_seconds,
        "15",
        "Cap of the exponential reconnect backoff, seconds",
    ),
    Setting(
        "MESOS_CALL_TIMEOUT", "call_timeout_s", _positive_seconds, "75", "Timeout of a call to the master, seconds"
    ),
    Setting(
        "OFFER_REFUSE_SECONDS",
        "offer_refuse_s",
        _non_negative_seconds,
        "300",
        "Refuse filter sent with offers declined while no work waits, seconds (1 s while some does)",
    ),
    Setting(
        "OFFER_HOLD_WARN_SECONDS",
        "offer_hold_warn_s",
        _positive_seconds,
        "10",
        "An offer held longer than this many seconds raises the OFFERS_HELD scheduler warning",
    ),
    # partitions, outcomes after a restart, black-hole nodes (core/task_watch.py, nodes/failure_rate.py)
    Setting(
        "UNREACHABLE_TIMEOUT",
        "unreachable_timeout_s",
        _positive_seconds,
        "900",
        "Seconds a try on an unreachable agent is kept (not rerun) before it is killed and retried as SYSTEM",
    ),
    Setting(
        "OUTCOME_WAIT_SECONDS",
        "outcome_wait_s",
        _positive_seconds,
        "900",
        "Seconds a FAILED try reported without its exit status waits for the agent's update; then UNKNOWN",
    ),
    Setting(
        "PAUSE_FAILING_NODES",
        "pause_failing_nodes",
        _bool,
        "false",
        "Also pause a node whose tries fail as SYSTEM far more often than elsewhere (it is DEGRADED anyway)",
    ),
    Setting(
        "MAX_LAUNCHES_IN_FLIGHT",
        "max_launches_in_flight",
        _positive_int,
        "1500",
        "Tasks placed whose ACCEPT the master has not answered yet, at most: placement waits beyond",
    ),
    # storage and messaging
    Setting(
        "DATABASE_URL",
        "database_url",
        _database_url,
        "sqlite:///var/scale-scheduler.db",
        "SQLAlchemy URL of the database (postgresql://... in production)",
        secret=True,
    ),
    Setting(
        "DATABASE_TIMEOUT", "database_timeout_s", _positive_seconds, "10", "Timeout of one database round trip, seconds"
    ),
    Setting(
        "SCALE_BROKER_URL",
        "broker_url",
        _broker_url,
        "memory://",
        "kombu broker URL of the command message queue",
        secret=True,
    ),
    Setting("SCALE_QUEUE_NAME", "queue_name", _text, "scale-command-messages", "Command message queue"),
    Setting(
        "MESSAGE_QUEUE_DEPTH_WARN",
        "queue_depth_warn",
        _threshold,
        "-1",
        "Queue depth above which msg_queue warns (-1: never)",
        aliases=("MESSSAGE_QUEUE_DEPTH_WARN",),
    ),
    Setting(
        "DATABASE_URL_SECRET_REF",
        "database_url_secret_ref",
        _secret_name,
        None,
        "Mesos secret (reference name) holding DATABASE_URL for system tasks",
    ),
    Setting(
        "SCALE_BROKER_URL_SECRET_REF",
        "broker_url_secret_ref",
        _secret_name,
        None,
        "Mesos secret (reference name) holding SCALE_BROKER_URL for system tasks",
    ),
    Setting(
        "DATABASE_SSLMODE",
        "database_sslmode",
        _optional_choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        None,
        "PostgreSQL sslmode (unset: verify-full when CA_FILE is set, else libpq's prefer)",
    ),
    Setting(
        "CA_FILE",
        "ca_file",
        _path,
        None,
        "PEM file of the CA(s) every outbound TLS connection trusts (Mesos, PostgreSQL, RabbitMQ, probes)",
    ),
    Setting(
        "MESSAGE_MAX_BYTES",
        "message_max_bytes",
        _positive_int,
        str(16 * 1024 * 1024),
        "Largest command message body a handler reads; larger ones are dead-lettered",
    ),
    Setting(
        "MESSAGE_MAX_DELIVERIES",
        "message_max_deliveries",
        _positive_int,
        "20",
        "Deliveries of a message without an outcome (a handler died on it) before it is dead-lettered",
    ),
    # dependencies probed by the status
    Setting(
        "ELASTICSEARCH_URL",
        "elasticsearch_url",
        _url("http", "https", optional=True),
        None,
        "Elasticsearch to probe",
        aliases=("SCALE_ELASTICSEARCH_URLS",),
        secret=True,
    ),
    Setting(
        "LOGGING_ADDRESS",
        "logging_address",
        _optional_text,
        None,
        "Log shipping target, e.g. tcp://fluentd:24224",
        aliases=("SCALE_LOGGING_ADDRESS",),
        secret=True,
    ),
    Setting(
        "LOGGING_HEALTH_ADDRESS",
        "logging_health_address",
        _url("http", "https", optional=True),
        None,
        "fluentd monitor-agent URL",
        secret=True,
    ),
    Setting(
        "FLUENTD_BUFFER_WARN",
        "fluentd_buffer_warn",
        _threshold,
        "-1",
        "fluentd buffer queue length above which logs warn (-1: never)",
    ),
    Setting(
        "FLUENTD_BUFFER_SIZE_WARN",
        "fluentd_buffer_size_warn",
        _threshold,
        "-1",
        "fluentd buffer total size above which logs warn (-1: never)",
    ),
    Setting("SILO_URL", "silo_url", _url("http", "https", optional=True), None, "Silo service to probe", secret=True),
    Setting("GEOAXIS_ENABLED", "geoaxis_enabled", _bool, "false", "Whether GEOAxIS IdAM is enabled"),
    Setting("GEOAXIS_KEY", "geoaxis_key", _optional_text, None, "GEOAxIS client key (enables GEOAxIS)", secret=True),
    Setting("GEOAXIS_HOST", "geoaxis_host", _text, "geoaxis.gxaccess.com", "GEOAxIS host"),
    Setting("SCALE_VHOST", "scale_vhost", _text, "localhost:8000", "Public host of the Scale API"),
    Setting(
        "SECRETS_URL",
        "secrets_url",
        _url("http", "https", optional=True),
        None,
        "Vault address",
        aliases=("VAULT_ADDR",),
        secret=True,
    ),
    Setting(
        "SECRETS_TOKEN", "secrets_token", _optional_text, None, "Vault token", aliases=("VAULT_TOKEN",), secret=True
    ),
    # the daemon
    Setting(
        "MESSAGE_HANDLER_MODE",
        "message_handler_mode",
        _choice("tasks", "in-process"),
        "tasks",
        "tasks: message handlers run as Mesos tasks; in-process: inside the scheduler (dev mode)",
    ),
    Setting(
        "SCALE_DOCKER_IMAGE",
        "scale_docker_image",
        _optional_text,
        None,
        "Image of system tasks (message handlers, database update); unset runs them as commands",
    ),
    Setting("SCALE_API_HOST", "api_host", _text, "0.0.0.0", "Address the API listens on"),
    Setting("PORT0", "api_port", _port, "8000", "API port (Marathon's PORT0 or PORT)", aliases=("PORT",)),
    Setting(
        "API_TOKENS_FILE",
        "api_tokens_file",
        _optional_text,
        None,
        "File of bearer tokens allowed to change things through the API: one per line, then a name",
    ),
    Setting(
        "API_TOKENS_VAULT_PATH",
        "api_tokens_vault_path",
        _optional_text,
        None,
        "Vault KV v2 secret (mount/path) of API tokens, name: token, read with SECRETS_URL and SECRETS_TOKEN",
    ),
    Setting(
        "API_READ_TOKEN_REQUIRED",
        "api_read_token_required",
        _bool,
        "false",
        "Whether reading the v6 API needs a token too (as writing always does)",
    ),
    Setting("API_MAX_CONNECTIONS", "api_max_connections", _positive_int, "1000", "Open API connections at most"),
    Setting(
        "API_KEEPALIVE_TIMEOUT",
        "api_keepalive_timeout_s",
        _positive_seconds,
        "15",
        "Seconds an idle API connection is kept open between requests",
    ),
    Setting(
        "API_HEADER_TIMEOUT",
        "api_header_timeout_s",
        _positive_seconds,
        "10",
        "Seconds a new API connection has to send a complete request head",
    ),
    Setting(
        "API_WRITE_TIMEOUT",
        "api_write_timeout_s",
        _positive_seconds,
        "30",
        "Seconds an answer may wait for a client that does not read before the connection is closed",
    ),
    Setting("STATUS_INTERVAL", "status_interval_s", _positive_seconds, "1", "Seconds between two status snapshots"),
    Setting(
        "STATUS_FRESHNESS_THRESHOLD",
        "status_freshness_s",
        _positive_seconds,
        "12",
        "Age in seconds past which GET /v6/status/ answers 503",
    ),
    Setting(
        "STATUS_PERSIST_INTERVAL",
        "status_persist_interval_s",
        _positive_seconds,
        "5",
        "Seconds between two writes of the status to the database (read by the api command)",
    ),
    Setting(
        "MASTER_POLL_INTERVAL",
        "master_poll_interval_s",
        _positive_seconds,
        "5",
        "Seconds between two reads of the master's agents (/master/slaves)",
    ),
    Setting(
        "NODE_RETIRE_AFTER",
        "node_retire_after_s",
        _positive_seconds,
        "3600",
        "Seconds an offline node stays OFFLINE before it is retired to DEPRECATED",
    ),
    Setting(
        "METRICS_WINDOW",
        "metrics_window_s",
        _positive_int,
        "10",
        "Seconds of the sliding window behind the per-second metrics",
    ),
    Setting("PROBE_INTERVAL", "probe_interval_s", _positive_seconds, "10", "Seconds between dependency probes"),
    Setting("PROBE_TIMEOUT", "probe_timeout_s", _positive_seconds, "5", "Timeout of one dependency probe"),
    Setting(
        "LOOP_LAG_WARN_MS",
        "loop_lag_warn_ms",
        _positive_seconds,
        "200",
        "Milliseconds late past which the event loop's lag is reported as a scheduler warning",
    ),
    Setting("LOG_LEVEL", "log_level", _log_level, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "BENCH_ROUTES",
        "bench_routes",
        _bool,
        "false",
        "Add /bench/status-copy/ and /bench/status-copy-gzip/, the benchmark's baselines (never in production)",
    ),
)

SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
# Secret settings that are addresses: the password inside is the secret, not the whole value.
URL_SETTINGS = frozenset(
    (
        "MESOS_MASTER_URL",
        "DATABASE_URL",
        "SCALE_BROKER_URL",
        "ELASTICSEARCH_URL",
        "LOGGING_ADDRESS",
        "LOGGING_HEALTH_ADDRESS",
        "SILO_URL",
        "SECRETS_URL",
    )
)


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
    _resolve_mesos_secret(values)
    return Settings(**values, secret_files=tuple(sorted(files.items())))
