"""The offer book: offers held per agent, for at most one scheduling cycle.

Scale hoarded offers (its issue #1516) and starved the cluster; here every offer is either used by
the next cycle or handed back, so the book only ever holds what arrived since the last cycle, or,
while launches in flight are at their bound, offers kept for a while (``keep``) for want of room.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.change_log import ChangeLog
from scheduler.offers.offer import Offer
from scheduler.resources.accounting import Cents, add_cents, scalar_cents


@dataclass(frozen=True, slots=True)
class HeldOffer:
    offer: Offer
    cents: Cents  # its scalar resources, in hundredths
    # Since when a pass that could not use it (launches in flight at their bound) keeps it.
    kept_since: float | None = None


def offer_role_matches(offer: Offer, accepted_role: str) -> bool:
    """Whether the offer carries at least one resource of the role this scheduler uses."""
    return any(resource.role == accepted_role for resource in offer.resources)


class OfferBook:
    def __init__(self, accepted_role: str = "*") -> None:
        self.accepted_role = accepted_role
        self._by_id: dict[str, HeldOffer] = {}
        self._ids_by_agent: dict[str, set[str]] = {}
        self._cents_by_agent: dict[str, Cents] = {}  # sum of each agent's held offers, kept as they come and go
        self.changes = ChangeLog()  # agents whose offers changed, for the status

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, offers: Iterable[Offer], now: float) -> list[Offer]:
        """Hold the offers; returns those of another role, which must be declined at once."""
        refused = []
        for offer in offers:
            if not offer_role_matches(offer, self.accepted_role):
                refused.append(offer)
                continue
            self._hold(HeldOffer(offer, scalar_cents(offer.resources)))
        return refused

    def _hold(self, held: HeldOffer) -> None:
        offer = held.offer
        self._by_id[offer.id] = held
        self._ids_by_agent.setdefault(offer.agent_id, set()).add(offer.id)
        add_cents(self._cents_by_agent.setdefault(offer.agent_id, {}), held.cents)
        self.changes.touch(offer.agent_id)

    def keep(self, held: Iterable[HeldOffer], now: float, keep_s: float) -> list[Offer]:
        """Hold again offers a pass took and could not use (checked and summed once, as they were),
        unless kept ``keep_s`` already: those are returned, to be declined."""
        expired = []
        for entry in held:
            kept = _kept(entry, now, keep_s)
            if kept is None:
                expired.append(entry.offer)
            else:
                self._hold(kept)
        return expired

    def _forget(self, offer_id: str) -> HeldOffer:
        held = self._by_id.pop(offer_id)
        agent_id = held.offer.agent_id
        ids = self._ids_by_agent[agent_id]
        ids.discard(offer_id)
        if ids:
            add_cents(self._cents_by_agent[agent_id], held.cents, sign=-1)
        else:
            del self._ids_by_agent[agent_id]
            del self._cents_by_agent[agent_id]
        self.changes.touch(agent_id)
        return held

    def rescind(self, offer_id: str) -> Offer | None:
        return self._forget(offer_id).offer if offer_id in self._by_id else None

    def for_agent(self, agent_id: str) -> list[Offer]:
        return [self._by_id[i].offer for i in self._ids_by_agent.get(agent_id, ())]

    def count_for_agent(self, agent_id: str) -> int:
        return len(self._ids_by_agent.get(agent_id, ()))

    def offered_cents(self, agent_id: str) -> Cents:
        """The scalar resources of the agent's held offers, in hundredths (do not modify)."""
        return self._cents_by_agent.get(agent_id, _NOTHING)

    def take_agent(self, agent_id: str) -> list[Offer]:
        """Remove and return the agent's offers (to launch on them or decline them)."""
        return [self._forget(offer_id).offer for offer_id in list(self._ids_by_agent.get(agent_id, ()))]

    def take_all_held(self) -> list[HeldOffer]:
        held = list(self._by_id.values())
        for agent_id in self._ids_by_agent:
            self.changes.touch(agent_id)
        self._by_id.clear()
        self._ids_by_agent.clear()
        self._cents_by_agent.clear()
        return held

    def take_agents(self, count: int) -> list[HeldOffer]:
        """Remove and return the offers of ``count`` agents, those whose offers came first (an offer
        put back goes to the end: a pass after another looks at other agents)."""
        agents = list(itertools.islice(self._ids_by_agent, count))
        return [self._forget(offer_id) for agent_id in agents for offer_id in list(self._ids_by_agent[agent_id])]

    def take_all(self) -> list[Offer]:
        return [held.offer for held in self.take_all_held()]

    def keep_all(self, now: float, keep_s: float) -> list[Offer]:
        """``keep`` every offer held, in place (a pass without room): the ones kept long enough are
        removed and returned; the others stay as they are, the new ones kept from ``now``."""
        expired = []
        for offer_id, entry in list(self._by_id.items()):
            kept = _kept(entry, now, keep_s)
            if kept is None:
                expired.append(self._forget(offer_id).offer)
            elif kept is not entry:
                self._by_id[offer_id] = kept
        return expired

    def clear(self) -> int:
        """Forget every offer (the subscription ended: Mesos has rescinded them all)."""
        count = len(self._by_id)
        self.take_all()
        return count


_NOTHING: Cents = {}


def _kept(entry: HeldOffer, now: float, keep_s: float) -> HeldOffer | None:
    """The entry kept for want of room (from ``now`` if it was not yet), or None once kept ``keep_s``."""
    if entry.kept_since is None:
        return HeldOffer(entry.offer, entry.cents, now)
    return entry if now - entry.kept_since < keep_s else None
