"""Cluster replies byte for byte against a real single-node redis-server 7.0 cluster.

Both nodes start fresh (cluster-enabled yes, no peers). The same scripts run on both,
in RESP2 and RESP3, and the raw reply bytes must be equal once what legitimately
differs is masked with placeholders of the same length (so bulk lengths still
compare): each node's own id, port and bus port, and 13-digit millisecond times.
``{myid}`` in a script stands for the node's own id.

Covered: fresh-node CLUSTER INFO/NODES/SLOTS/SHARDS/LINKS/MYID, INFO cluster, every
CLUSTER error of client-contract.md §2.7 that a single node can produce, the routing
errors a single node can produce (CROSSSLOT, CLUSTERDOWN unbound / down), SELECT and
the other db rules, and the replies once the node owns every slot.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Sequence

import pytest

from pyredis_cluster.cluster.slots import key_hash_slot
from tests.cluster_procs import ClusterProc, cluster_nodes, new_node, wait
from tests.support import RawClient, encode_command

UNKNOWN_ID = "0123456789abcdef0123456789abcdef01234567"
SLOT0_KEY = next(k for k in (f"k{i}" for i in range(100_000)) if key_hash_slot(k.encode()) == 0)
SLOT5_KEY = next(k for k in (f"k{i}" for i in range(100_000)) if key_hash_slot(k.encode()) == 5)

Script = Sequence[Sequence[str | int]]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ClusterProc, ClusterProc]]:
    """(ours, real): two fresh single-node clusters with ports of the same length."""
    with cluster_nodes(ours=1, real=1) as (ours, real):
        assert len(str(ours.port)) == len(str(real.port)), "ports of different lengths cannot be masked"
        yield ours, real


class Masked:
    """Runs a script on one node and masks its identity in the reply bytes."""

    def __init__(self, node: ClusterProc) -> None:
        self.node = node
        self.myid = node.myid()

    def mask(self, data: bytes) -> bytes:
        data = data.replace(self.myid.encode(), b"I" * 40)
        data = re.sub(rb"(?<!\d)%d(?!\d)" % (self.node.port + 10000), b"C" * len(str(self.node.port + 10000)), data)
        data = re.sub(rb"(?<!\d)%d(?!\d)" % self.node.port, b"P" * len(str(self.node.port)), data)
        return re.sub(rb"(?<!\d)\d{13}(?!\d)", b"T" * 13, data)

    def run(self, script: Script, resp: int) -> list[bytes]:
        with RawClient(self.node.port) as conn:
            conn.raw("HELLO", resp)
            replies = []
            for command in script:
                words = [str(w).replace("{myid}", self.myid) for w in command]
                replies.append(self.mask(conn.raw(*words)))
            return replies


def assert_same_bytes(pair: tuple[ClusterProc, ClusterProc], script: Script, resps: Sequence[int] = (2, 3)) -> None:
    ours, real = Masked(pair[0]), Masked(pair[1])
    problems = []
    for resp in resps:
        for command, mine, theirs in zip(script, ours.run(script, resp), real.run(script, resp)):
            if mine != theirs:
                problems.append(f"RESP{resp} {' '.join(map(str, command))}:\n  ours={mine!r}\n  real={theirs!r}")
    assert not problems, "replies differ from redis-server:\n" + "\n".join(problems)


def _state(node: ClusterProc) -> str:
    return node.cluster_info()["cluster_state"]


# Order matters: the first test sees both nodes fresh, later ones add slots.


def test_fresh_node_replies(pair: tuple[ClusterProc, ClusterProc]) -> None:
    assert_same_bytes(pair, [
        ["CLUSTER", "INFO"], ["CLUSTER", "NODES"], ["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"],
        ["CLUSTER", "LINKS"], ["CLUSTER", "MYID"], ["INFO", "cluster"], ["CLUSTER", "KEYSLOT", "foo"],
        ["CLUSTER", "KEYSLOT", "{user1000}.following"], ["CLUSTER", "KEYSLOT", ""],
        ["CLUSTER", "COUNTKEYSINSLOT", "0"], ["CLUSTER", "GETKEYSINSLOT", "0", "10"],
        ["CLUSTER", "COUNT-FAILURE-REPORTS", "{myid}"], ["CLUSTER", "REPLICAS", "{myid}"],
        ["CLUSTER", "SLAVES", "{myid}"],
        ["GET", "foo"], ["SET", "foo", "bar"], ["MGET", "foo", "c"], ["PING"], ["DBSIZE"],
        ["READONLY"], ["READWRITE"], ["ASKING"], ["SELECT", "0"], ["SELECT", "1"], ["SWAPDB", "0", "1"],
        ["MOVE", "foo", "1"],
    ])  # fmt: skip


def test_argument_errors(pair: tuple[ClusterProc, ClusterProc]) -> None:
    assert_same_bytes(pair, [
        ["CLUSTER"], ["CLUSTER", "FOO"], ["CLUSTER", "nodes", "extra"], ["CLUSTER", "KEYSLOT"],
        ["CLUSTER", "COUNTKEYSINSLOT", "16384"], ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        ["CLUSTER", "COUNTKEYSINSLOT", "x"], ["CLUSTER", "GETKEYSINSLOT", "0", "-1"],
        ["CLUSTER", "GETKEYSINSLOT", "16384", "1"], ["CLUSTER", "GETKEYSINSLOT", "x", "1"],
        ["CLUSTER", "GETKEYSINSLOT", "0", "x"],
        ["CLUSTER", "ADDSLOTS", "x"], ["CLUSTER", "ADDSLOTS", "-1"], ["CLUSTER", "ADDSLOTS", "16384"],
        ["CLUSTER", "ADDSLOTS", "1", "1"], ["CLUSTER", "DELSLOTS", "7"], ["CLUSTER", "DELSLOTS", "x"],
        ["CLUSTER", "ADDSLOTSRANGE", "5", "3"], ["CLUSTER", "ADDSLOTSRANGE", "1"],
        ["CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"], ["CLUSTER", "ADDSLOTSRANGE", "0", "16384"],
        ["CLUSTER", "DELSLOTSRANGE", "8", "9"], ["CLUSTER", "DELSLOTSRANGE", "9", "8"],
        ["CLUSTER", "SETSLOT", "1", "migrating", UNKNOWN_ID], ["CLUSTER", "SETSLOT", "1", "foo"],
        ["CLUSTER", "SETSLOT", "1", "stable", "extra"], ["CLUSTER", "SETSLOT", "x", "stable"],
        ["CLUSTER", "SETSLOT", "1", "node", UNKNOWN_ID], ["CLUSTER", "SETSLOT", "1", "importing", UNKNOWN_ID],
        ["CLUSTER", "SETSLOT", "1", "node"],
        ["CLUSTER", "FORGET", UNKNOWN_ID], ["CLUSTER", "FORGET", "{myid}"], ["CLUSTER", "FORGET", "short"],
        ["CLUSTER", "REPLICATE", "{myid}"], ["CLUSTER", "REPLICATE", UNKNOWN_ID],
        ["CLUSTER", "REPLICAS", UNKNOWN_ID], ["CLUSTER", "COUNT-FAILURE-REPORTS", UNKNOWN_ID],
        ["CLUSTER", "FAILOVER"], ["CLUSTER", "FAILOVER", "FORCE"], ["CLUSTER", "FAILOVER", "foo"],
        ["CLUSTER", "FAILOVER", "force", "extra"],
        ["CLUSTER", "SET-CONFIG-EPOCH", "-1"], ["CLUSTER", "SET-CONFIG-EPOCH", "x"],
        ["CLUSTER", "RESET", "foo"], ["CLUSTER", "RESET", "soft", "extra"],
        ["CLUSTER", "MEET", "127.0.0.1", "x"], ["CLUSTER", "MEET", "127.0.0.1", "1", "x"],
        ["CLUSTER", "MEET", "notanip", "31001"], ["CLUSTER", "MEET", "127.0.0.1"],
        ["CLUSTER", "MEET", "127.0.0.1", "1", "2", "3"],
    ], resps=(2,))  # fmt: skip


def test_slot_ownership_errors_and_replies(pair: tuple[ClusterProc, ClusterProc]) -> None:
    """A node owning slot 0 alone: busy slots, the setslot rules, and the cluster down."""
    assert_same_bytes(pair, [
        ["CLUSTER", "ADDSLOTS", "0"], ["CLUSTER", "ADDSLOTS", "0"], ["CLUSTER", "ADDSLOTSRANGE", "0", "2"],
        ["CLUSTER", "SETSLOT", "0", "importing", UNKNOWN_ID], ["CLUSTER", "SETSLOT", "0", "migrating", UNKNOWN_ID],
        ["CLUSTER", "SETSLOT", "0", "stable"], ["CLUSTER", "SETSLOT", "0", "node", "{myid}"],
        ["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"], ["CLUSTER", "NODES"],
        # State fail: unassigned slot first (UNBOUND), then an owned slot (DOWN).
        ["GET", SLOT5_KEY], ["GET", SLOT0_KEY], ["SET", SLOT0_KEY, "v"], ["MGET", SLOT0_KEY, SLOT5_KEY],
        ["CLUSTER", "SET-CONFIG-EPOCH", "5"], ["CLUSTER", "SET-CONFIG-EPOCH", "6"], ["CLUSTER", "BUMPEPOCH"],
        ["CLUSTER", "ADDSLOTSRANGE", "10", "12", "20", "20"], ["CLUSTER", "DELSLOTSRANGE", "10", "11"],
        ["CLUSTER", "DELSLOTS", "12", "20"], ["CLUSTER", "NODES"], ["CLUSTER", "SLOTS"],
        ["CLUSTER", "COUNTKEYSINSLOT", "0"],
    ], resps=(2,))  # fmt: skip
    assert_same_bytes(pair, [["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"], ["CLUSTER", "NODES"]], resps=(3,))


def test_full_coverage_replies(pair: tuple[ClusterProc, ClusterProc]) -> None:
    for node in pair:
        node.call("CLUSTER", "ADDSLOTSRANGE", "1", "16383")
    wait(lambda: all(_state(n) == "ok" for n in pair), what="cluster_state:ok on both single-node clusters",
         nodes=pair)  # fmt: skip
    assert_same_bytes(pair, [
        ["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"], ["CLUSTER", "NODES"],
        ["SET", SLOT0_KEY, "1"], ["SET", "{%s}b" % SLOT0_KEY, "2"], ["SET", "{%s}c" % SLOT0_KEY, "3"],
        ["CLUSTER", "COUNTKEYSINSLOT", "0"], ["CLUSTER", "GETKEYSINSLOT", "0", "2"],
        ["CLUSTER", "GETKEYSINSLOT", "0", "0"], ["CLUSTER", "GETKEYSINSLOT", "1", "5"],
        ["MGET", "foo", "c"], ["MGET", "foo", "foo"], ["MSET", "{t}a", "1", "{t}b", "2"], ["MSET", "a", "1", "b", "2"],
        ["MULTI"], ["SET", "{t}a", "3"], ["SET", "c", "4"], ["EXEC"], ["GET", "{t}a"],
        ["MULTI"], ["MGET", "a", "b"], ["EXEC"],
        # Only db 0 in cluster mode.
        ["MOVE", SLOT0_KEY, "1"], ["COPY", SLOT0_KEY, "{%s}d" % SLOT0_KEY, "DB", "1"],
        ["COPY", SLOT0_KEY, "{%s}d" % SLOT0_KEY], ["SWAPDB", "0", "1"], ["SELECT", "1"], ["SELECT", "0"],
        ["DBSIZE"], ["INFO", "keyspace"], ["DEL", "{%s}d" % SLOT0_KEY],
        ["CLUSTER", "RESET", "soft"], ["CLUSTER", "FLUSHSLOTS"],
        ["DEL", SLOT0_KEY, "{%s}b" % SLOT0_KEY, "{%s}c" % SLOT0_KEY, "{t}a", "{t}b", "c"],
        ["DEL", SLOT0_KEY, "{%s}b" % SLOT0_KEY, "{%s}c" % SLOT0_KEY], ["DEL", "{t}a", "{t}b"],
        ["CLUSTER", "FLUSHSLOTS"], ["CLUSTER", "SLOTS"], ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"],
        ["CLUSTER", "SET-CONFIG-EPOCH", "7"],
    ], resps=(2,))  # fmt: skip
    assert_same_bytes(pair, [["CLUSTER", "SLOTS"], ["CLUSTER", "SHARDS"], ["CLUSTER", "NODES"]], resps=(3,))


def test_debug_cluster_hooks(pair: tuple[ClusterProc, ClusterProc]) -> None:
    assert_same_bytes(pair, [
        ["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x"], ["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "1", "2"],
        ["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "1"], ["DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1"],
        ["DEBUG", "CLUSTERLINK", "KILL", "to", UNKNOWN_ID], ["DEBUG", "CLUSTERLINK", "KILL", "all"],
        ["DEBUG", "CLUSTERLINK", "foo", "all", UNKNOWN_ID], ["DEBUG", "CLUSTERLINK", "KILL", "foo", "short"],
        ["DEBUG", "PAUSE-CRON", "x"], ["DEBUG", "PAUSE-CRON", "0"], ["DEBUG", "PAUSE-CRON"],
        # 7.0 answers an unknown direction twice (the error, then +OK): the PING's reply
        # read here is that +OK on both.
        ["DEBUG", "CLUSTERLINK", "KILL", "foo", "{myid}"], ["PING"],
    ], resps=(2,))  # fmt: skip


def _blocked_clients(node: ClusterProc) -> int:
    return int(re.search(r"blocked_clients:(\d+)", node.text("INFO", "clients")).group(1))  # type: ignore[union-attr]


def test_blocked_client_is_unblocked_when_its_slot_goes(pair: tuple[ClusterProc, ClusterProc]) -> None:
    """A BLPOP whose slot is taken away gets the redirection from the cron, as in 7.0."""
    wait(lambda: all(_state(n) == "ok" for n in pair), what="cluster_state:ok", nodes=pair)
    replies = []
    for node in pair:
        with RawClient(node.port) as blocked:
            blocked.send_raw(encode_command(["BLPOP", "{%s}queue" % SLOT0_KEY, "0"]))
            wait(lambda n=node: _blocked_clients(n) == 1, what="the client to block", nodes=[node])
            assert node.call("CLUSTER", "DELSLOTS", "0") == "OK"
            replies.append(blocked.read_reply()[1])
        assert node.call("CLUSTER", "ADDSLOTS", "0") == "OK"
    assert replies[0] == replies[1], replies
    assert replies[1].startswith(b"-CLUSTERDOWN")
    wait(lambda: all(_state(n) == "ok" for n in pair), what="cluster_state:ok again", nodes=pair)


def test_corrupt_nodes_conf_stops_start_up_like_redis() -> None:
    corrupt = "garbage line here\nvars currentEpoch 0 lastVoteEpoch 0\n"
    results = {}
    for kind in ("ours", "real"):
        node = new_node(kind)
        try:
            path = os.path.join(node.directory, "nodes.conf")
            with open(path, "w") as handle:
                handle.write(corrupt)
            node.start()
            assert node.process is not None
            results[kind] = node.process.wait(timeout=60)
            with open(path) as handle:
                assert handle.read() == corrupt  # never overwritten
            assert "Unrecoverable error: corrupted cluster config file" in node.log_tail()
        finally:
            node.stop()
            shutil.rmtree(node.directory, ignore_errors=True)
    assert results == {"ours": 1, "real": 1}
