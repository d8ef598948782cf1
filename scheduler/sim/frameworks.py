"""Frameworks subscribing, updating their FrameworkInfo and tearing down."""

from __future__ import annotations

from scheduler.sim.effects import Effects, StreamClose, SubscribeResult, op
from scheduler.sim.model import COMPLETED_FRAMEWORKS_KEPT, Framework, id_json, validate_framework_info


class FrameworkOps:
    """SUBSCRIBE, UPDATE_FRAMEWORK, TEARDOWN and framework removal."""

    @op
    def subscribe(self, t: float, call: dict, stream_id: str) -> SubscribeResult:
        sub = call["subscribe"]
        info = sub["framework_info"]
        fx = Effects()
        error = validate_framework_info(info)
        if error:
            return SubscribeResult(None, None, error, fx)
        framework_id = info.get("id", {}).get("value")
        if framework_id is not None and framework_id in self.removed_framework_ids:
            return SubscribeResult(None, None, "Framework has been removed", fx)
        fw = self.frameworks.get(framework_id) if framework_id else None
        if fw is None:
            # A new framework, or one a restarted master does not know yet
            # (Mesos recovers it from the FrameworkInfo).
            framework_id = framework_id or f"{self.master_id}-{next(self._framework_seq):04d}"
            fw = Framework(framework_id, info, t)
            self.frameworks[framework_id] = fw
        else:
            # validateUpdate, after preserveImmutableFields: a different principal is
            # refused (the running subscription is untouched); user and checkpoint
            # silently keep their old values.
            if info.get("principal") != fw.info.get("principal"):
                return SubscribeResult(None, None, "Changing framework's principal is not allowed.", fx)
            info = {**info, "user": fw.info.get("user", ""), "checkpoint": fw.info.get("checkpoint", False)}
            if fw.stream_id is not None:
                fx.closes.append(StreamClose(fw.stream_id, "Framework failed over"))
            for offer_id in sorted(fw.offers):
                self._remove_offer(self.offers[offer_id])
            fw.update_info(info)
            fw.reregistered_time = t
        fw.calls["SUBSCRIBE"] += 1
        fw.connected = True
        fw.stream_id = stream_id
        fw.failover_gen += 1
        fw.failover_deadline = None
        fw.unregistered_time = None
        fw.filters.clear()
        fw.suppressed = set(sub.get("suppressed_roles", []))
        subscribed = {
            "type": "SUBSCRIBED",
            "subscribed": {
                "framework_id": id_json(fw.id),
                "heartbeat_interval_seconds": float(self.config.heartbeat_interval_s),
                "master_info": self.master_info(),
            },
        }
        for task in fw.tasks.values():
            if task.pending:
                self._send_head(task, t, fx)
        self._reconsider_all_agents()
        return SubscribeResult(fw.id, subscribed, None, fx)

    @op
    def teardown(self, t: float, framework_id: str) -> Effects:
        fx = Effects()
        fw = self.frameworks.get(framework_id)
        if fw is not None:
            self._remove_framework(fw, t, fx)
        return fx

    def _remove_framework(self, fw: Framework, t: float, fx: Effects) -> None:
        """Framework removed: its tasks are killed, its id can never subscribe again."""
        if fw.stream_id is not None:
            fx.closes.append(StreamClose(fw.stream_id))
        for offer_id in sorted(fw.offers):
            self._remove_offer(self.offers[offer_id])
        for task in list(fw.tasks.values()):
            task.step_gen += 1
            task.pending.clear()
            if not task.terminal:
                task.state = "TASK_KILLED"
                task.statuses.append((task.state, t))
                self._free_task_resources(task)
            fw.completed_tasks.append(task)
        fw.tasks.clear()
        fw.connected = False
        fw.stream_id = None
        fw.failover_gen += 1
        fw.failover_deadline = None
        fw.unregistered_time = t
        del self.frameworks[fw.id]
        self.removed_framework_ids.add(fw.id)
        self.completed_frameworks[fw.id] = fw
        while len(self.completed_frameworks) > COMPLETED_FRAMEWORKS_KEPT:
            self.completed_frameworks.popitem(last=False)

    @op
    def update_framework(self, t: float, framework_id: str, update: dict) -> tuple[str | None, Effects]:
        """UPDATE_FRAMEWORK: (error message for a 400, effects)."""
        fx = Effects()
        fw = self.frameworks[framework_id]
        info = update["framework_info"]
        error = validate_framework_info(info)
        if error is not None:
            return f"Supplied FrameworkInfo is not valid: {error}", fx
        error = update_error(fw.info, info)
        if error is not None:
            return f"FrameworkInfo update is not valid: {error}", fx
        old_roles = set(fw.roles)
        fw.update_info(info)
        fw.suppressed = set(update.get("suppressed_roles", []))
        removed = old_roles - set(fw.roles)
        for offer_id in sorted(fw.offers):
            if self.offers[offer_id].role in removed:
                self._rescind(self.offers[offer_id], fx)
        self._reconsider_all_agents()
        return None, fx


def update_error(old: dict, new: dict) -> str | None:
    """validation::framework::validateUpdate (Mesos 1.11 wording)."""
    if new.get("principal") != old.get("principal"):
        return "Changing framework's principal is not allowed."
    if new.get("user", "") != old.get("user", ""):
        return (
            "Updating 'FrameworkInfo.user' is unsupported"
            f"; attempted to update from '{old.get('user', '')}' to '{new.get('user', '')}'"
        )
    old_cp, new_cp = bool(old.get("checkpoint", False)), bool(new.get("checkpoint", False))
    if new_cp != old_cp:
        return (
            "Updating 'FrameworkInfo.checkpoint' is unsupported"
            f"; attempted to update from '{str(old_cp).lower()}' to '{str(new_cp).lower()}'"
        )
    return None
