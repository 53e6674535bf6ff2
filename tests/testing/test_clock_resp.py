"""Step mode and the time scale over RESP: PYREDIS.CLOCK, as a teacher's redis-cli uses it.

Nodes are an ordinary in-process cluster (real sockets, wall clock) started with
``enable-test-commands yes``; every check goes through a RESP client, every wait has a
deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyredis_cluster.server import errors
from pyredis_cluster.testing import ThreadedCluster, cluster_in_thread
from pyredis_cluster.testing.faults import node_id
from tests import support
from tests.support import RawClient

NODE_TIMEOUT = 300
DEADLINE = 10.0
HELD_LINE = re.compile(rb"#(\d+) (PING|PONG|MEET|FAIL|PUBLISH|UPDATE) from ([0-9a-f]{40}) \(link \d+\)")


@pytest.fixture
def cluster() -> Iterator[ThreadedCluster]:
    with cluster_in_thread(3, 0, node_timeout=NODE_TIMEOUT, enable_test_commands=True) as started:
        yield started


def wait_until(predicate: Callable[[], Any]) -> Any:
    """Poll a check made from this thread (the nodes run on their own loop)."""
    return support.wait_until(predicate, timeout=DEADLINE, interval=0.005)


def show(client: RawClient) -> dict[bytes, Any]:
    reply = client.call("PYREDIS.CLOCK")
    return dict(zip(reply[::2], reply[1::2], strict=True))


def flags_of(observer_port: int, subject_id: str) -> set[str]:
    with RawClient(observer_port) as client:
        text = client.call("CLUSTER", "NODES").decode()
    line = next(line for line in text.splitlines() if line.startswith(subject_id))
    return set(line.split()[2].split(","))


def test_freeze_holds_messages_step_delivers_the_oldest_advance_runs_ticks(cluster: ThreadedCluster) -> None:
    node = cluster.nodes[0]
    peer_ids = {node_id(peer).encode() for peer in cluster.nodes[1:]}
    with RawClient(node.port) as client:
        state = show(client)
        assert state[b"mode"] == b"running" and state[b"scale"] == b"1" and state[b"held"] == 0
        assert abs(state[b"protocol-time-ms"] - time.time() * 1000) < 5000  # scale 1: wall time

        assert client.call("PYREDIS.CLOCK", "FREEZE") == "OK"
        frozen_at = show(client)[b"protocol-time-ms"]
        # The peers keep pinging; nothing reaches the core: the messages wait, in order.
        pending = wait_until(lambda: len(lines := client.call("PYREDIS.CLOCK", "PENDING")) >= 2 and lines)
        parsed = [HELD_LINE.fullmatch(line) for line in pending]
        assert all(parsed), pending
        assert [int(match.group(1)) for match in parsed] == sorted(int(match.group(1)) for match in parsed)
        assert {match.group(3) for match in parsed} <= peer_ids

        received_before = cluster_info(client)["cluster_stats_messages_received"]
        assert client.call("PYREDIS.CLOCK", "STEP") == pending[0]
        assert client.call("PYREDIS.CLOCK", "PENDING")[: len(pending) - 1] == pending[1:]
        assert cluster_info(client)["cluster_stats_messages_received"] == received_before + 1

        # Wall time went by (all those round trips), protocol time did not.
        assert show(client)[b"protocol-time-ms"] == frozen_at
        pings_before = cluster_info(client)["cluster_stats_messages_ping_sent"]
        assert client.call("PYREDIS.CLOCK", "ADVANCE", "1000") == 10  # one tick per 100 ms
        assert show(client)[b"protocol-time-ms"] == frozen_at + 1000
        assert cluster_info(client)["cluster_stats_messages_ping_sent"] > pings_before  # the ticks pinged
        assert client.call("PYREDIS.CLOCK", "ADVANCE", "50") == 0  # no tick falls due in 50 ms

        held = show(client)[b"held"]
        assert client.call("PYREDIS.CLOCK", "RESUME") >= held  # all handed over
        state = show(client)
        assert state[b"mode"] == b"running" and state[b"held"] == 0
        assert state[b"protocol-time-ms"] >= frozen_at + 1050  # continues from the frozen time


def test_a_frozen_node_stops_answering_and_is_flagged_then_recovers(cluster: ThreadedCluster) -> None:
    frozen, observer = cluster.nodes[0], cluster.nodes[1]
    with RawClient(frozen.port) as client:
        client.call("PYREDIS.CLOCK", "FREEZE")
        wait_until(lambda: "fail?" in flags_of(observer.port, node_id(frozen)) or
                   "fail" in flags_of(observer.port, node_id(frozen)))  # fmt: skip
        client.call("PYREDIS.CLOCK", "RESUME")
    wait_until(lambda: flags_of(observer.port, node_id(frozen)) == {"master"})


def test_scale_sets_the_option_and_config_set_scales_the_clock(cluster: ThreadedCluster) -> None:
    with RawClient(cluster.nodes[0].port) as client:
        assert client.call("PYREDIS.CLOCK", "SCALE", "10") == "OK"
        assert client.call("CONFIG", "GET", "cluster-time-scale") == [b"cluster-time-scale", b"10"]
        assert show(client)[b"scale"] == b"10"
        assert client.call("CONFIG", "SET", "cluster-time-scale", "0.5") == "OK"
        assert show(client)[b"scale"] == b"0.5"
        assert b"cluster-time-scale" not in client.call("CONFIG", "GET", "*")  # Redis's list stays Redis's
        before = show(client)[b"protocol-time-ms"]
        assert show(client)[b"protocol-time-ms"] >= before  # re-based, never backwards
        reply = client.call("CONFIG", "SET", "cluster-time-scale", "0")
        assert isinstance(reply, str) and reply.startswith("ERR") and "cluster-time-scale" in reply


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["ADVANCE", "100"], errors.CLOCK_NOT_FROZEN),
        (["STEP"], errors.CLOCK_NOT_FROZEN),
        (["SCALE", "fast"], errors.CLOCK_BAD_SCALE.format("argument couldn't be parsed into a number")),
        (["SCALE", "0"], errors.CLOCK_BAD_SCALE.format("argument must be between 0.001 and 1000 inclusive")),
        (["FREEZE", "now"], errors.CLOCK_SYNTAX),
        (["SCALE"], errors.CLOCK_SYNTAX),
        (["REWIND"], errors.CLOCK_UNKNOWN_ACTION.format("REWIND")),
    ],
)
def test_bad_input_gets_a_clear_error(cluster: ThreadedCluster, args: list[str], error: str) -> None:
    with RawClient(cluster.nodes[0].port) as client:
        assert client.call("PYREDIS.CLOCK", *args) == error
        assert client.call("PING") == "PONG"


@pytest.mark.parametrize("ms", ["-1", "abc", "3600001"])
def test_advance_takes_a_bounded_number_of_milliseconds(cluster: ThreadedCluster, ms: str) -> None:
    with RawClient(cluster.nodes[0].port) as client:
        client.call("PYREDIS.CLOCK", "FREEZE")
        assert client.call("PYREDIS.CLOCK", "ADVANCE", ms) == errors.CLOCK_BAD_ADVANCE.format(3600000)
        client.call("PYREDIS.CLOCK", "RESUME")


def test_refused_unless_test_commands_are_enabled() -> None:
    with cluster_in_thread(3, 0) as plain, RawClient(plain.nodes[0].port) as client:
        assert client.call("PYREDIS.CLOCK", "FREEZE") == errors.CLOCK_TEST_COMMANDS_DISABLED
        assert show_mode_via_config(client) == [b"cluster-time-scale", b"1"]


def show_mode_via_config(client: RawClient) -> Any:
    return client.call("CONFIG", "GET", "cluster-time-scale")


def cluster_info(client: RawClient) -> dict[str, int]:
    text = client.call("CLUSTER", "INFO").decode()
    return {key: int(value) for key, value in (line.split(":", 1) for line in text.splitlines() if ":" in line)
            if value.strip().lstrip("-").isdigit()}  # fmt: skip
