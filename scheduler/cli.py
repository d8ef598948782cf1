"""The ``scale-scheduler`` command: ``run``, ``dev``, ``sim`` and the operator commands.

Settings come from the environment, then the config file, then these flags (strongest). A bad
value ends the command with one line naming the setting and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from scheduler import __version__
from scheduler.config import ConfigError, Settings, load_settings
from scheduler.logs import escape_control, setup_logging

EXIT_CONFIG = 2

# CLI flag -> setting key, for the flags every daemon command takes.
COMMON_FLAGS = {
    "master_url": "MESOS_MASTER_URL",
    "database_url": "DATABASE_URL",
    "broker_url": "SCALE_BROKER_URL",
    "host": "SCALE_API_HOST",
    "port": "PORT0",
    "log_level": "LOG_LEVEL",
}

DEV_DEFAULTS = {
    "SCALE_API_HOST": "127.0.0.1",
    "PORT0": "8000",
    "DATABASE_URL": "sqlite:///var/scale-scheduler-dev.db",
    "SCALE_BROKER_URL": "memory://",
    "MESSAGE_HANDLER_MODE": "in-process",
}


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each overrides the environment and the config file)")
    group.add_argument("--config", metavar="FILE", help="TOML file of settings (default conf/scale-scheduler.toml)")
    group.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="any setting by its name")
    group.add_argument("--master-url", help="MESOS_MASTER_URL")
    group.add_argument("--database-url", help="DATABASE_URL")
    group.add_argument("--broker-url", help="SCALE_BROKER_URL")
    group.add_argument("--host", help="SCALE_API_HOST: address the API listens on")
    group.add_argument("--port", help="PORT0: API port")
    group.add_argument("--log-level", help="LOG_LEVEL")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _non_negative(kind: type) -> callable:
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _zk_url(text: str) -> str:
    from scheduler.mesos.master_detector import ZkUrlError, parse_zk_url

    try:
        parse_zk_url(text)
    except ZkUrlError as exc:
        raise argparse.ArgumentTypeError(f"not a ZooKeeper URL: {exc}") from None
    return text.strip()


def _sim_flags(parser: argparse.ArgumentParser, *, standalone: bool) -> None:
    group = parser.add_argument_group("simulated master")
    if standalone:
        group.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        group.add_argument("--port", type=_non_negative(int), default=5050, help="port (default 5050)")
        group.add_argument("--log-level", default="INFO", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    else:
        group.add_argument(
            "--sim-port",
            type=_non_negative(int),
            default=5050,
            help="port of the simulated master (default 5050; 0 picks a free one)",
        )
    group.add_argument("--agents", type=_non_negative(int), default=50 if standalone else 3, help="number of agents")
    group.add_argument("--agent-cpus", type=_non_negative(float), default=4.0)
    group.add_argument("--agent-mem", type=_non_negative(float), default=8192.0, help="MB")
    group.add_argument("--agent-disk", type=_non_negative(float), default=65536.0, help="MB")
    group.add_argument("--agent-gpus", type=_non_negative(float), default=0.0)
    group.add_argument("--heartbeat-interval", type=_non_negative(float), default=15.0, help="seconds")
    group.add_argument("--task-duration", type=_non_negative(float), default=5.0, help="default task run time, s")
    group.add_argument("--task-state", default="TASK_FINISHED", help="default final state of a task")
    group.add_argument("--seed", type=int, default=0, help="seed of the simulator's random choices")
    if standalone:
        group.add_argument("--redirect-to", metavar="URL", help="act as a non-leading master redirecting here")
        group.add_argument("--zk", metavar="URL", type=_zk_url, help="register in ZooKeeper (zk://h:p/path)")
        group.add_argument(
            "--credentials",
            metavar="FILE",
            help='authenticate scheduler calls with these credentials ({"credentials": [{"principal", "secret"}]})',
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scale-scheduler",
        description="A Mesos framework that runs batch jobs and serves Scale's v6 system API.",
    )
    parser.add_argument("--version", action="version", version=f"scale-scheduler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the scheduler against MESOS_MASTER_URL")
    _common(run)

    dev = commands.add_parser("dev", help="everything embedded: simulated master, SQLite, API on :8000")
    _common(dev)
    _sim_flags(dev, standalone=False)

    api = commands.add_parser("api", help="serve the v6 API from the database alone (like Scale's web tier)")
    _common(api)

    sim = commands.add_parser("sim", help="run the simulated Mesos master alone")
    _sim_flags(sim, standalone=True)

    job_types = commands.add_parser("job-types", help="register and list job types")
    job_type_commands = job_types.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = job_type_commands.add_parser("apply", help="register or update the job types of a YAML or JSON file")
    apply.add_argument("file")
    _common(apply)
    _common(job_type_commands.add_parser("list", help="list the registered job types"))

    jobs = commands.add_parser("jobs", help="queue jobs")
    job_commands = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    submit = job_commands.add_parser("submit", help="publish a queue_jobs message on the command queue")
    submit.add_argument("--job-type", required=True, help="job type name")
    submit.add_argument("--version", dest="job_type_version", required=True, help="job type version")
    submit.add_argument("--count", type=_positive_int, default=1, help="how many jobs (default 1)")
    submit.add_argument("--priority", type=int, help="lower runs first (default 100)")
    submit.add_argument("--inputs", help="a JSON object given to every job")
    _common(submit)

    for name, help_text in (
        ("pause", "pause the scheduler: nothing new is launched"),
        ("resume", "resume a paused scheduler"),
    ):
        _common(commands.add_parser(name, help=help_text))
    nodes = commands.add_parser("nodes", help="pause or resume a node")
    node_commands = nodes.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in ("pause", "resume"):
        node = node_commands.add_parser(name, help=f"{name} the node with this hostname")
        node.add_argument("hostname")
        _common(node)

    check = commands.add_parser("check-status", help="compare a status's execution counts with the database")
    check.add_argument(
        "--url",
        default="http://127.0.0.1:8000/v6/status/",
        help="the status URL (default http://127.0.0.1:8000/v6/status/)",
    )
    _common(check)

    status = commands.add_parser("status", help="the cluster at a glance: nodes, resources, queue, dependencies")
    status.add_argument("--url", help="the scheduler's API (default http://127.0.0.1:PORT0, i.e. :8000)")
    status.add_argument("--watch", action="store_true", help="refresh every 2 s until Ctrl-C")
    _common(status)

    _common(commands.add_parser("message-handler", help="consume the command queue (what handler tasks run)"))
    _common(commands.add_parser("db-update", help="bring the database schema up to date (the db-update task)"))
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    for attr, key in COMMON_FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            overrides[key] = value
    return overrides


def load(args: argparse.Namespace, defaults: dict[str, str] | None = None) -> Settings:
    return load_settings(os.environ, config_file=args.config, overrides=_overrides(args), defaults=defaults)


def _sim_config(args: argparse.Namespace):
    from scheduler.sim.auth import load_credentials
    from scheduler.sim.options import SimConfig

    return SimConfig(
        agents=args.agents,
        agent_cpus=args.agent_cpus,
        agent_mem=args.agent_mem,
        agent_disk=args.agent_disk,
        agent_gpus=args.agent_gpus,
        heartbeat_interval_s=args.heartbeat_interval,
        task_duration_s=args.task_duration,
        task_final_state=args.task_state,
        seed=args.seed,
        redirect_to=getattr(args, "redirect_to", None),
        credentials=load_credentials(args.credentials) if getattr(args, "credentials", None) else (),
    )


def _checked_sim_config(args: argparse.Namespace):
    try:
        return _sim_config(args)
    except ValueError as exc:  # SimConfig checks its values
        raise ConfigError(f"simulator: {exc}") from None


def _launch(command: str, settings: Settings | None, sim_config, args: argparse.Namespace) -> int:
    if command == "sim":
        from scheduler.sim.server import run_sim

        return run_sim(sim_config, args.host, args.port, zk_url=args.zk)
    if command == "run":
        from scheduler import loop_turns
        from scheduler.daemon import run_daemon
        from scheduler.runtime import gc_tuning, thread_switching

        # The process's collector and thread switching, not a library's: tests that run daemons in their
        # own process keep theirs.
        gc_tuning.tune()
        thread_switching.switch_often()
        # A loop whose turns the slices of work can see (``loop_turns``).
        with asyncio.Runner(loop_factory=loop_turns.new_event_loop) as runner:
            return runner.run(run_daemon(settings, on_started=lambda _daemon: gc_tuning.freeze_started()))
    if command == "dev":
        from scheduler.devmode import run_dev

        return asyncio.run(run_dev(settings, sim_config, sim_port=args.sim_port))
    if command == "api":
        from scheduler.apiserver import run_api_server

        return asyncio.run(run_api_server(settings))
    return _operate(command, settings, args)


class EscapingWriter(io.TextIOBase):
    """A text stream that writes control characters (but line breaks and tabs) as escapes.

    What the operator commands print comes partly from outside (job type files, the database, a
    remote /v6/status/): an escape sequence in it must not reach the operator's terminal.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(escape_control(text, keep_newlines=True))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


def _operate(command: str, settings: Settings, args: argparse.Namespace) -> int:
    """The operator commands: short-lived, one clear line on failure, control characters escaped."""
    with (
        contextlib.redirect_stdout(EscapingWriter(sys.stdout)),
        contextlib.redirect_stderr(EscapingWriter(sys.stderr)),
    ):
        return _operate_command(command, settings, args)


def _operate_command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.commands import check, job_types, jobs, operations

    action = getattr(args, "action", None)
    if command == "job-types":
        return (
            job_types.apply_job_types(settings, args.file) if action == "apply" else job_types.list_job_types(settings)
        )
    if command == "jobs":
        return jobs.submit_jobs(
            settings, args.job_type, args.job_type_version, count=args.count, priority=args.priority, inputs=args.inputs
        )
    if command in ("pause", "resume"):
        return operations.pause_scheduler(settings, command == "pause")
    if command == "nodes":
        return operations.pause_node(settings, args.hostname, action == "pause")
    if command == "check-status":
        return check.check_status(settings, args.url)
    if command == "status":
        from scheduler.commands.status_summary import status_command

        return status_command(args.url or f"http://127.0.0.1:{settings.api_port}", watch=args.watch)
    if command == "db-update":
        return operations.update_database(settings)
    if command == "message-handler":
        from scheduler.messaging.command import run_message_handler

        return run_message_handler(settings)
    raise AssertionError(command)


def _exit_now(code: int) -> int:
    """Leave at once after a clean shutdown: a database thread still blocked in a hung connection
    (a thread cannot be interrupted) must not keep the process alive past SIGTERM."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings, sim_config = None, None
    try:
        if args.command in ("sim", "dev"):
            sim_config = _checked_sim_config(args)
        if args.command != "sim":
            settings = load(args, DEV_DEFAULTS if args.command == "dev" else None)
    except ConfigError as exc:
        print(f"scale-scheduler: {escape_control(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    if settings is None:
        setup_logging(args.log_level)
    elif args.command in ("run", "dev", "api", "message-handler"):
        setup_logging(settings.log_level, settings.secret_values())
    else:  # a short operator command: its own lines, and only warnings from the libraries
        level = settings.log_level if settings.log_level in ("WARNING", "ERROR") else "WARNING"
        setup_logging(level, settings.secret_values())
    code = _launch(args.command, settings, sim_config, args)
    if args.command in ("run", "dev", "api"):
        _exit_now(code)
    return code
