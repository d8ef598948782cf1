from hypothesis import given
from hypothesis import strategies as st

from scheduler.resources.accounting import NodeResources, split, to_cents


def parts(b):
    return b.offered, b.running, b.free, b.unavailable, b.total


@given(
    total=st.integers(min_value=-10, max_value=10_000),
    running=st.integers(min_value=-10, max_value=20_000),
    offered=st.integers(min_value=-10, max_value=20_000),
    unavailable=st.integers(min_value=-10, max_value=20_000),
)
def test_split_always_adds_up_and_never_goes_negative(total, running, offered, unavailable):
    b = split(total, running, offered, unavailable)
    assert b.offered + b.running + b.free + b.unavailable == b.total
    assert min(parts(b)) >= 0


def test_split_keeps_what_fits():
    assert parts(split(400, 100, 50, 150)) == (50, 100, 100, 150, 400)


def test_master_data_gives_total_and_others_use():
    node = NodeResources()
    ours_running, ours_offered = to_cents({"cpus": 1}), to_cents({"cpus": 2, "mem": 1024})
    # The master's `used` holds our task and 0.5 cpu of someone else's.
    node.update_from_master(
        total=to_cents({"cpus": 4, "mem": 4096, "disk": 100, "gpus": 0, "sharedmem": 10}),
        used=to_cents({"cpus": 1.5}),
        our_running=ours_running,
    )
    result = node.breakdown(ours_running, ours_offered)
    assert list(result)[:4] == ["cpus", "mem", "disk", "gpus"]
    assert "sharedmem" in result  # other scalars too
    assert parts(result["cpus"]) == (200, 100, 50, 50, 400)
    assert result["cpus"].as_json() == {"offered": 2.0, "total": 4.0, "running": 1.0, "free": 0.5, "unavailable": 0.5}
    assert parts(result["mem"]) == (102400, 0, 307200, 0, 409600)


def test_our_tasks_the_master_already_freed_never_make_others_use_negative():
    node = NodeResources()
    node.update_from_master(to_cents({"cpus": 4}), used={}, our_running=to_cents({"cpus": 3}))
    assert node.others == {}
    assert parts(node.breakdown(to_cents({"cpus": 3}), {})["cpus"]) == (0, 300, 100, 0, 400)


def test_watermark_stands_in_until_the_master_reports():
    node = NodeResources()
    node.observe(running={}, offered=to_cents({"cpus": 4, "mem": 100}), now=0)
    node.observe(running=to_cents({"cpus": 1}), offered={}, now=1)
    result = node.breakdown(to_cents({"cpus": 1}), {})
    assert parts(result["cpus"]) == (0, 100, 300, 0, 400)
    assert result["gpus"].total == 0


def test_watermark_forgets_after_two_periods():
    node = NodeResources()
    node.observe({}, to_cents({"cpus": 4}), now=0)
    node.observe({}, to_cents({"cpus": 1}), now=301)
    assert node.breakdown({}, {})["cpus"].total == 400  # still within the recent window
    node.observe({}, to_cents({"cpus": 1}), now=602)
    assert node.breakdown({}, {})["cpus"].total == 100
