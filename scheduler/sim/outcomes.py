"""How a simulated task ends: its run time and its final TaskStatus.

Three ways to steer it, strongest last:

1. defaults from SimConfig (`task_duration_s`, `task_final_state`);
2. rules posted to the control API, matched against each new task by name glob,
   command substring and/or label, optionally with a probability drawn from the
   seeded RNG; the first matching rule wins;
3. labels on the TaskInfo itself: `sim.duration` (seconds or "inf"),
   `sim.state` (a terminal TaskState) and `sim.exit_code` (int).

A running task can also be ended or re-timed later through the control API
(`PUT /sim/tasks/{id}`), which replaces its Outcome.

Final statuses mimic what the command executor reports: exit code 0 gives
TASK_FINISHED "Command exited with status 0"; a non-zero code gives TASK_FAILED
"Command exited with status N" with REASON_COMMAND_EXECUTOR_FAILED.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import random
from dataclasses import asdict, dataclass, replace

from scheduler.sim.options import FINAL_STATES, SimConfig

LABEL_DURATION = "sim.duration"
LABEL_STATE = "sim.state"
LABEL_EXIT_CODE = "sim.exit_code"


class OutcomeError(ValueError):
    """A rule, label or control request that cannot describe an outcome."""


@dataclass(frozen=True)
class Outcome:
    state: str = "TASK_FINISHED"
    duration: float = 5.0  # seconds from TASK_RUNNING to the final update; inf = never
    exit_code: int | None = None
    message: str | None = None
    reason: str | None = None

    def final_status(self) -> tuple[str, str, str | None, str | None]:
        """(state, source, reason, message) of the final update."""
        state = self.state
        if state == "TASK_FINISHED":
            code = 0 if self.exit_code is None else self.exit_code
            return (state, "SOURCE_EXECUTOR", self.reason, self.message or f"Command exited with status {code}")
        if state == "TASK_FAILED":
            code = 1 if self.exit_code is None else self.exit_code
            return (
                state,
                "SOURCE_EXECUTOR",
                self.reason or "REASON_COMMAND_EXECUTOR_FAILED",
                self.message or f"Command exited with status {code}",
            )
        if state == "TASK_KILLED":
            return (state, "SOURCE_EXECUTOR", self.reason, self.message or "Command terminated with signal Killed")
        if state == "TASK_ERROR":
            return (state, "SOURCE_EXECUTOR", self.reason, self.message or "Task failed")
        # LOST / DROPPED / GONE / GONE_BY_OPERATOR come from the agent when the
        # executor vanished without sending a terminal update.
        return (
            state,
            "SOURCE_AGENT",
            self.reason or "REASON_EXECUTOR_TERMINATED",
            self.message or "Abnormal executor termination",
        )

    def to_json(self) -> dict:
        data = asdict(self)
        if math.isinf(self.duration):
            data["duration"] = "inf"
        return data


MAX_DURATION_S = 365 * 24 * 3600.0  # longer is "inf", said explicitly
MAX_EXIT_CODE = 255
MAX_RULES = 1000
MAX_RULE_TEXT = 4096


def _shown(raw) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:40] + "..."


def _parse_duration(raw, what: str) -> float:
    if isinstance(raw, str) and raw.strip().lower() in ("inf", "infinity", "forever"):
        return math.inf
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise OutcomeError(f'{what} must be a number of seconds or "inf", got {_shown(raw)}') from None
    # A number that is not finite (say "1e400") is refused: only the word "inf" means forever.
    if isinstance(raw, bool) or not math.isfinite(value) or not 0 <= value <= MAX_DURATION_S:
        raise OutcomeError(f'{what} must be from 0 to {MAX_DURATION_S:g} seconds or "inf", got {_shown(raw)}')
    return value


def _parse_state(raw, what: str) -> str:
    if not isinstance(raw, str) or raw not in FINAL_STATES:
        raise OutcomeError(f"{what} must be one of {', '.join(sorted(FINAL_STATES))}, got {raw!r}")
    return raw


def _parse_exit_code(raw, what: str) -> int:
    message = f"{what} must be an integer from 0 to {MAX_EXIT_CODE}, got {_shown(raw)}"
    if isinstance(raw, bool) or (isinstance(raw, str) and len(raw) > 10):
        raise OutcomeError(message)
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise OutcomeError(message) from None
    if (isinstance(raw, float) and raw != value) or not 0 <= value <= MAX_EXIT_CODE:
        raise OutcomeError(message)
    return value


def _optional_str(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > MAX_RULE_TEXT):
        raise OutcomeError(f"{key} must be a string of at most {MAX_RULE_TEXT} characters")
    return value


def apply_spec(
    base: Outcome, *, state=None, exit_code=None, duration=None, message=None, reason=None, what: str = ""
) -> Outcome:
    """Overlay the given fields on `base`. An exit code alone decides the state."""
    changes: dict = {}
    if duration is not None:
        changes["duration"] = _parse_duration(duration, f"{what}duration")
    if exit_code is not None:
        code = _parse_exit_code(exit_code, f"{what}exit_code")
        changes["exit_code"] = code
        if state is None:
            changes["state"] = "TASK_FINISHED" if code == 0 else "TASK_FAILED"
    if state is not None:
        changes["state"] = _parse_state(state, f"{what}state")
        if exit_code is None:
            changes["exit_code"] = None
    if message is not None:
        changes["message"] = _optional_str({f"{what}message": message}, f"{what}message")
    if reason is not None:
        changes["reason"] = _optional_str({f"{what}reason": reason}, f"{what}reason")
    return replace(base, **changes)


@dataclass
class OutcomeRule:
    """Matches new tasks; every criterion given must hold."""

    id: int
    name_glob: str | None = None
    command_contains: str | None = None
    label_key: str | None = None
    label_value: str | None = None
    probability: float = 1.0
    state: str | None = None
    exit_code: int | None = None
    duration: float | None = None
    message: str | None = None
    reason: str | None = None

    @classmethod
    def from_json(cls, rule_id: int, data) -> OutcomeRule:
        if not isinstance(data, dict):
            raise OutcomeError("a rule must be a JSON object")
        known = {f for f in cls.__dataclass_fields__} - {"id"} | {"label"}
        unknown = set(data) - known
        if unknown:
            raise OutcomeError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
        label = data.get("label")
        label_key = label_value = None
        if label is not None:
            # "key" or "key=value" or {"key": k, "value": v}
            if isinstance(label, str):
                label_key, sep, value = label.partition("=")
                label_value = value if sep else None
            elif isinstance(label, dict) and isinstance(label.get("key"), str):
                label_key, label_value = label["key"], label.get("value")
            else:
                raise OutcomeError('label must be "key", "key=value" or {"key": .., "value": ..}')
        for key in ("name_glob", "command_contains", "label_key", "label_value"):
            _optional_str(data, key)
        if isinstance(label, str) and len(label) > MAX_RULE_TEXT:
            raise OutcomeError(f"label must be a string of at most {MAX_RULE_TEXT} characters")
        label_key = data.get("label_key", label_key)
        label_value = data.get("label_value", label_value)
        probability = data.get("probability", 1.0)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0.0 <= probability <= 1.0:
            raise OutcomeError("probability must be a number between 0 and 1")
        effect = apply_spec(
            Outcome(state="TASK_FINISHED", duration=0.0),
            state=data.get("state"),
            exit_code=data.get("exit_code"),
            duration=data.get("duration"),
            message=_optional_str(data, "message"),
            reason=_optional_str(data, "reason"),
        )
        if all(data.get(k) is None for k in ("state", "exit_code", "duration", "message", "reason")):
            raise OutcomeError("a rule must set at least one of state, exit_code, duration, message, reason")
        return cls(
            id=rule_id,
            name_glob=data.get("name_glob"),
            command_contains=data.get("command_contains"),
            label_key=label_key,
            label_value=label_value,
            probability=float(probability),
            state=effect.state if (data.get("state") is not None or data.get("exit_code") is not None) else None,
            exit_code=effect.exit_code if data.get("exit_code") is not None else None,
            duration=effect.duration if data.get("duration") is not None else None,
            message=data.get("message"),
            reason=data.get("reason"),
        )

    def matches(self, name: str, command: str, labels: dict[str, str]) -> bool:
        if self.name_glob is not None and not fnmatch.fnmatchcase(name, self.name_glob):
            return False
        if self.command_contains is not None and self.command_contains not in command:
            return False
        if self.label_key is not None:
            if self.label_key not in labels:
                return False
            if self.label_value is not None and labels[self.label_key] != self.label_value:
                return False
        return True

    def apply(self, base: Outcome) -> Outcome:
        changes = {}
        if self.state is not None:
            changes["state"] = self.state
            changes["exit_code"] = self.exit_code
        if self.duration is not None:
            changes["duration"] = self.duration
        if self.message is not None:
            changes["message"] = self.message
        if self.reason is not None:
            changes["reason"] = self.reason
        return replace(base, **changes)

    def to_json(self) -> dict:
        data = asdict(self)
        if self.duration is not None and math.isinf(self.duration):
            data["duration"] = "inf"
        return {k: v for k, v in data.items() if v is not None}


def task_labels(task_info: dict) -> dict[str, str]:
    return {label["key"]: label.get("value", "") for label in task_info.get("labels", {}).get("labels", [])}


def task_command(task_info: dict) -> str:
    command = task_info.get("command") or task_info.get("executor", {}).get("command") or {}
    parts = [command.get("value", "")] + list(command.get("arguments", []))
    return " ".join(p for p in parts if p)


class OutcomePlanner:
    """Decides each new task's Outcome. Owns the rules and a seeded RNG."""

    def __init__(self, config: SimConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random(config.seed)
        self.rules: list[OutcomeRule] = []
        self._ids = itertools.count(1)

    def default(self) -> Outcome:
        return Outcome(state=self.config.task_final_state, duration=self.config.task_duration_s)

    def add_rule(self, data) -> OutcomeRule:
        if len(self.rules) >= MAX_RULES:
            raise OutcomeError(f"at most {MAX_RULES} rules; DELETE /sim/outcomes first")
        rule = OutcomeRule.from_json(next(self._ids), data)
        self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        self.rules.clear()

    def plan(self, task_info: dict) -> Outcome:
        """Raises OutcomeError when the task's sim.* labels are malformed."""
        outcome = self.default()
        labels = task_labels(task_info)
        name = task_info.get("name", "")
        command = task_command(task_info)
        for rule in self.rules:
            if rule.matches(name, command, labels):
                # Draw only for rules that match, so adding a rule for other
                # tasks does not change the dice of these ones.
                if rule.probability >= 1.0 or self.rng.random() < rule.probability:
                    outcome = rule.apply(outcome)
                    break
        return apply_spec(
            outcome,
            state=labels.get(LABEL_STATE),
            exit_code=labels.get(LABEL_EXIT_CODE),
            duration=labels.get(LABEL_DURATION),
            what="label sim.",
        )
