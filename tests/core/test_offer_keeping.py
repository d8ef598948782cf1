"""Offers kept for want of room (launches in flight at their bound): held at most a while after a
pass first could not use them, and a pass without room leaves the book as it is."""

from __future__ import annotations

from scheduler.offers.book import OfferBook
from scheduler.offers.offer import Offer, Resource


def offer(offer_id: str, agent: str = "S1") -> Offer:
    return Offer(offer_id, agent, f"host-{agent}", (Resource("cpus", "SCALAR", scalar=4.0),))


def test_a_pass_without_room_keeps_new_offers_from_now_and_gives_back_those_kept_long_enough():
    book = OfferBook()
    book.add([offer("O1"), offer("O2", "S2")], 0.0)
    assert book.keep_all(10.0, 1.0) == []  # first kept now, though they came ten seconds ago
    book.add([offer("O3")], 10.5)
    assert book.keep_all(10.9, 1.0) == []
    assert [o.id for o in book.keep_all(11.0, 1.0)] == ["O1", "O2"]
    assert len(book) == 1 and book.count_for_agent("S1") == 1 and book.offered_cents("S1") == {"cpus": 400}
    assert [o.id for o in book.keep_all(11.9, 1.0)] == ["O3"]
    assert len(book) == 0 and book.offered_cents("S1") == {}


def test_offers_taken_by_a_pass_and_kept_keep_their_time_across_passes():
    book = OfferBook()
    book.add([offer("O1"), offer("O2")], 0.0)
    taken = book.take_all_held()
    assert book.keep(taken, 1.0, 1.0) == [] and len(book) == 2  # kept from 1.0
    taken = book.take_all_held()
    assert book.keep(taken[:1], 1.5, 1.0) == []  # O2 was used by this pass
    assert [o.id for o in book.keep(book.take_all_held(), 2.0, 1.0)] == ["O1"]  # a pass with room does not reset it
    assert len(book) == 0


def test_a_pass_takes_the_agents_whose_offers_came_first_and_those_put_back_go_last():
    book = OfferBook()
    book.add([offer("O1", "S1"), offer("O2", "S2"), offer("O3", "S1"), offer("O4", "S3")], 0.0)
    taken = book.take_agents(2)
    assert sorted(entry.offer.id for entry in taken) == ["O1", "O2", "O3"]  # both of S1's, and S2's
    assert len(book) == 1 and book.count_for_agent("S1") == 0
    book.keep([entry for entry in taken if entry.offer.agent_id == "S1"], 1.0, 1.0)  # S1 unused, room ran out
    assert [entry.offer.id for entry in book.take_agents(1)] == ["O4"]  # S3 came before S1 was put back
    assert sorted(entry.offer.id for entry in book.take_agents(5)) == ["O1", "O3"]


def test_every_change_of_an_agent_s_offers_is_noted_for_the_status():
    """The status looks at the agents in this log since its last build, and reuses a node's entry
    while the agent's version is unchanged: every change gives a version never given before."""
    book = OfferBook()
    book.add([offer("O1"), offer("O2", "S2")], 0.0)
    seen = book.changes.stamp
    versions = {book.changes.version("S1"), book.changes.version("S2")}
    book.add([offer("O3")], 0.0)
    book.rescind("O1")
    assert book.changes.since(seen) == ["S1"]
    versions.add(book.changes.version("S1"))
    seen = book.changes.stamp
    book.take_agent("S1")
    assert book.changes.since(seen) == ["S1"] and book.changes.version("S1") not in versions
    seen = book.changes.stamp
    book.keep_all(5.0, 1.0)  # kept in place: nothing the status shows changed
    assert book.changes.since(seen) == []
    book.take_all()
    assert book.changes.since(seen) == ["S2"]


def test_surplus_comes_back_spread_out_a_slot_of_offers_a_second_from_mesos_default_to_a_minute():
    from scheduler.offers.surplus_returns import SurplusReturns

    returns = SurplusReturns(returns_per_s=200)
    # A burst's first passes hand back 10,000 agents' offers: back over 50 s, 200 a second, not at once.
    groups = returns.plan(10_000, 100.0)
    assert [count for _, count in groups] == [200] * 50
    assert [refuse for refuse, _ in groups] == [5.0 + second for second in range(50)]
    # A second later, more go after them (the slots before are full); the filter is from now.
    assert returns.plan(300, 101.0) == [(54.0, 200), (55.0, 100)]
    # Past the longest filter the rest share the last slot (more than the rate, never longer).
    assert returns.plan(1000, 101.0, 5.0, 57.0) == [(55.0, 100), (56.0, 200), (57.0, 700)]
    # Once the slots are behind, a decline comes back after the shortest filter again.
    assert returns.plan(3, 200.0) == [(5.0, 3)]
    # A small cluster's few offers: all after Mesos' default, as one DECLINE.
    assert SurplusReturns().plan(10, 0.0) == [(5.0, 10)]
    # A shortest filter above the longest one wins (OFFER_REFUSE_SECONDS below the busy filter).
    assert SurplusReturns(returns_per_s=2).plan(5, 0.0, 1.0, 0.5) == [(1.0, 5)]
