"""Read-only views (CLUSTER NODES / INFO / SLOTS / SHARDS / LINKS / REPLICAS) and the event stream."""

from __future__ import annotations

from pyredis_cluster.cluster.events import EVENT_SPECS, Event, EventName, LogLevel
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.views import (
    ENDPOINT_HOSTNAME,
    ENDPOINT_UNKNOWN,
    SlotsNode,
    cluster_info,
    cluster_links,
    cluster_nodes_text,
    cluster_shards,
    cluster_slots,
    render_cluster_info,
    replica_lines,
)
from pyredis_cluster.testing.simulation import Simulation

NT = 2000


def cluster_with_replicas() -> Simulation:
    """3 primaries (0, 1, 2) and a replica for each of 0 and 1 (3 -> 0, 4 -> 1)."""
    sim = Simulation(5, seed=21, node_timeout=NT, hostnames=True)
    sim.create_cluster(replicas={3: 0, 4: 1})
    return sim


def test_cluster_nodes_lines() -> None:
    sim = cluster_with_replicas()
    state = sim.state(3)
    lines = cluster_nodes_text(state).splitlines()
    assert len(lines) == 5
    by_id = {line.split()[0]: line.split() for line in lines}
    me = by_id[sim.id(3)]
    assert me[2] == "myself,slave" and me[3] == sim.id(0)
    assert me[6] == "1"  # a replica shows its primary's config epoch
    primary = by_id[sim.id(0)]
    assert primary[1] == "127.0.0.1:30001@40001,node0.sim" and primary[2] == "master"
    assert primary[7] == "connected" and primary[8] == "0-5460"
    assert all(len(fields) >= 8 for fields in by_id.values())
    # REPLICAS: the replica's line without its newline
    assert replica_lines(state, state.nodes[sim.id(0)]) == [
        line for line in lines if line.startswith(sim.id(3))
    ]


def test_cluster_info_of_a_replica() -> None:
    sim = cluster_with_replicas()
    info = cluster_info(sim.state(4))
    assert info["cluster_state"] == "ok"
    assert info["cluster_slots_assigned"] == info["cluster_slots_ok"] == 16384
    assert info["cluster_known_nodes"] == 5 and info["cluster_size"] == 3
    assert info["cluster_my_epoch"] == 2 and info["cluster_current_epoch"] == 5
    keys = list(info)
    assert keys[:9] == [
        "cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_slots_pfail",
        "cluster_slots_fail", "cluster_known_nodes", "cluster_size", "cluster_current_epoch", "cluster_my_epoch",
    ]
    assert keys.index("cluster_stats_messages_ping_sent") < keys.index("cluster_stats_messages_pong_sent") \
        < keys.index("cluster_stats_messages_sent") < keys.index("cluster_stats_messages_ping_received")
    assert keys[-1] == "total_cluster_links_buffer_limit_exceeded"
    assert render_cluster_info(info).count("\r\n") == len(info)


def test_cluster_slots_lists_available_replicas_only() -> None:
    sim = cluster_with_replicas()
    state = sim.state(2)
    entries = cluster_slots(state)
    assert [(e.start, e.end) for e in entries] == [(0, 5460), (5461, 10922), (10923, 16383)]
    assert [len(e.nodes) for e in entries] == [1, 1, 1]  # replicas have offset 0: not listed yet
    state.nodes[sim.id(3)].repl_offset = 100
    entries = cluster_slots(state)
    assert entries[0].nodes == [  # the announced hostname rides in the metadata map
        SlotsNode("127.0.0.1", 30001, sim.id(0), {"hostname": "node0.sim"}),
        SlotsNode("127.0.0.1", 30004, sim.id(3), {"hostname": "node3.sim"}),
    ]
    state.nodes[sim.id(3)].flags |= NodeFlags.FAIL
    assert len(cluster_slots(state)[0].nodes) == 1
    by_host = cluster_slots(state, endpoint_type=ENDPOINT_HOSTNAME)[1].nodes[0]
    assert by_host.endpoint == "node1.sim" and by_host.metadata == {"ip": "127.0.0.1"}
    unknown = cluster_slots(state, endpoint_type=ENDPOINT_UNKNOWN)[1].nodes[0]
    assert unknown.endpoint is None and unknown.metadata == {"ip": "127.0.0.1", "hostname": "node1.sim"}


def test_cluster_shards() -> None:
    sim = cluster_with_replicas()
    shards = cluster_shards(sim.state(2))
    assert len(shards) == 3
    first = next(s for s in shards if s["nodes"][0]["id"] == sim.id(0))
    assert first["slots"] == [0, 5460]
    assert [n["id"] for n in first["nodes"]] == [sim.id(0), sim.id(3)]
    assert list(first["nodes"][1]) == ["id", "port", "ip", "endpoint", "hostname", "role",
                                       "replication-offset", "health"]
    assert first["nodes"][1]["role"] == "replica" and first["nodes"][1]["health"] == "loading"
    assert first["nodes"][0]["role"] == "master" and first["nodes"][0]["health"] == "online"


def test_cluster_links() -> None:
    sim = cluster_with_replicas()
    links = cluster_links(sim.state(0))
    assert len(links) == 8  # to and from each of the 4 peers
    assert [link.direction for link in links] == ["to", "from"] * 4
    assert {link.node for link in links} == {sim.id(i) for i in range(1, 5)}


def test_every_event_has_a_spec_and_renders() -> None:
    assert set(EVENT_SPECS) == set(EventName)
    sim = Simulation(4, seed=13, node_timeout=NT, hostnames=True)
    sim.create_cluster()
    sim.kill(3)
    sim.run_for(4 * NT)
    sim.revive(3)
    sim.run_for(4 * NT)
    sim.admin(0, "reset", False)
    assert {e.name for e in sim.events} >= {
        EventName.HANDSHAKE_STARTED, EventName.HANDSHAKE_COMPLETED, EventName.NODE_ADDED, EventName.PFAIL,
        EventName.FAIL, EventName.FAIL_CLEARED, EventName.CLUSTER_STATE_CHANGED, EventName.SLOT_OWNER_CHANGED,
        EventName.CLUSTER_RESET, EventName.NODE_DELETED, EventName.LINK_DISCONNECTED,
    }
    for event in sim.events:
        text = event.describe()
        assert not text.startswith(f"{event.name} {{"), (event, text)  # no field missing from its template
        assert isinstance(event.level, LogLevel)
    assert str(Event(EventName.PFAIL, 5, "a" * 40, {"node": "b" * 40})) == f"5 aaaaaaaa pfail: *** NODE {'b' * 40} possibly failing"
