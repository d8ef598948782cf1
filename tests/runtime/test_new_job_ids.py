"""Which queued jobs the engine reads next: new ids, and gaps that a transaction still open may fill."""

from scheduler.runtime.state_store import GAP_WAIT_S, MAX_GAPS, NewJobIds


def test_gaps_below_the_highest_are_looked_for_until_filled():
    ids = NewJobIds()
    ids.read([1, 2, 3, 7, 8, 12], now=0.0)  # 4-6 and 9-11 committed later (or never)
    assert ids.highest == 12
    assert ids.ranges() == [(4, 6), (9, 11)]
    ids.read([5, 13], now=1.0)
    assert ids.highest == 13 and ids.ranges() == [(4, 4), (6, 6), (9, 11)]
    ids.read([4, 6, 9, 10, 11], now=2.0)
    assert ids.ranges() == []


def test_a_gap_is_given_up_after_a_while():
    ids = NewJobIds(highest=100)
    ids.read([105], now=0.0)
    ids.read([], now=GAP_WAIT_S - 1)
    assert ids.ranges() == [(101, 104)]
    ids.read([], now=GAP_WAIT_S)
    assert ids.ranges() == [] and ids.highest == 105


def test_many_gaps_merge_into_a_bounded_number_of_ranges_that_cover_them():
    ids = NewJobIds()
    read = list(range(2, 2000, 2))  # every odd id missing: 999 gaps
    ids.read(read, now=0.0)
    ranges = ids.ranges()
    assert len(ranges) <= MAX_GAPS
    covered = {i for low, high in ranges for i in range(low, high + 1)}
    assert set(range(1, 1999, 2)) <= covered  # every missing id is still looked for
    assert ranges == sorted(ranges)


def test_nothing_new_means_nothing_to_look_for():
    ids = NewJobIds(highest=50)
    ids.read([], now=0.0)
    assert ids.highest == 50 and ids.ranges() == []
