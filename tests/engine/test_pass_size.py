"""A pass looks at the offers of as many agents as it may place tasks (at least ``PASS_AGENTS_MIN``),
the longest held first; the others wait in the book for the next pass."""

from __future__ import annotations

from harness import Harness

from scheduler.core.cycle import PASS_AGENTS_MIN


async def test_a_pass_looks_at_a_bounded_number_of_agents_and_the_next_at_the_rest(tmp_path):
    h = Harness(tmp_path, agents=PASS_AGENTS_MIN + 50)
    await h.start()
    h.state.launches.per_pass = 5  # a pass may place five tasks: it looks at the minimum of agents
    jobs = h.queue_jobs(3)
    await h.sync()
    offers = await h.offer_all()
    declined_before = set(h.driver.declined())
    await h.cycle()
    assert sorted(h.driver.accepted()) == sorted(f"scale-job-{job}-1" for job in jobs)
    looked_at = (set(h.driver.declined()) - declined_before) | {
        offer_id for call in h.driver.of("ACCEPT") for offer_id in call.offer_ids
    }
    assert len(looked_at) == PASS_AGENTS_MIN  # one offer per agent here
    assert len(h.state.offers) == len(offers) - PASS_AGENTS_MIN  # waiting for the next pass
    await h.cycle()
    assert not h.state.offers and set(offers) <= set(h.driver.declined()) | looked_at
