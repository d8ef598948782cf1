"""The command line: config errors stop start-up with one line and exit code 2."""

import os
import subprocess
import sys

import pytest


def run_cli(*args, env=None, cwd=None, timeout=30):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "DATABASE_", "SCALE_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args, env, setting",
    [
        (["run"], {"FAILOVER_TIMEOUT": "-1"}, "FAILOVER_TIMEOUT"),
        (["run", "--master-url", "master:5050"], {}, "MESOS_MASTER_URL"),
        (["run", "--port", "http"], {}, "PORT0"),
        (["dev", "--set", "PROBE_TIMEOUT=-3"], {}, "PROBE_TIMEOUT"),
        (["run", "--set", "NO_SUCH_SETTING=1"], {}, "NO_SUCH_SETTING"),
    ],
)
def test_bad_setting_exits_2_with_one_line(args, env, setting, tmp_path):
    result = run_cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]
    assert lines[0].startswith("scale-scheduler: ")


def test_bad_config_file_exits_2(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "scale-scheduler.toml").write_text('STATUS_INTERVAL = "-1"\n')
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "STATUS_INTERVAL" in result.stderr


def test_version_flag():
    from scheduler import __version__

    result = run_cli("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_unknown_command_is_a_usage_error():
    result = run_cli("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_operator_commands_escape_control_characters(tmp_path):
    """A title stored by an older version (or another tool) holds a terminal escape: printed escaped."""
    import sqlalchemy

    from scheduler.jobs.definitions import JobType
    from scheduler.store.database import make_engine, migrate
    from scheduler.store.job_type_rows import upsert_job_types
    from scheduler.store.tables import job_type_table

    url = f"sqlite:///{tmp_path}/db.sqlite"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as connection:
        upsert_job_types(connection, [JobType(name="evil", version="1", command="run", title="x")])
        connection.execute(sqlalchemy.update(job_type_table).values(title="\x1b]0;pwned\x07\x1b[2Jgone"))
    engine.dispose()
    result = run_cli("job-types", "list", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2Jgone" in result.stdout
