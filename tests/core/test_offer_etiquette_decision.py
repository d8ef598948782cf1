"""The SUPPRESS/REVIVE decision alone (pure): one call at a time, revives paced, resets on subscribe."""

from __future__ import annotations

from scheduler.core.offer_etiquette import REVIVE, SUPPRESS, HeldOffers, OfferEtiquette


def test_one_call_at_a_time_so_a_revive_never_overtakes_a_suppress():
    e = OfferEtiquette(suppress_after_idle_s=0.0)
    assert e.decide(False, 10.0) == SUPPRESS
    assert e.decide(True, 10.5) is None  # SUPPRESS still in flight
    e.finished(SUPPRESS, e.generation, ok=True)
    assert e.decide(True, 10.6) == REVIVE
    e.finished(REVIVE, e.generation, ok=True)
    assert not e.suppressed and not e.filtered and e.calls == {SUPPRESS: 1, REVIVE: 1}


def test_revives_are_paced_and_a_failed_one_is_retried():
    e = OfferEtiquette(suppress_after_idle_s=0.0)
    e.declined_idle()
    assert e.decide(True, 10.0) == REVIVE
    e.finished(REVIVE, e.generation, ok=False)
    assert e.decide(True, 10.9) is None  # less than a second after the last
    assert e.decide(True, 11.0) == REVIVE


def test_a_suppress_that_lands_across_a_resubscription_is_believed():
    e = OfferEtiquette(suppress_after_idle_s=0.0)
    assert e.decide(False, 10.0) == SUPPRESS
    old = e.generation
    e.subscribed()
    assert not e.suppressed and e.in_flight is None
    e.finished(SUPPRESS, old, ok=True)  # it may have reached the new subscription
    assert e.suppressed
    assert e.decide(True, 11.0) == REVIVE  # so work revives rather than trusting the reset


def test_held_offers_count_those_past_the_limit():
    held = HeldOffers()
    held.received(["a", "b"], 0.0)
    held.received(["c"], 8.0)
    assert held.held_longer_than(10.0, 12.0) == (2, 12.0)
    held.returned(["a", "b"])
    assert held.held_longer_than(10.0, 12.0) == (0, 4.0)
    held.clear()
    assert held.held_longer_than(10.0, 12.0) == (0, 0.0) and len(held) == 0
