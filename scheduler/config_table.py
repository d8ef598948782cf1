"""Every setting, declared once: its environment name, its Settings field, its parser, default and
help text. Names are Scale's where Scale has one, so existing deployments carry over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.config_values import (
    parse_bool,
    parse_broker_url,
    parse_choice,
    parse_database_url,
    parse_log_level,
    parse_master_url,
    parse_mesos_secret,
    parse_non_negative_seconds,
    parse_optional_choice,
    parse_optional_text,
    parse_path,
    parse_port,
    parse_positive_int,
    parse_positive_seconds,
    parse_principal,
    parse_secret_name,
    parse_text,
    parse_threshold,
    parse_url,
)


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
        parse_master_url,
        "http://127.0.0.1:5050",
        "Mesos master to subscribe to: http(s)://host:port, or zk://[user:pass@]h1:p1,h2:p2/path",
        secret=True,  # only its password is a secret (secret_values takes the password of a URL)
    ),
    Setting(
        "MESOS_MASTER_SCHEME",
        "mesos_master_scheme",
        parse_choice("http", "https"),
        "http",
        "Scheme of the master found through ZooKeeper (MasterInfo does not say)",
    ),
    Setting("MESOS_ROLE", "mesos_role", parse_text, "*", "Role the framework subscribes with"),
    Setting(
        "ACCEPTED_RESOURCE_ROLE",
        "accepted_resource_role",
        parse_text,
        "*",
        "Role of the offered resources the scheduler uses; offers of other roles are declined",
    ),
    Setting(
        "FRAMEWORK_NAME",
        "framework_name",
        parse_text,
        "scale",
        "Framework name shown by Mesos",
        aliases=("DCOS_PACKAGE_FRAMEWORK_NAME",),
    ),
    Setting("MESOS_USER", "mesos_user", parse_text, "root", "Unix user tasks run as on the agents"),
    Setting(
        "MESOS_PRINCIPAL",
        "mesos_principal",
        parse_principal,
        None,
        "Principal of the framework (FrameworkInfo.principal; with a secret, HTTP Basic on every call to the master)",
    ),
    Setting(
        "MESOS_SECRET",
        "mesos_secret",
        parse_mesos_secret,
        None,
        "Secret of MESOS_PRINCIPAL for a master with --authenticate_http_frameworks",
        secret=True,
    ),
    Setting(
        "MESOS_SECRET_FILE",
        "mesos_secret_file",
        parse_optional_text,
        None,
        "File holding MESOS_SECRET (one trailing newline is ignored); instead of MESOS_SECRET",
    ),
    Setting(
        "FAILOVER_TIMEOUT",
        "failover_timeout_s",
        parse_positive_seconds,
        "604800",
        "Seconds Mesos keeps the framework's tasks while the scheduler is away (default one week)",
    ),
    Setting(
        "MESOS_MISSED_HEARTBEATS",
        "missed_heartbeats",
        parse_positive_int,
        "5",
        "Heartbeat intervals without any event before the scheduler re-subscribes",
    ),
    Setting(
        "MESOS_BACKOFF_MAX",
        "backoff_max_s",
        parse_positive_seconds,
        "15",
        "Cap of the exponential reconnect backoff, seconds",
    ),
    Setting(
        "MESOS_CALL_TIMEOUT", "call_timeout_s", parse_positive_seconds, "75", "Timeout of a call to the master, seconds"
    ),
    Setting(
        "OFFER_REFUSE_SECONDS",
        "offer_refuse_s",
        parse_non_negative_seconds,
        "300",
        "Refuse filter sent with offers declined while no work waits, seconds (1 s while some does)",
    ),
    Setting(
        "OFFER_HOLD_WARN_SECONDS",
        "offer_hold_warn_s",
        parse_positive_seconds,
        "10",
        "An offer held longer than this many seconds raises the OFFERS_HELD scheduler warning",
    ),
    # partitions, outcomes after a restart, black-hole nodes (core/task_watch.py, nodes/failure_rate.py)
    Setting(
        "UNREACHABLE_TIMEOUT",
        "unreachable_timeout_s",
        parse_positive_seconds,
        "900",
        "Seconds a try on an unreachable agent is kept (not rerun) before it is killed and retried as SYSTEM",
    ),
    Setting(
        "OUTCOME_WAIT_SECONDS",
        "outcome_wait_s",
        parse_positive_seconds,
        "900",
        "Seconds a FAILED try reported without its exit status waits for the agent's update; then UNKNOWN",
    ),
    Setting(
        "PAUSE_FAILING_NODES",
        "pause_failing_nodes",
        parse_bool,
        "false",
        "Also pause a node whose tries fail as SYSTEM far more often than elsewhere (it is DEGRADED anyway)",
    ),
    Setting(
        "MAX_LAUNCHES_IN_FLIGHT",
        "max_launches_in_flight",
        parse_positive_int,
        "1500",
        "Tasks placed whose ACCEPT the master has not answered yet, at most: placement waits beyond",
    ),
    # storage and messaging
    Setting(
        "DATABASE_URL",
        "database_url",
        parse_database_url,
        "sqlite:///var/scale-scheduler.db",
        "SQLAlchemy URL of the database (postgresql://... in production)",
        secret=True,
    ),
    Setting(
        "DATABASE_TIMEOUT",
        "database_timeout_s",
        parse_positive_seconds,
        "10",
        "Timeout of one database round trip, seconds",
    ),
    Setting(
        "SCALE_BROKER_URL",
        "broker_url",
        parse_broker_url,
        "memory://",
        "kombu broker URL of the command message queue",
        secret=True,
    ),
    Setting("SCALE_QUEUE_NAME", "queue_name", parse_text, "scale-command-messages", "Command message queue"),
    Setting(
        "MESSAGE_QUEUE_DEPTH_WARN",
        "queue_depth_warn",
        parse_threshold,
        "-1",
        "Queue depth above which msg_queue warns (-1: never)",
        aliases=("MESSSAGE_QUEUE_DEPTH_WARN",),
    ),
    Setting(
        "DATABASE_URL_SECRET_REF",
        "database_url_secret_ref",
        parse_secret_name,
        None,
        "Mesos secret (reference name) holding DATABASE_URL for system tasks",
    ),
    Setting(
        "SCALE_BROKER_URL_SECRET_REF",
        "broker_url_secret_ref",
        parse_secret_name,
        None,
        "Mesos secret (reference name) holding SCALE_BROKER_URL for system tasks",
    ),
    Setting(
        "DATABASE_SSLMODE",
        "database_sslmode",
        parse_optional_choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        None,
        "PostgreSQL sslmode (unset: verify-full when CA_FILE is set, else libpq's prefer)",
    ),
    Setting(
        "CA_FILE",
        "ca_file",
        parse_path,
        None,
        "PEM file of the CA(s) every outbound TLS connection trusts (Mesos, PostgreSQL, RabbitMQ, probes)",
    ),
    Setting(
        "MESSAGE_MAX_BYTES",
        "message_max_bytes",
        parse_positive_int,
        str(16 * 1024 * 1024),
        "Largest command message body a handler reads; larger ones are dead-lettered",
    ),
    Setting(
        "MESSAGE_MAX_DELIVERIES",
        "message_max_deliveries",
        parse_positive_int,
        "20",
        "Deliveries of a message without an outcome (a handler died on it) before it is dead-lettered",
    ),
    # dependencies probed by the status
    Setting(
        "ELASTICSEARCH_URL",
        "elasticsearch_url",
        parse_url("http", "https", optional=True),
        None,
        "Elasticsearch to probe",
        aliases=("SCALE_ELASTICSEARCH_URLS",),
        secret=True,
    ),
    Setting(
        "LOGGING_ADDRESS",
        "logging_address",
        parse_optional_text,
        None,
        "Log shipping target, e.g. tcp://fluentd:24224",
        aliases=("SCALE_LOGGING_ADDRESS",),
        secret=True,
    ),
    Setting(
        "LOGGING_HEALTH_ADDRESS",
        "logging_health_address",
        parse_url("http", "https", optional=True),
        None,
        "fluentd monitor-agent URL",
        secret=True,
    ),
    Setting(
        "FLUENTD_BUFFER_WARN",
        "fluentd_buffer_warn",
        parse_threshold,
        "-1",
        "fluentd buffer queue length above which logs warn (-1: never)",
    ),
    Setting(
        "FLUENTD_BUFFER_SIZE_WARN",
        "fluentd_buffer_size_warn",
        parse_threshold,
        "-1",
        "fluentd buffer total size above which logs warn (-1: never)",
    ),
    Setting(
        "SILO_URL", "silo_url", parse_url("http", "https", optional=True), None, "Silo service to probe", secret=True
    ),
    Setting("GEOAXIS_ENABLED", "geoaxis_enabled", parse_bool, "false", "Whether GEOAxIS IdAM is enabled"),
    Setting(
        "GEOAXIS_KEY", "geoaxis_key", parse_optional_text, None, "GEOAxIS client key (enables GEOAxIS)", secret=True
    ),
    Setting("GEOAXIS_HOST", "geoaxis_host", parse_text, "geoaxis.gxaccess.com", "GEOAxIS host"),
    Setting("SCALE_VHOST", "scale_vhost", parse_text, "localhost:8000", "Public host of the Scale API"),
    Setting(
        "SECRETS_URL",
        "secrets_url",
        parse_url("http", "https", optional=True),
        None,
        "Vault address",
        aliases=("VAULT_ADDR",),
        secret=True,
    ),
    Setting(
        "SECRETS_TOKEN",
        "secrets_token",
        parse_optional_text,
        None,
        "Vault token",
        aliases=("VAULT_TOKEN",),
        secret=True,
    ),
    # the daemon
    Setting(
        "MESSAGE_HANDLER_MODE",
        "message_handler_mode",
        parse_choice("tasks", "in-process"),
        "tasks",
        "tasks: message handlers run as Mesos tasks; in-process: inside the scheduler (dev mode)",
    ),
    Setting(
        "SCALE_DOCKER_IMAGE",
        "scale_docker_image",
        parse_optional_text,
        None,
        "Image of system tasks (message handlers, database update); unset runs them as commands",
    ),
    Setting("SCALE_API_HOST", "api_host", parse_text, "0.0.0.0", "Address the API listens on"),
    Setting("PORT0", "api_port", parse_port, "8000", "API port (Marathon's PORT0 or PORT)", aliases=("PORT",)),
    Setting(
        "API_TOKENS_FILE",
        "api_tokens_file",
        parse_optional_text,
        None,
        "File of bearer tokens allowed to change things through the API: one per line, then a name",
    ),
    Setting(
        "API_TOKENS_VAULT_PATH",
        "api_tokens_vault_path",
        parse_optional_text,
        None,
        "Vault KV v2 secret (mount/path) of API tokens, name: token, read with SECRETS_URL and SECRETS_TOKEN",
    ),
    Setting(
        "API_READ_TOKEN_REQUIRED",
        "api_read_token_required",
        parse_bool,
        "false",
        "Whether reading the v6 API needs a token too (as writing always does)",
    ),
    Setting("API_MAX_CONNECTIONS", "api_max_connections", parse_positive_int, "1000", "Open API connections at most"),
    Setting(
        "API_KEEPALIVE_TIMEOUT",
        "api_keepalive_timeout_s",
        parse_positive_seconds,
        "15",
        "Seconds an idle API connection is kept open between requests",
    ),
    Setting(
        "API_HEADER_TIMEOUT",
        "api_header_timeout_s",
        parse_positive_seconds,
        "10",
        "Seconds a new API connection has to send a complete request head",
    ),
    Setting(
        "API_WRITE_TIMEOUT",
        "api_write_timeout_s",
        parse_positive_seconds,
        "30",
        "Seconds an answer may wait for a client that does not read before the connection is closed",
    ),
    Setting(
        "STATUS_INTERVAL", "status_interval_s", parse_positive_seconds, "1", "Seconds between two status snapshots"
    ),
    Setting(
        "STATUS_FRESHNESS_THRESHOLD",
        "status_freshness_s",
        parse_positive_seconds,
        "12",
        "Age in seconds past which GET /v6/status/ answers 503",
    ),
    Setting(
        "STATUS_PERSIST_INTERVAL",
        "status_persist_interval_s",
        parse_positive_seconds,
        "5",
        "Seconds between two writes of the status to the database (read by the api command)",
    ),
    Setting(
        "MASTER_POLL_INTERVAL",
        "master_poll_interval_s",
        parse_positive_seconds,
        "5",
        "Seconds between two reads of the master's agents (/master/slaves)",
    ),
    Setting(
        "NODE_RETIRE_AFTER",
        "node_retire_after_s",
        parse_positive_seconds,
        "3600",
        "Seconds an offline node stays OFFLINE before it is retired to DEPRECATED",
    ),
    Setting(
        "METRICS_WINDOW",
        "metrics_window_s",
        parse_positive_int,
        "10",
        "Seconds of the sliding window behind the per-second metrics",
    ),
    Setting("PROBE_INTERVAL", "probe_interval_s", parse_positive_seconds, "10", "Seconds between dependency probes"),
    Setting("PROBE_TIMEOUT", "probe_timeout_s", parse_positive_seconds, "5", "Timeout of one dependency probe"),
    Setting(
        "LOOP_LAG_WARN_MS",
        "loop_lag_warn_ms",
        parse_positive_seconds,
        "200",
        "Milliseconds late past which the event loop's lag is reported as a scheduler warning",
    ),
    Setting("LOG_LEVEL", "log_level", parse_log_level, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "BENCH_ROUTES",
        "bench_routes",
        parse_bool,
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
