"""Failover: a framework whose connection breaks, and a master that restarts."""

from __future__ import annotations

import math

from scheduler.sim.effects import Effects, StreamClose, op
from scheduler.sim.model import Framework
from scheduler.sim.timers import FAILOVER


class Failover:
    """Framework failover timeouts and the master's own failover."""

    @op
    def disconnect(self, t: float, framework_id: str, stream_id: str) -> Effects:
        """The subscription connection broke (only the current stream counts)."""
        fx = Effects()
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.stream_id != stream_id:
            return fx
        self._deactivate(fw, t)
        timeout = fw.failover_timeout
        if timeout <= 0 or math.isnan(timeout):
            self._remove_framework(fw, t, fx)
        elif math.isfinite(timeout):
            fw.failover_deadline = t + timeout
            self._arm(t + timeout, FAILOVER, fw.id, fw.failover_gen)
        return fx

    def _deactivate(self, fw: Framework, t: float) -> None:
        fw.connected = False
        fw.stream_id = None
        fw.unregistered_time = t
        fw.failover_gen += 1
        fw.failover_deadline = None
        # Offers are rescinded, but the message cannot reach a disconnected framework.
        for offer_id in sorted(fw.offers):
            self._remove_offer(self.offers[offer_id])
        fw.filters.clear()

    @op
    def master_failover(self, t: float) -> Effects:
        """The master process restarts (or loses leadership): every stream drops.

        Agents, tasks and frameworks are kept (agents re-register with a new
        master and report their tasks). Offers and filters are gone. Failover
        timeouts are not persisted across a master failover (MESOS-4659), so no
        framework is removed for not coming back.
        """
        fx = Effects()
        for fw in self.frameworks.values():
            if fw.stream_id is not None:
                fx.closes.append(StreamClose(fw.stream_id, abort=True))
            fw.connected = False
            fw.stream_id = None
            fw.unregistered_time = t
            fw.failover_gen += 1
            fw.failover_deadline = None
            fw.filters.clear()
            fw.suppressed.clear()
        for offer in list(self.offers.values()):
            self._remove_offer(offer)
        self.master_id = str(self._new_uuid())
        return fx

    def elect(self, t: float) -> None:
        self.elected_time = t

    def _on_failover(self, t: float, fx: Effects, framework_id: str, gen: int) -> None:
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.failover_gen != gen or fw.connected:
            return
        self._remove_framework(fw, t, fx)
