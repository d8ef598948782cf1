"""Settings: precedence (env < file < flags), parsing, and clear one-line errors naming the setting."""

import pytest

from scheduler.config import ConfigError, load_settings


def test_defaults_without_anything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no conf/ here
    settings = load_settings({})
    assert settings.mesos_master_url == "http://127.0.0.1:5050"
    assert settings.failover_timeout_s == 604800.0
    assert settings.queue_name == "scale-command-messages"
    assert settings.api_port == 8000
    assert settings.elasticsearch_url is None


def test_precedence_env_then_file_then_flags(tmp_path):
    config = tmp_path / "scale.toml"
    config.write_text('MESOS_ROLE = "from-file"\nFAILOVER_TIMEOUT = 60\nSCALE_QUEUE_NAME = "file-queue"\n')
    env = {"MESOS_ROLE": "from-env", "SCALE_QUEUE_NAME": "env-queue", "FRAMEWORK_NAME": "env-name"}
    settings = load_settings(env, config_file=str(config), overrides={"SCALE_QUEUE_NAME": "flag-queue"})
    assert settings.framework_name == "env-name"  # only in the environment
    assert settings.mesos_role == "from-file"  # the file beats the environment
    assert settings.failover_timeout_s == 60.0
    assert settings.queue_name == "flag-queue"  # flags beat both


def test_config_file_from_environment_variable(tmp_path):
    config = tmp_path / "x.toml"
    config.write_text('MESOS_ROLE = "r"\n')
    assert load_settings({"SCALE_SCHEDULER_CONFIG": str(config)}).mesos_role == "r"


def test_aliases_and_scales_misspelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"MESSSAGE_QUEUE_DEPTH_WARN": "100", "PORT": "9001", "VAULT_TOKEN": "s.abc"})
    assert settings.queue_depth_warn == 100
    assert settings.api_port == 9001
    assert settings.secrets_token == "s.abc"
    # The canonical name wins over an alias.
    assert load_settings({"PORT0": "9100", "PORT": "9001"}).api_port == 9100


@pytest.mark.parametrize(
    "env, setting, words",
    [
        ({"MESOS_MASTER_URL": "not a url"}, "MESOS_MASTER_URL", "http://"),
        ({"MESOS_MASTER_URL": "zk://master:2181"}, "MESOS_MASTER_URL", "no znode path"),  # zk:// needs a path
        ({"MESOS_MASTER_URL": "http://host:99999"}, "MESOS_MASTER_URL", "valid URL"),
        ({"FAILOVER_TIMEOUT": "-5"}, "FAILOVER_TIMEOUT", "greater than 0"),
        ({"PROBE_TIMEOUT": "soon"}, "PROBE_TIMEOUT", "number"),
        ({"STATUS_INTERVAL": "0"}, "STATUS_INTERVAL", "greater than 0"),
        ({"PORT0": "70000"}, "PORT0", "TCP port"),
        ({"DATABASE_URL": "mysql://u:pw@h/db"}, "DATABASE_URL", "sqlite"),
        ({"DATABASE_URL": "::nonsense::"}, "DATABASE_URL", "SQLAlchemy URL"),
        ({"SCALE_BROKER_URL": "redis://h"}, "SCALE_BROKER_URL", "amqp://"),
        ({"GEOAXIS_ENABLED": "maybe"}, "GEOAXIS_ENABLED", "true or false"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "DEBUG"),
        ({"METRICS_WINDOW": "2.5"}, "METRICS_WINDOW", "whole number"),
        ({"OFFER_REFUSE_SECONDS": "nan"}, "OFFER_REFUSE_SECONDS", "finite"),
    ],
)
def test_bad_values_name_the_setting(env, setting, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(f"{setting}: ")
    assert words in message
    assert "\n" not in message


def test_errors_never_show_a_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": "mysql://scale:hunter2secret@db/scale"})
    assert "hunter2secret" not in str(caught.value)
    assert "****" in str(caught.value)


def test_unknown_key_in_file_is_an_error(tmp_path):
    config = tmp_path / "x.toml"
    config.write_text('MESOS_MASTR_URL = "http://x:5050"\n')
    with pytest.raises(ConfigError, match="unknown setting 'MESOS_MASTR_URL'"):
        load_settings({}, config_file=str(config))


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, config_file=str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("MESOS_ROLE = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, config_file=str(bad))


def test_secret_values_cover_tokens_and_url_passwords(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://scale:dbpass123@db:5432/scale",
            "SCALE_BROKER_URL": "amqp://guest:brokerpw9@mq:5672//",
            "SECRETS_TOKEN": "s.vaulttoken",
        }
    )
    assert set(settings.secret_values()) >= {"dbpass123", "brokerpw9", "s.vaulttoken"}


def test_readme_and_example_file_name_every_setting():
    from pathlib import Path

    from scheduler.config import SETTINGS

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    example = (root / "conf" / "scale-scheduler.example.toml").read_text()
    for setting in SETTINGS:
        assert f"`{setting.key}`" in readme, f"README does not document {setting.key}"
        assert f"# {setting.key} = " in example, f"the example config lacks {setting.key}"


def test_example_file_uncommented_is_valid(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "conf" / "scale-scheduler.example.toml"
    lines = [line[2:] for line in example.read_text().splitlines() if " = " in line and '""' not in line]
    config = tmp_path / "all.toml"
    config.write_text("\n".join(lines) + "\n")
    load_settings({}, config_file=str(config))  # every default, written as a file, parses


# --- secrets as files (NAME_FILE) and masking --------------------------------------------------

SECRET_VALUES = {
    "DATABASE_URL": ("postgresql://scale:pw-in-file@db/scale", "database_url"),
    "SCALE_BROKER_URL": ("amqp://scale:pw-in-file@rabbit//", "broker_url"),
    "ELASTICSEARCH_URL": ("http://elastic:pw-in-file@es:9200", "elasticsearch_url"),
    "GEOAXIS_KEY": ("key-in-file", "geoaxis_key"),
    "SECRETS_TOKEN": ("s.token-in-file", "secrets_token"),
    "MESOS_MASTER_URL": ("http://ops:pw-in-file@master:5050", "mesos_master_url"),
    "SILO_URL": ("http://silo:pw-in-file@silo:9000", "silo_url"),
    "LOGGING_ADDRESS": ("tcp://log:pw-in-file@fluentd:24224", "logging_address"),
    "LOGGING_HEALTH_ADDRESS": ("http://log:pw-in-file@fluentd:24220", "logging_health_address"),
}


@pytest.mark.parametrize("key", sorted(SECRET_VALUES))
def test_every_secret_setting_can_come_from_a_file(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    value, attr = SECRET_VALUES[key]
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    settings = load_settings({f"{key}_FILE": str(path)})
    assert getattr(settings, attr) == value
    assert settings.secret_file(key) == str(path)
    assert ("pw-in-file" if "pw-in-file" in value else value) in settings.secret_values()


def test_an_unreadable_secret_file_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL_FILE": str(tmp_path / "missing")})
    assert str(caught.value).startswith("DATABASE_URL_FILE: cannot read")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="^SECRETS_TOKEN_FILE: .* is empty"):
        load_settings({"SECRETS_TOKEN_FILE": str(empty)})
    with pytest.raises(ConfigError, match="^SECRETS_TOKEN: set either SECRETS_TOKEN or SECRETS_TOKEN_FILE"):
        load_settings({"SECRETS_TOKEN_FILE": str(empty), "SECRETS_TOKEN": "x"})


def test_a_stronger_source_replaces_a_secret_file(tmp_path):
    path = tmp_path / "db"
    path.write_text("postgresql://a:from-file@db/x")
    config = tmp_path / "scale.toml"
    config.write_text('DATABASE_URL = "postgresql://a:from-toml@db/x"\n')
    settings = load_settings({"DATABASE_URL_FILE": str(path)}, config_file=str(config))
    assert settings.database_url.endswith("from-toml@db/x") and settings.secret_file("DATABASE_URL") is None
    config.write_text(f'DATABASE_URL_FILE = "{path}"\n')
    settings = load_settings({}, config_file=str(config))
    assert settings.secret_file("DATABASE_URL") == str(path)


@pytest.mark.parametrize(
    ("url", "forms"),
    [
        ("postgresql://scale:S3c%40ret@db/scale", {"S3c%40ret", "S3c@ret"}),
        ("amqp://u:p@ss@h:5672//", {"p@ss"}),
        ("amqp://u:p%40ss%3Aw@h//", {"p%40ss%3Aw", "p@ss:w"}),
    ],
)
def test_url_passwords_are_masked_encoded_and_decoded(url, forms, tmp_path, monkeypatch):
    from scheduler.redact import mask_text, mask_url

    monkeypatch.chdir(tmp_path)
    settings = load_settings({"SCALE_BROKER_URL" if url.startswith("amqp") else "DATABASE_URL": url})
    assert forms <= set(settings.secret_values())
    for form in forms:
        line = f"connecting to {url} failed: password {form} refused"
        masked = mask_text(line, settings.secret_values())
        assert form not in masked and "ss@h" not in masked and "ret" not in masked.split("refused")[0][-10:]
    shown = mask_url(url)
    assert all(form not in shown for form in forms) and "ss@h" not in shown


def test_an_address_without_a_password_is_not_a_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {"LOGGING_ADDRESS": "fluentd:24224", "SILO_URL": "http://silo:9000", "SECRETS_TOKEN": "s.tok"}
    )
    assert settings.secret_values() == ["s.tok"]
