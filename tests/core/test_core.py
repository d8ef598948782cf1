"""The core on its own: events and time in, actions and state out; no network, no database."""

from scheduler.core.apply import apply
from scheduler.core.events import Disconnected, Failure, OfferRescinded, OffersReceived, Subscribed, TaskUpdate
from scheduler.core.inputs import AgentsListed, Cycle, FlagsRead, NodeIdsStored
from scheduler.core.state import CoreState
from scheduler.nodes.agent_report import AgentReport
from scheduler.offers.offer import Offer, Resource
from scheduler.status.document import build_status
from scheduler.tasks.status import TaskState, TaskStatus


def offer(offer_id, agent_id="S1", hostname="host-1", cpus=4.0, mem=1024.0, role="*"):
    return Offer(
        id=offer_id,
        agent_id=agent_id,
        hostname=hostname,
        resources=(
            Resource("cpus", "SCALAR", scalar=cpus, role=role),
            Resource("mem", "SCALAR", scalar=mem, role=role),
        ),
    )


def subscribed_core(now=1000.0, **kwargs):
    core = CoreState(hostname="sched-host", now=now, **kwargs)
    apply(core, Subscribed("F-1", 15.0), now)
    return core


def test_offers_are_held_until_the_cycle_then_declined():
    core = subscribed_core()
    actions = apply(core, OffersReceived((offer("O1"), offer("O2", "S2", "host-2"))), 1000.1)
    assert actions.decline == []
    assert len(core.offers) == 2 and core.offers.count_for_agent("S1") == 1
    cycle = apply(core, Cycle(), 1000.5)
    assert sorted(cycle.decline) == ["O1", "O2"]
    assert len(core.offers) == 0


def test_offers_of_another_role_and_unreadable_offers_are_declined_at_once():
    core = subscribed_core(accepted_role="scale")
    actions = apply(
        core, OffersReceived((offer("O1", role="*"), offer("O2", role="scale")), unusable_offer_ids=("O3",)), 1000
    )
    assert sorted(actions.decline) == ["O1", "O3"]
    assert core.offers.count_for_agent("S1") == 1


def test_paused_scheduler_declines_at_once():
    core = subscribed_core()
    apply(core, FlagsRead(paused=True, message_handlers=1), 1000)
    actions = apply(core, OffersReceived((offer("O1"),)), 1000)
    assert actions.decline == ["O1"] and len(core.offers) == 0
    assert core.nodes.for_agent("S1").online  # the node is still seen


def test_rescind_and_disconnect_drop_offers():
    core = subscribed_core()
    apply(core, OffersReceived((offer("O1"), offer("O2", "S2", "host-2"))), 1000)
    apply(core, OfferRescinded("O1"), 1000)
    assert apply(core, Cycle(), 1000.2).decline == ["O2"]
    apply(core, OffersReceived((offer("O3"),)), 1001)
    apply(core, Disconnected("test"), 1001)
    assert len(core.offers) == 0
    assert not apply(core, Cycle(), 1001.5)  # nothing to send while not subscribed


def test_updates_are_counted_and_acknowledged_only_with_uuid():
    core = subscribed_core()
    with_uuid = TaskStatus("t1", TaskState.FINISHED, agent_id="S1", uuid="AAECAwQFBgcICQoLDA0ODw==")
    without = TaskStatus("t2", TaskState.LOST, reason="REASON_RECONCILIATION")
    assert apply(core, TaskUpdate(with_uuid), 1000.2).acknowledge == [with_uuid]
    assert apply(core, TaskUpdate(without), 1000.3).acknowledge == []
    rates = core.metrics.rates(1002.0)
    assert rates["task_updates_per_sec"] == 1.0  # 2 updates over the 2 complete seconds since start
    assert rates["tasks_finished_per_sec"] == 0.5  # LOST is not a finished task (Scale's rule)


def test_agent_removal_takes_the_node_offline():
    core = subscribed_core()
    apply(core, OffersReceived((offer("O1"),)), 1000)
    apply(core, Failure(agent_id="S1"), 1001)
    node = core.nodes.get("host-1")
    assert not node.online and node.state(False).name == "OFFLINE"


def test_status_document_from_the_core():
    core = subscribed_core()
    apply(core, OffersReceived((offer("O1"),)), 1000)
    apply(core, NodeIdsStored({"host-1": 7}), 1000)
    report = AgentReport(
        "S1", "host-1", True, {"cpus": 4, "mem": 1024, "disk": 10, "gpus": 0}, {"cpus": 1}, {"cpus": 4, "mem": 1024}
    )
    apply(core, AgentsListed((report,)), 1000.5)
    document = build_status(core, 1001.0)
    assert document["scheduler"]["mesos"] == {"framework_id": "F-1"}
    assert document["scheduler"]["state"]["name"] == "READY"
    assert document["num_offers"] == 1
    (entry,) = document["nodes"]
    assert (entry["id"], entry["hostname"], entry["agent_id"], entry["is_active"]) == (7, "host-1", "S1", True)
    assert entry["state"]["name"] == "INITIAL_CLEANUP"  # until its first cleanup task succeeds
    cpus = entry["resources"]["cpus"]
    # Our held offer claims all 4 cpus while the master says another framework uses 1 (the two views
    # race): ours are placed first and the rest fits in what is left, so the sum still matches.
    assert cpus["offered"] + cpus["running"] + cpus["free"] + cpus["unavailable"] == cpus["total"] == 4.0
    assert document["resources"]["cpus"] == cpus


def test_offer_book_keeps_each_agents_offered_sum():
    from scheduler.offers.book import OfferBook

    book = OfferBook()
    book.add([offer("O1", cpus=1), offer("O2", cpus=2), offer("O3", "S2", "host-2", cpus=4)], now=0)
    assert book.offered_cents("S1") == {"cpus": 300, "mem": 204800}
    book.rescind("O1")
    assert book.offered_cents("S1") == {"cpus": 200, "mem": 102400}
    assert book.rescind("O1") is None  # twice is harmless
    assert [o.id for o in book.take_agent("S1")] == ["O2"]
    assert book.offered_cents("S1") == {} and book.count_for_agent("S1") == 0
    assert book.offered_cents("S2") == {"cpus": 400, "mem": 102400}
    assert book.clear() == 1 and book.offered_cents("S2") == {}
