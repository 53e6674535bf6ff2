"""PYREDIS.FAULT over RESP: every fault a non-Python client (or the web live view) can
inject, checked from the outside (CLUSTER NODES, sockets), against in-process nodes and
once against ``python -m pyredis_cluster`` processes.

node-timeout is short (300 ms) so failure detection takes well under a second; every
wait has a deadline and nothing sleeps.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pyredis_cluster.testing import ThreadedCluster, cluster_in_thread, node_in_thread
from pyredis_cluster.testing.faults import faults_of, heal_over_resp, node_id, partition_over_resp
from tests.cluster_procs import cluster_nodes, create_cluster, node_flags, wait, wait_cluster_ok
from tests.support import RawClient
from tests.testing.test_faults import (
    DEADLINE,
    NODE_TIMEOUT,
    flags_in_cluster_nodes,
    refuses_connections,
    wait_until,
)

SUSPECTED = {"fail?", "fail"}


@pytest.fixture
def cluster() -> Iterator[ThreadedCluster]:
    with cluster_in_thread(3, 0, node_timeout=NODE_TIMEOUT, enable_test_commands=True) as started:
        yield started


def fault(port: int, *args: str | int) -> bytes:
    with RawClient(port) as client:
        return client.raw("PYREDIS.FAULT", *args)


def suspects(observer_port: int, subject_id: str) -> bool:
    return bool(SUSPECTED & flags_in_cluster_nodes(observer_port, subject_id))


def test_kill_closes_the_node_without_a_reply(cluster: ThreadedCluster) -> None:
    victim = cluster.primaries[0]
    bus_port = victim.cluster.bus.port  # type: ignore[union-attr]
    with RawClient(victim.port) as client:
        client.send_raw(b"*2\r\n$13\r\nPYREDIS.FAULT\r\n$4\r\nKILL\r\n")
        assert client.is_closed()  # no reply at all: a crash
    wait_until(lambda: refuses_connections(victim.port) and refuses_connections(bus_port))
    cluster.wait_for_fail(victim, timeout=DEADLINE)


def test_pause_ms_holds_both_ports_then_resumes_by_itself(cluster: ThreadedCluster) -> None:
    victim, observer, _ = cluster.primaries
    with RawClient(victim.port) as client:
        assert client.raw("PYREDIS.FAULT", "PAUSE", 1500) == b"+OK\r\n"
        client.send_raw(b"*1\r\n$4\r\nPING\r\n")
        # The others stop hearing it (its bus is silent) while the PING waits unanswered.
        wait_until(lambda: suspects(observer.port, node_id(victim)))
        client.sock.settimeout(0.05)
        with pytest.raises(TimeoutError):
            client.sock.recv(1)
        client.sock.settimeout(DEADLINE)
        assert client.read_reply()[1] == b"+PONG\r\n"  # nobody called resume
    cluster.wait_for_healthy(victim, timeout=DEADLINE)
    assert not faults_of(victim).paused


def test_isolate_then_heal(cluster: ThreadedCluster) -> None:
    victim, first, second = cluster.primaries
    assert fault(victim.port, "ISOLATE") == b"+OK\r\n"
    cluster.wait_for_fail(victim, timeout=DEADLINE)
    wait_until(lambda: suspects(victim.port, node_id(first)) and suspects(victim.port, node_id(second)))
    assert fault(victim.port, "LIST") == b"*1\r\n$8\r\nISOLATED\r\n"
    assert fault(victim.port, "HEAL") == b"+OK\r\n"
    cluster.wait_for_healthy(victim, timeout=DEADLINE)
    assert fault(victim.port, "LIST") == b"*0\r\n"


def test_drop_in_the_holder_stops_hearing_the_peer(cluster: ThreadedCluster) -> None:
    holder, peer, bystander = cluster.primaries
    assert fault(holder.port, "DROP", node_id(peer), "IN") == b"+OK\r\n"
    wait_until(lambda: suspects(holder.port, node_id(peer)))
    assert not suspects(bystander.port, node_id(peer))  # one node's suspicion only
    assert fault(holder.port, "HEAL") == b"+OK\r\n"
    wait_until(lambda: not suspects(holder.port, node_id(peer)))


def test_drop_out_the_peer_stops_hearing_the_holder(cluster: ThreadedCluster) -> None:
    holder, peer, bystander = cluster.primaries
    assert fault(holder.port, "DROP", node_id(peer), "OUT") == b"+OK\r\n"
    wait_until(lambda: suspects(peer.port, node_id(holder)))  # our PONGs never reach it
    assert not suspects(bystander.port, node_id(holder))
    assert fault(holder.port, "HEAL") == b"+OK\r\n"
    wait_until(lambda: not suspects(peer.port, node_id(holder)))


@pytest.fixture
def calm_cluster() -> Iterator[ThreadedCluster]:
    """node-timeout 5 s: a 1 s delay raises no suspicion and breaks no link."""
    with cluster_in_thread(3, 0, enable_test_commands=True) as started:
        yield started


def subscriber(port: int, channel: str) -> RawClient:
    client = RawClient(port)
    client.send_raw(f"*2\r\n$9\r\nSUBSCRIBE\r\n${len(channel)}\r\n{channel}\r\n".encode())
    client.read_reply()  # the subscribe confirmation
    return client


def nothing_yet(client: RawClient) -> bool:
    client.sock.settimeout(0.05)
    try:
        client.sock.recv(1)
    except TimeoutError:
        return True
    finally:
        client.sock.settimeout(DEADLINE)
    return False


@pytest.mark.parametrize("direction", ["IN", "OUT"])
def test_delay_holds_bus_packets_one_way_then_delivers(calm_cluster: ThreadedCluster, direction: str) -> None:
    """A PUBLISH crosses the bus: with DELAY on the holder, the one node behind the delayed
    direction gets it after a node that is not, and still gets it (a drop would lose it)."""
    holder, peer, bystander = calm_cluster.primaries
    # IN: packets from the peer to the holder are late; OUT: from the holder to the peer.
    publisher, late = (peer, holder) if direction == "IN" else (holder, peer)
    with subscriber(late.port, "news") as late_sub, subscriber(bystander.port, "news") as prompt_sub:
        assert fault(holder.port, "DELAY", node_id(peer), 1000, direction) == b"+OK\r\n"
        assert f"DELAY node={node_id(peer)} ms=1000 direction={direction}".encode() in fault(holder.port, "LIST")
        with RawClient(publisher.port) as client:
            client.raw("PUBLISH", "news", "hello")
        assert prompt_sub.read_reply()[0] == [b"message", b"news", b"hello"]
        assert nothing_yet(late_sub)
        assert late_sub.read_reply()[0] == [b"message", b"news", b"hello"]
    assert fault(holder.port, "HEAL") == b"+OK\r\n"
    bus = holder.cluster.bus  # type: ignore[union-attr]
    assert bus.receive_hook is None and bus.send_hook is None  # zero cost again


def test_heal_releases_held_packets_at_once(calm_cluster: ThreadedCluster) -> None:
    src, dst, bystander = calm_cluster.primaries
    with subscriber(dst.port, "news") as late_sub, subscriber(bystander.port, "news") as prompt_sub:
        calm_cluster.delay(src, dst, 600_000)  # ten minutes: only heal can deliver it in time
        with RawClient(src.port) as client:
            client.raw("PUBLISH", "news", "one")
            client.raw("PUBLISH", "news", "two")
        assert prompt_sub.read_reply()[0][2] == b"one" and prompt_sub.read_reply()[0][2] == b"two"
        assert nothing_yet(late_sub)
        calm_cluster.heal()
        assert late_sub.read_reply()[0][2] == b"one"  # in order
        assert late_sub.read_reply()[0][2] == b"two"


def test_slow_and_close_clients(cluster: ThreadedCluster) -> None:
    node = cluster.nodes[0]
    with RawClient(node.port) as other, RawClient(node.port) as caller:
        assert other.raw("PING") == b"+PONG\r\n"
        assert caller.raw("PYREDIS.FAULT", "SLOW", 400) == b"+OK\r\n"
        caller.send_raw(b"*1\r\n$4\r\nPING\r\n")
        caller.sock.settimeout(0.05)
        with pytest.raises(TimeoutError):  # not yet: the reply is held back
            caller.sock.recv(1)
        caller.sock.settimeout(DEADLINE)
        assert caller.read_reply()[1] == b"+PONG\r\n"
        assert caller.raw("PYREDIS.FAULT", "SLOW", 0) == b"+OK\r\n"
        assert caller.raw("PYREDIS.FAULT", "CLOSE-CLIENTS") == b":2\r\n"  # both, the caller after its reply
        assert other.is_closed() and caller.is_closed()
    with RawClient(node.port) as fresh:
        assert fresh.raw("PING") == b"+PONG\r\n"


BAD_ARGUMENTS = [
    ["DROP"], ["DROP", "0" * 40], ["DROP", "{peer}", "SIDEWAYS"], ["DROP", "{peer}", "IN", "extra"],
    ["DELAY", "{peer}"], ["DELAY", "{peer}", "0"], ["DELAY", "{peer}", "-5"], ["DELAY", "{peer}", "x"],
    ["PAUSE"], ["PAUSE", "0"], ["PAUSE", "ten"], ["SLOW", "-1"], ["KILL", "now"], ["HEAL", "x"],
    ["ISOLATE", "x"], ["CLOSE-CLIENTS", "x"], ["EXPLODE"],
]  # fmt: skip


def test_bad_arguments_are_refused_and_change_nothing(cluster: ThreadedCluster) -> None:
    node, peer = cluster.nodes[0], cluster.nodes[1]
    with RawClient(node.port) as client:
        for args in BAD_ARGUMENTS:
            reply = client.raw("PYREDIS.FAULT", *[a.replace("{peer}", node_id(peer)) for a in args])
            assert reply.startswith(b"-ERR ") and b"\n" not in reply[:-2], (args, reply)  # one line
            assert client.raw("PYREDIS.FAULT", "LIST") == b"*0\r\n", args
        assert client.raw("PING") == b"+PONG\r\n"
        assert client.raw("PYREDIS.FAULT", "DROP", "0" * 40) == b"-ERR Unknown node " + b"0" * 40 + b"\r\n"


def test_new_actions_refused_unless_enabled() -> None:
    with cluster_in_thread(1, 0) as cluster, RawClient(cluster.nodes[0].port) as client:
        for action in ("KILL", "ISOLATE", "HEAL"):
            assert client.raw("PYREDIS.FAULT", action).startswith(b"-ERR PYREDIS.FAULT is disabled")
        assert client.raw("PING") == b"+PONG\r\n"


def test_processes_partition_heal_and_kill() -> None:
    """Against ``python -m pyredis_cluster`` processes: a partition made of DROP rules by the
    client-side helper, healed, then KILL ends the process."""
    with cluster_nodes(ours=3, node_timeout=500, extra=("--enable-test-commands", "yes")) as nodes:
        assert create_cluster(nodes).returncode == 0
        wait_cluster_ok(nodes)
        lonely, first, second = nodes
        lonely_id = lonely.text("CLUSTER", "MYID")
        addresses = [("127.0.0.1", n.port) for n in nodes]
        partition_over_resp([addresses[0]], addresses[1:])
        wait(lambda: all("fail" in node_flags(n, lonely_id) for n in (first, second)), DEADLINE,
             "the majority side to flag the lonely node FAIL", nodes)  # fmt: skip
        heal_over_resp(addresses)
        wait_cluster_ok(nodes)
        with socket.create_connection(("127.0.0.1", lonely.port), timeout=DEADLINE) as sock:
            sock.sendall(b"*2\r\n$13\r\nPYREDIS.FAULT\r\n$4\r\nKILL\r\n")
            assert sock.recv(1) == b""  # closed without a reply
        assert lonely.process is not None
        assert lonely.process.wait(timeout=DEADLINE) == 1  # exited at once, unsaved, as a crash


def test_standalone_node_refuses_network_faults_but_pauses() -> None:
    with node_in_thread(enable_test_commands=True) as node, RawClient(node.port) as client:
        for args in (["ISOLATE"], ["DROP", "0" * 40], ["DELAY", "0" * 40, "10"]):
            assert client.raw("PYREDIS.FAULT", *args) == b"-ERR This instance has cluster support disabled\r\n"
        assert client.raw("PYREDIS.FAULT", "HEAL") == b"+OK\r\n"  # nothing to undo
        assert client.raw("PYREDIS.FAULT", "PAUSE", 1000) == b"+OK\r\n"
        client.send_raw(b"*1\r\n$4\r\nPING\r\n")
        assert nothing_yet(client)
        assert client.read_reply()[1] == b"+PONG\r\n"  # once the pause has ended by itself
        assert client.raw("PYREDIS.FAULT", "LIST") == b"*0\r\n"
