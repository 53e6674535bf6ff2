"""Faults on demand (pyredis_cluster/testing/faults.py), checked from the outside.

Failure detection is observed the way an operator sees it, in CLUSTER NODES over
RESP, and every wait has a deadline. node-timeout is short (300 ms) so a FAIL takes
well under a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.testing import ThreadedCluster, cluster_in_thread
from pyredis_cluster.testing.faults import FaultTimeout, node_id
from tests import support
from tests.support import RawClient, refuses_connections

NODE_TIMEOUT = 300
DEADLINE = 5.0


@pytest.fixture
def cluster() -> Iterator[ThreadedCluster]:
    # Primaries only: with replicas a cut primary would be failed over, which is
    # another story (and FAIL on a primary that keeps its slots is what we look at).
    with cluster_in_thread(3, 0, node_timeout=NODE_TIMEOUT, enable_test_commands=True) as started:
        yield started


def flags_in_cluster_nodes(observer_port: int, subject_id: str) -> set[str]:
    with RawClient(observer_port) as client:
        text = client.call("CLUSTER", "NODES")
    for line in (text.decode() if isinstance(text, bytes) else text).splitlines():
        fields = line.split()
        if fields[0] == subject_id:
            return set(fields[2].split(","))
    raise AssertionError(f"{subject_id} not in CLUSTER NODES of {observer_port}")


def wait_until(predicate: Callable[[], Any]) -> Any:
    """Poll a check made from this thread (the nodes run on their own loop)."""
    return support.wait_until(predicate, timeout=DEADLINE, interval=0.005)


def test_kill_closes_both_ports_and_the_others_flag_fail(cluster: ThreadedCluster) -> None:
    victim, *others = cluster.primaries
    victim_id = node_id(victim)
    bus_port = victim.cluster.bus.port  # type: ignore[union-attr]
    with RawClient(victim.port) as connected:
        cluster.kill(victim)
        assert connected.is_closed()
    assert refuses_connections(victim.port) and refuses_connections(bus_port)
    cluster.wait_for_fail(victim, timeout=DEADLINE)
    for other in others:
        assert "fail" in flags_in_cluster_nodes(other.port, victim_id)


def test_isolate_then_heal_clears_fail(cluster: ThreadedCluster) -> None:
    victim, first, second = cluster.primaries
    cluster.isolate(victim)
    cluster.wait_for_fail(victim, timeout=DEADLINE)
    assert "fail" in flags_in_cluster_nodes(first.port, node_id(victim))
    # The isolated node cannot reach a majority: it suspects the others but cannot fail them.
    wait_until(lambda: all("fail?" in flags_in_cluster_nodes(victim.port, node_id(n)) for n in (first, second)))
    with RawClient(victim.port) as client:  # clients still reach it: only the bus is cut
        assert client.raw("PING") == b"+PONG\r\n"
    cluster.heal()
    bus = victim.cluster.bus  # type: ignore[union-attr]
    assert bus.receive_hook is None and bus.send_hook is None  # zero cost again
    cluster.wait_for_healthy(victim, timeout=DEADLINE)
    for other in (first, second):
        assert flags_in_cluster_nodes(other.port, node_id(victim)) == {"master"}


def test_partition_minority_fails_majority_does_not(cluster: ThreadedCluster) -> None:
    lonely, first, second = cluster.primaries
    cluster.partition([lonely], [first, second])
    cluster.wait_for_fail(lonely, timeout=DEADLINE)
    # The majority side keeps seeing itself as healthy.
    assert not {"fail", "fail?"} & flags_in_cluster_nodes(first.port, node_id(second))
    assert not {"fail", "fail?"} & flags_in_cluster_nodes(second.port, node_id(first))
    cluster.heal()
    cluster.wait_for_healthy(lonely, timeout=DEADLINE)


def test_one_way_drop_is_seen_by_the_receiver_only(cluster: ThreadedCluster) -> None:
    src, dst, bystander = cluster.primaries
    cluster.drop(src, dst)
    wait_until(lambda: "fail?" in flags_in_cluster_nodes(dst.port, node_id(src)))
    # One node's suspicion is not a majority: the bystander still hears both.
    assert not {"fail", "fail?"} & flags_in_cluster_nodes(bystander.port, node_id(src))
    cluster.heal()
    wait_until(lambda: flags_in_cluster_nodes(dst.port, node_id(src)) == {"master"})


def test_pause_holds_requests_and_resume_serves_them_in_order(cluster: ThreadedCluster) -> None:
    victim = cluster.primaries[0]
    with RawClient(victim.port) as before:
        cluster.pause(victim)
        before.send_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
        with RawClient(victim.port) as during:  # a connection opened during the pause
            during.send_raw(b"*1\r\n$4\r\nPING\r\n")
            cluster.wait_for_fail(victim, timeout=DEADLINE)  # the others stopped hearing it
            before.sock.settimeout(0.05)
            with pytest.raises(TimeoutError):  # still nothing answered, long after the request
                before.sock.recv(1)
            before.sock.settimeout(DEADLINE)
            cluster.resume(victim)
            assert during.read_reply()[1] == b"+PONG\r\n"
        assert before.read_reply()[1] == b"+PONG\r\n"
        assert before.read_reply()[1] == b"$2\r\nhi\r\n"
    cluster.wait_for_healthy(victim, timeout=DEADLINE)


# -- scripted replies ------------------------------------------------------------------------


def test_scripted_moved_for_n_requests_then_normal(cluster: ThreadedCluster) -> None:
    owner = cluster.node_for_slot(key_hash_slot(b"foo"))
    other = next(n for n in cluster.nodes if n is not owner)
    rule = cluster.script_reply(owner, "MOVED", key="foo", times=2, target=other)
    with RawClient(owner.port) as client:
        expected = f"-MOVED {key_hash_slot(b'foo')} 127.0.0.1:{other.port}\r\n".encode()
        assert client.raw("GET", "foo") == expected
        assert client.raw("GET", "bar{foo}") == b"$-1\r\n"  # another key of the slot: not scripted
        assert client.raw("SET", "foo", "1") == expected
        assert client.raw("GET", "foo") == b"$-1\r\n"  # two times only: the SET did not run
    assert rule.hits == 2 and owner.scripted_replies is not None and not owner.scripted_replies


@pytest.mark.parametrize(
    ("kind", "text"),
    [  # Redis 7.0's texts (server.c shared objects, cluster.c)
        ("TRYAGAIN", b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"),
        ("CLUSTERDOWN", b"-CLUSTERDOWN The cluster is down\r\n"),
        ("LOADING", b"-LOADING Redis is loading the dataset in memory\r\n"),
        ("BUSY", b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"),
        ("READONLY", b"-READONLY You can't write against a read only replica.\r\n"),
    ],
)
def test_scripted_fixed_errors_by_command_until_cleared(cluster: ThreadedCluster, kind: str, text: bytes) -> None:
    node = cluster.nodes[0]
    cluster.script_reply(node, kind, command="ping", times=None)
    with RawClient(node.port) as client:
        assert client.raw("PING") == text
        assert client.raw("PING") == text
        assert client.raw("ECHO", "x") == b"$1\r\nx\r\n"
        assert cluster.clear_scripted_replies(node) == 1
        assert client.raw("PING") == b"+PONG\r\n"


def test_scripted_by_slot_ask_and_drop(cluster: ThreadedCluster) -> None:
    slot = key_hash_slot(b"k")
    owner = cluster.node_for_slot(slot)
    cluster.script_reply(owner, "ASK", slot=slot, target="10.0.0.9:7001")
    cluster.script_reply(owner, "DROP", key=b"k")
    with RawClient(owner.port) as client:
        assert client.raw("SET", "other{k}", "v") == f"-ASK {slot} 10.0.0.9:7001\r\n".encode()
        client.send_raw(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        assert client.is_closed()  # no reply at all, the connection is gone
    with RawClient(owner.port) as client:
        assert client.raw("GET", "k") == b"$-1\r\n"


def test_scripted_error_inside_multi_aborts_exec_like_a_redirect(cluster: ThreadedCluster) -> None:
    owner = cluster.node_for_slot(key_hash_slot(b"foo"))
    cluster.script_reply(owner, "TRYAGAIN", key="foo")
    with RawClient(owner.port) as client:
        assert client.raw("MULTI") == b"+OK\r\n"
        assert client.raw("SET", "foo", "1").startswith(b"-TRYAGAIN")
        assert client.raw("EXEC").startswith(b"-EXECABORT")


def test_fault_command_scripts_the_same_table(cluster: ThreadedCluster) -> None:
    owner = cluster.node_for_slot(key_hash_slot(b"foo"))
    slot = key_hash_slot(b"foo")
    with RawClient(owner.port) as client:
        assert client.raw("PYREDIS.FAULT", "REPLY", "moved", "KEY", "foo", "TARGET", "127.0.0.1:1") == b"+OK\r\n"
        assert client.call("PYREDIS.FAULT", "LIST") == [b"MOVED key=foo target=127.0.0.1:1 times=1 hits=0"]
        assert client.raw("GET", "foo") == f"-MOVED {slot} 127.0.0.1:1\r\n".encode()
        assert client.raw("PYREDIS.FAULT", "REPLY", "LOADING", "TIMES", "0") == b"+OK\r\n"
        assert client.raw("GET", "foo").startswith(b"-LOADING")
        assert client.raw("PYREDIS.FAULT", "CLEAR") == b":1\r\n"
        assert client.raw("GET", "foo") == b"$-1\r\n"
        for bad in (["REPLY"], ["REPLY", "NOPE"], ["REPLY", "MOVED"], ["REPLY", "ASK", "KEY"],
                    ["REPLY", "BUSY", "TIMES", "x"], ["REPLY", "BUSY", "COLOR", "red"], ["EXPLODE"], []):  # fmt: skip
            assert client.raw("PYREDIS.FAULT", *bad).startswith(b"-ERR "), bad
        assert client.raw("PING") == b"+PONG\r\n"  # nothing was scripted by the bad calls


def test_fault_command_refused_unless_enabled() -> None:
    with cluster_in_thread(1, 0) as cluster, RawClient(cluster.nodes[0].port) as client:
        reply = client.raw("PYREDIS.FAULT", "CLEAR")
        assert reply.startswith(b"-ERR PYREDIS.FAULT is disabled") and b"enable-test-commands yes" in reply
        # A running node cannot be switched to expose it, and CONFIG GET * does not list it.
        assert client.raw("CONFIG", "SET", "enable-test-commands", "yes").startswith(b"-ERR ")
        assert b"enable-test-commands" not in client.raw("CONFIG", "GET", "*")
        assert client.call("CONFIG", "GET", "enable-test-commands") == [b"enable-test-commands", b"no"]


def test_wait_for_fail_times_out_with_a_clear_message(cluster: ThreadedCluster) -> None:
    with pytest.raises(FaultTimeout, match=r"is FAIL for"):
        cluster.wait_for_fail(cluster.nodes[0], timeout=0.05)


# -- client connections ----------------------------------------------------------------------


def test_slow_delays_replies_in_order_then_undone(cluster: ThreadedCluster) -> None:
    node = cluster.nodes[0]
    delay = 0.3
    with RawClient(node.port) as before:
        cluster.slow(node, delay)
        with RawClient(node.port) as after:  # opened while slowed: slowed too
            for client in (before, after):
                started = time.monotonic()
                client.send_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
                assert client.read_reply()[1] == b"+PONG\r\n"
                assert time.monotonic() - started >= delay  # never sooner than the delay
                assert client.read_reply()[1] == b"$2\r\nhi\r\n"
            cluster.slow(node, 0)
            before.sock.settimeout(delay * 0.8)  # undone: answered within the old delay
            assert before.raw("PING") == b"+PONG\r\n"
    assert "new_client" not in vars(node)  # no hook left behind


def test_close_clients_closes_every_connection(cluster: ThreadedCluster) -> None:
    node = cluster.nodes[0]
    with RawClient(node.port) as first, RawClient(node.port) as second:
        assert first.raw("PING") == b"+PONG\r\n" and second.raw("PING") == b"+PONG\r\n"
        assert cluster.close_clients(node) == 2
        assert first.is_closed() and second.is_closed()
    with RawClient(node.port) as fresh:  # the node itself is fine
        assert fresh.raw("PING") == b"+PONG\r\n"


# -- network faults, unit level ------------------------------------------------------------------


class FakeBus:
    """What BusFaults touches on a ClusterBus: links, the core's link table, the hooks."""

    def __init__(self) -> None:
        self.links = {1: object(), 2: object()}
        self.paused = False
        self.receive_hook = self.send_hook = None
        self.received: list[tuple[int, object]] = []
        self.written: list[tuple[int, bytes]] = []
        peers = {1: "peer-a", 2: "peer-b"}

        class Link:
            def __init__(self, name: str) -> None:
                self.node = type("Node", (), {"name": name})()

        class State:
            def link(self, link_id: int) -> Link:
                return Link(peers[link_id])

        self.state = State()

    def receive(self, link_id: int, message: object) -> None:
        self.received.append((link_id, message))

    def write_now(self, link_id: int, data: bytes) -> None:
        self.written.append((link_id, data))


def message_from(sender: str) -> object:
    return type("Message", (), {"header": type("Header", (), {"sender": sender})()})()


async def test_bus_faults_hold_in_order_drop_one_way_and_heal() -> None:
    from pyredis_cluster.testing.faults import BusFaults, Direction

    bus = FakeBus()
    faults = BusFaults(bus)  # type: ignore[arg-type]
    assert bus.receive_hook == faults.on_receive and bus.send_hook == faults.on_send
    faults.delay("peer-a", 60.0, Direction.OUT)
    assert faults.on_send(1, b"first")  # held
    faults.delay("peer-a", 0.0, Direction.OUT)  # shorter now: a later packet still waits its turn
    assert faults.on_send(1, b"second")
    assert not faults.on_send(2, b"to b")  # another peer: not touched
    faults.drop("peer-b", Direction.IN)
    assert faults.on_receive(2, message_from("peer-b"))  # dropped: never handed back
    assert not faults.on_receive(1, message_from("peer-a"))  # IN from a is not delayed
    assert bus.written == []
    faults.clear()  # heal: what is held goes out now, in order
    assert bus.written == [(1, b"first"), (1, b"second")]
    assert bus.received == [] and faults.idle
    faults.uninstall()
    assert bus.receive_hook is None and bus.send_hook is None
