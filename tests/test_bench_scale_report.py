"""bench-scale's report of offers while jobs wait: a starved scheduler (no offer, nothing in flight,
nothing held, jobs queued) is told apart from one waiting for the master."""

from __future__ import annotations

from bench.scale import offers_while_queued
from bench.scale_probes import Sample


def metrics(offers: int, in_flight: int, held: int, running: int) -> str:
    return "".join(
        f"# TYPE scale_scheduler_{name} gauge\nscale_scheduler_{name} {value}\n"
        for name, value in (
            ("offers_held", offers),
            ("launches_in_flight", in_flight),
            ("launches_held", held),
            ("tries_running", running),
        )
    )


def sample(queued: int, text: str) -> Sample:
    return Sample(0.0, text, {"QUEUED": queued}, 0, None, None, None, None, 1)


def test_samples_with_jobs_queued_tell_offers_in_hand_from_starved():
    samples = [
        sample(100, metrics(5, 1500, 0, 9000)),  # offers kept for want of room
        sample(100, metrics(0, 1500, 0, 11000)),  # waiting for the master's answers
        sample(100, metrics(0, 0, 1, 8000)),  # held: acknowledgements behind
        sample(100, metrics(0, 0, 0, 2000)),  # starved: room, nothing held, no offer
        sample(0, metrics(0, 0, 0, 0)),  # nothing queued: not counted
        sample(100, ""),  # the scheduler restarting: no metrics
    ]
    assert offers_while_queued(samples) == {
        "samples": 4,
        "offer_in_hand_pct": 25.0,
        "starved_pct": 25.0,
        "tries_running_mean": 7500,
    }
    assert "missing" in offers_while_queued(samples[4:])
