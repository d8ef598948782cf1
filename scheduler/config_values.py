"""How one raw setting is read and checked: each parser takes the text of one value and returns it
typed, or raises ValueError saying what was expected (the loader names the setting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from scheduler.redact import mask_url


class ConfigError(Exception):
    """A setting has a value that cannot be used; the message names the setting."""


# --- parsers: each takes the raw text and returns the typed value or raises ValueError ---------


def parse_text(raw: str) -> str:
    return raw.strip()


def parse_optional_text(raw: str) -> str | None:
    return raw.strip() or None


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_number(raw: str, *, minimum: float, strict: bool, integer: bool = False) -> float | int:
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


def parse_positive_seconds(raw: str) -> float:
    return float(parse_number(raw, minimum=0, strict=True))


def parse_non_negative_seconds(raw: str) -> float:
    return float(parse_number(raw, minimum=0, strict=False))


def parse_positive_int(raw: str) -> int:
    return int(parse_number(raw, minimum=0, strict=True, integer=True))


def parse_threshold(raw: str) -> int:
    # Scale's convention: -1 (or any negative) disables a threshold.
    return int(parse_number(raw, minimum=-1, strict=False, integer=True))


def parse_port(raw: str) -> int:
    value = int(parse_number(raw, minimum=0, strict=False, integer=True))
    if value > 65535:
        raise ValueError(f"must be a TCP port (0-65535), got {raw!r}")
    return value


def parse_url(*schemes: str, optional: bool = False) -> Callable[[str], str | None]:
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


def parse_database_url(raw: str) -> str:
    value = raw.strip()
    from sqlalchemy.engine import make_url  # local: keep config importable without SQLAlchemy

    try:
        url = make_url(value)
    except Exception:  # SQLAlchemy raises ArgumentError for anything unparseable
        raise ValueError(f"not a valid SQLAlchemy URL: {mask_url(value)!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"only sqlite:// and postgresql:// are supported, got {mask_url(value)!r}")
    return value


def parse_broker_url(raw: str) -> str:
    value = raw.strip()
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in ("amqp", "amqps", "pyamqp", "memory", "sqs"):
        raise ValueError(f"expected an amqp://, amqps://, memory:// or sqs:// URL, got {mask_url(value)!r}")
    return value


def parse_secret_name(raw: str) -> str | None:
    """A Mesos secret reference name: printable, no spaces, bounded."""
    value = raw.strip()
    if not value:
        return None
    if len(value) > 255 or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("expected a secret name of at most 255 printable characters without spaces")
    return value


def parse_path(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if "\x00" in value or not value.isprintable():
        raise ValueError("expected a file path of printable characters")
    return value


def parse_master_url(raw: str) -> str:
    """An http(s):// master, or zk://[user:pass@]h1:p1,h2:p2/path to find the leader in ZooKeeper."""
    from scheduler.mesos.master_detector import ZkUrlError, is_zk_url, parse_zk_url

    if not is_zk_url(raw):
        return parse_url("http", "https")(raw)
    try:
        parse_zk_url(raw)
    except ZkUrlError as exc:  # its message never carries the password
        raise ValueError(f"not a valid zk:// URL ({exc}): {mask_url(raw.strip())!r}") from None
    return raw.strip().rstrip("/")


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def parse_optional_choice(*choices: str) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        if not raw.strip():
            return None
        return parse_choice(*choices)(raw)

    return parse


def parse_principal(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    # Mesos' Basic authenticator splits "principal:secret" on every colon.
    if ":" in value or any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > 255:
        raise ValueError("must be at most 255 characters, without ':' or control characters")
    return value


def parse_mesos_secret(raw: str) -> str | None:
    # Not stripped: a secret is taken byte for byte. Errors never quote it.
    if not raw:
        return None
    if ":" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw) or len(raw) > 4096:
        raise ValueError("must be at most 4096 characters, without ':' or control characters")
    return raw


def read_mesos_secret_file(path: str) -> str:
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
        value = parse_mesos_secret(text)
    except ValueError as exc:
        raise ConfigError(f"MESOS_SECRET_FILE: the secret in {path} {exc}") from None
    if value is None:
        raise ConfigError(f"MESOS_SECRET_FILE: {path} is empty")
    return value


def resolve_mesos_secret(values: dict[str, Any]) -> None:
    """MESOS_SECRET_FILE fills MESOS_SECRET; a secret needs a principal."""
    path = values.get("mesos_secret_file")
    if path:
        if values.get("mesos_secret") is not None:
            raise ConfigError("MESOS_SECRET and MESOS_SECRET_FILE are both set; use one")
        values["mesos_secret"] = read_mesos_secret_file(path)
    if values.get("mesos_secret") is not None and values.get("mesos_principal") is None:
        raise ConfigError("MESOS_SECRET (or MESOS_SECRET_FILE) is set without MESOS_PRINCIPAL")


def parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return value
