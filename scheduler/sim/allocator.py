"""Offers and refuse filters: the allocation cycle, DECLINE, REVIVE, SUPPRESS."""

from __future__ import annotations

import heapq
import math

from scheduler.sim.effects import Effects, op
from scheduler.sim.model import AGENT_PORT, Framework, Offer, RefuseFilter, id_json, refuse_seconds
from scheduler.sim.resources import Resources


class Allocator:
    """A sketch of the hierarchical DRF allocator."""

    def _remove_offer(self, offer: Offer) -> None:
        del self.offers[offer.id]
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.discard(offer.id)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offer_ids.discard(offer.id)
            agent.offered = agent.offered - offer.resources
            agent.touch()
            self._mark_offerable(agent)

    def _rescind(self, offer: Offer, fx: Effects) -> None:
        self._remove_offer(offer)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None and fw.connected:
            fx.emit(fw.id, {"type": "RESCIND", "rescind": {"offer_id": id_json(offer.id)}})

    def _add_filter(self, fw: Framework, agent_id: str, refused: Resources, seconds: float, t: float) -> None:
        if seconds <= 0 or refused.is_empty():
            return
        # A filter lasts at least one allocation interval (hierarchical.cpp).
        expires = t + max(seconds, self.config.allocation_interval_s)
        fw.filters.setdefault(agent_id, []).append(RefuseFilter(expires, refused))

    @staticmethod
    def _filtered_until(fw: Framework, agent_id: str, available: Resources, t: float) -> float | None:
        """None if `fw` may be offered `available` now, else when its filters lift."""
        filters = fw.filters.get(agent_id)
        if not filters:
            return None
        live = [f for f in filters if f.expires > t]
        if len(live) != len(filters):
            if live:
                fw.filters[agent_id] = live
            else:
                del fw.filters[agent_id]
        # Like RefusedOfferFilter: only resources within the refused ones are held back.
        blocking = [f.expires for f in live if f.refused.contains(available)]
        return max(blocking) if blocking else None

    def _reconsider_all_agents(self) -> None:
        """A framework became eligible for offers: every agent is a candidate again."""
        for agent_id, agent in self.agents.items():
            if not agent.partitioned:
                self._offerable.setdefault(agent_id, None)

    def offer_json(self, offer: Offer, fw: Framework) -> dict:
        agent = self.agents[offer.agent_id]
        role = offer.role if fw.multi_role else None
        out = {
            "id": id_json(offer.id),
            "framework_id": id_json(fw.id),
            "agent_id": id_json(agent.id),
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": agent.ip, "port": AGENT_PORT},
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_protobuf_list(role),
        }
        if agent.attributes:
            out["attributes"] = agent.attributes_json()
        if role is not None:
            out["allocation_info"] = {"role": role}
        return out

    @op
    def allocate(self, t: float) -> Effects:
        """One allocation cycle: offer every agent's available resources."""
        fx = Effects()
        while self._parked and self._parked[0][0] <= t:
            _, agent_id = heapq.heappop(self._parked)
            if agent_id in self.agents:
                self._mark_offerable(self.agents[agent_id])
        eligible = [(fw, fw.offer_role()) for fw in self.frameworks.values() if fw.connected]
        eligible = [(fw, role) for fw, role in eligible if role is not None]
        if not eligible or not self._offerable:
            return fx
        # A cheap DRF: the framework with the smallest cpus share goes first.
        shares: dict[str, float] = {}
        if len(eligible) > 1:
            for fw, _ in eligible:
                shares[fw.id] = sum(self.offers[o].resources.cpus for o in fw.offers) + sum(
                    task.resources.cpus for task in fw.tasks.values() if not task.terminal
                )
        made: dict[str, list[dict]] = {}
        for agent_id in list(self._offerable):
            agent = self.agents[agent_id]
            available = agent.available()
            if not available.allocatable():
                del self._offerable[agent_id]
                continue
            candidates = eligible if len(eligible) == 1 else sorted(eligible, key=lambda item: shares[item[0].id])
            lifts = math.inf
            for fw, role in candidates:
                if agent.has_gpus() and "GPU_RESOURCES" not in fw.capabilities:
                    continue
                until = self._filtered_until(fw, agent_id, available, t)
                if until is not None:
                    lifts = min(lifts, until)
                    continue
                offer = Offer(f"{self.master_id}-O{next(self._offer_seq)}", fw.id, agent_id, available, role, t)
                self.offers[offer.id] = offer
                fw.offers.add(offer.id)
                agent.offer_ids.add(offer.id)
                agent.offered = agent.offered + available
                agent.touch()
                del self._offerable[agent_id]
                if shares:
                    shares[fw.id] += available.cpus
                fw.offers_sent += 1
                made.setdefault(fw.id, []).append(self.offer_json(offer, fw))
                break
            else:
                # Nobody may have it now: park the agent until a filter lifts
                # (or a framework subscribes or revives), so that cycles over
                # 10,000 declined agents cost nothing.
                del self._offerable[agent_id]
                if lifts < math.inf:
                    heapq.heappush(self._parked, (lifts, agent_id))
        size = self.config.max_offers_per_event
        for fid, offers in made.items():
            for i in range(0, len(offers), size):
                fx.emit(fid, {"type": "OFFERS", "offers": {"offers": offers[i : i + size]}})
        return fx

    @op
    def decline(self, t: float, framework_id: str, decline: dict) -> Effects:
        fw = self.frameworks[framework_id]
        seconds = refuse_seconds(decline.get("filters"))
        for item in decline.get("offer_ids", []):
            offer = self.offers.get(item["value"])
            if offer is None or offer.framework_id != fw.id:
                continue  # Mesos logs a warning and ignores it
            self._remove_offer(offer)
            self._add_filter(fw, offer.agent_id, offer.resources, seconds, t)
        return Effects()

    @op
    def revive(self, t: float, framework_id: str, roles: list[str]) -> Effects:
        fw = self.frameworks[framework_id]
        fw.filters.clear()
        if roles:
            fw.suppressed.difference_update(roles)
        else:
            fw.suppressed.clear()
        self._reconsider_all_agents()
        return Effects()

    @op
    def suppress(self, t: float, framework_id: str, roles: list[str]) -> Effects:
        fw = self.frameworks[framework_id]
        fw.suppressed.update(roles or fw.roles)
        return Effects()
