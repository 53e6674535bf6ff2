"""A mixed cluster: three real redis-server 7.0 nodes and three of ours, one bus.

``redis-cli --cluster create`` makes the six into one cluster of six primaries (our
node does not replicate data yet, so no replicas). The real nodes are the judges: they
must accept our bus packets (handshake, gossip, failure reports, PUBLISH) and we must
accept theirs, so that:

* every node, real or ours, ends with the same topology and ``--cluster check`` passes
  from either kind of node;
* PUBLISH crosses the bus in both directions;
* a stopped (SIGSTOP) node of ours is flagged FAIL by the real nodes and a stopped real
  node by ours. Six primaries need four failure reports, so neither side gets there
  without the other's reports. Both flags clear after SIGCONT.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.protocol.encoder import ErrorReply
from tests.cluster_procs import (
    ClusterProc,
    cluster_nodes,
    create_cluster,
    node_flags,
    redis_cli,
    wait,
    wait_cluster_ok,
    wait_converged,
)
from tests.support import RawClient, encode_command

NODE_TIMEOUT_MS = 2000


@pytest.fixture(scope="module")
def mixed() -> Iterator[list[ClusterProc]]:
    with cluster_nodes(ours=3, real=3, node_timeout=NODE_TIMEOUT_MS) as nodes:
        ours, real = nodes[:3], nodes[3:]
        interleaved = [n for pair in zip(ours, real) for n in pair]  # slot ranges alternate kinds
        created = create_cluster(interleaved, replicas=0)
        output = re.sub(r"\x1b\[[0-9;]*m", "", created.stdout + created.stderr)
        assert created.returncode == 0, output
        assert "[OK] All 16384 slots covered." in output, output
        assert "[OK] All nodes agree about slots configuration." in output, output
        wait_cluster_ok(nodes)
        yield nodes


def _topology(node: ClusterProc) -> set[tuple[str, ...]]:
    rows = set()
    for f in node.nodes_lines():
        rows.add((f[0], f[1], ",".join(x for x in f[2].split(",") if x != "myself"), f[3], f[6], f[7], *f[8:]))
    return rows


def test_converges_and_passes_check_from_both_kinds(mixed: list[ClusterProc]) -> None:
    wait_converged(mixed)
    views = wait(lambda: (v := [_topology(n) for n in mixed]) and all(x == v[0] for x in v) and v[0],
                 what="one CLUSTER NODES topology on real and our nodes", nodes=mixed)  # fmt: skip
    assert len(views) == 6 and all(row[2] == "master" and row[5] == "connected" for row in views)
    slots = {n.kind: n.call("CLUSTER", "SLOTS") for n in mixed}
    assert slots["ours"] == slots["real"]
    for node in (mixed[0], mixed[3]):
        check = redis_cli("--cluster", "check", node.address)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "[OK] All 16384 slots covered." in check.stdout
    # CLUSTER LINKS: to and from each of the 5 peers, the same fields and idle events.
    for node in (mixed[0], mixed[3]):
        links = wait(lambda n=node: (rows := n.call("CLUSTER", "LINKS")) and len(rows) == 10 and rows,
                     what="ten bus links", nodes=mixed)  # fmt: skip
        assert all(row[::2] == [b"direction", b"node", b"create-time", b"events", b"send-buffer-allocated",
                                b"send-buffer-used"] for row in links)  # fmt: skip
        assert {row[1] for row in links} == {b"to", b"from"} and {row[7] for row in links} <= {b"r", b"rw"}
    # Same CLUSTER INFO shape on both kinds (counters differ, the lines do not).
    real_info, our_info = mixed[3].cluster_info(), mixed[0].cluster_info()
    for field in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_known_nodes",
                  "cluster_size", "cluster_current_epoch"):  # fmt: skip
        assert our_info[field] == real_info[field], field


def test_redirections_are_the_same_bytes_on_both_kinds(mixed: list[ClusterProc]) -> None:
    ours, real = mixed[0], mixed[3]
    for resp in (2, 3):
        assert ours.raw("HELLO", resp) and real.raw("HELLO", resp)
    with ours.connect() as mine, real.connect() as theirs:
        for client in (mine, theirs):
            client.call("HELLO", "3")
        assert mine.raw("CLUSTER", "SLOTS") == theirs.raw("CLUSTER", "SLOTS")
    assert ours.raw("CLUSTER", "SLOTS") == real.raw("CLUSTER", "SLOTS")
    checked = 0
    for i in range(200):
        key = f"key:{i}"
        mine, theirs = ours.raw("GET", key), real.raw("GET", key)
        if mine.startswith(b"-MOVED") and theirs.startswith(b"-MOVED"):
            assert mine == theirs, key
            checked += 1
        for command in (["MGET", key, f"other:{i}"], ["SET", f"{{{key}}}x", "1", "GET"]):
            a, b = ours.raw(*command), real.raw(*command)
            if not (a.startswith(b"$") or a.startswith(b"+") or b.startswith(b"$") or b.startswith(b"+")):
                assert a == b, command
    assert checked >= 50  # four of six nodes own neither key's slot most of the time


def test_announced_hostnames_cross_the_bus(mixed: list[ClusterProc]) -> None:
    """The hostname ping extension, both ways; CLUSTER SLOTS and MOVED with endpoint types."""
    ours, real = mixed[0], mixed[3]
    names = {ours.port: "ours.example", real.port: "real.example"}
    try:
        for node in (ours, real):
            assert node.call("CONFIG", "SET", "cluster-announce-hostname", names[node.port]) == "OK"
        wait(lambda: all(f",{names[other.port]}" in n.text("CLUSTER", "NODES") for n in mixed for other in (ours, real)),
             what="every node to show both hostnames", nodes=mixed)  # fmt: skip
        for endpoint_type in ("ip", "hostname", "unknown-endpoint"):
            for node in (mixed[1], mixed[4]):
                assert node.call("CONFIG", "SET", "cluster-preferred-endpoint-type", endpoint_type) == "OK"
            assert mixed[1].raw("CLUSTER", "SLOTS") == mixed[4].raw("CLUSTER", "SLOTS"), endpoint_type
            for i in range(40):
                mine, theirs = mixed[1].raw("GET", f"h{i}"), mixed[4].raw("GET", f"h{i}")
                if mine.startswith(b"-MOVED") and theirs.startswith(b"-MOVED"):
                    assert mine == theirs, endpoint_type
    finally:
        for node in (mixed[1], mixed[4]):
            node.call("CONFIG", "SET", "cluster-preferred-endpoint-type", "ip")
        for node in (ours, real):
            node.call("CONFIG", "SET", "cluster-announce-hostname", "")
    wait(lambda: all(".example" not in n.text("CLUSTER", "NODES") for n in mixed), what="hostnames to go", nodes=mixed)


def _pong_ages(node: ClusterProc) -> dict[str, tuple[bool, int]]:
    """Per peer: (a PING is pending, ms since its last PONG), from CLUSTER NODES."""
    now = int(time.time() * 1000)
    return {f[0]: (f[4] != "0", now - int(f[5])) for f in node.nodes_lines() if "myself" not in f[2]}


def test_debug_hooks_act_like_redis(mixed: list[ClusterProc]) -> None:
    """DROP-CLUSTER-PACKET-FILTER and CLUSTERLINK KILL on ours and on a real node alike."""
    ours, real = mixed[2], mixed[5]
    pong = 1  # CLUSTERMSG_TYPE_PONG
    received_before = {n.port: int(n.cluster_info()["cluster_stats_messages_pong_received"]) for n in (ours, real)}
    for node in (ours, real):
        assert node.call("DEBUG", "DROP-CLUSTER-PACKET-FILTER", pong) == "OK"
    try:
        # PONGs are ignored: every PING stays pending and the last PONG grows old. Peers'
        # PINGs still prove they are alive, so nobody is flagged PFAIL.
        wait(lambda: all(pending and age > NODE_TIMEOUT_MS for n in (ours, real)
                         for pending, age in _pong_ages(n).values()),
             what="PINGs pending on the nodes dropping PONGs", nodes=mixed)  # fmt: skip
        for node in (ours, real):
            assert not any("fail?" in f[2] for f in node.nodes_lines())
            # Dropped packets are still counted as received.
            assert int(node.cluster_info()["cluster_stats_messages_pong_received"]) > received_before[node.port]
    finally:
        for node in (ours, real):
            node.call("DEBUG", "DROP-CLUSTER-PACKET-FILTER", -1)

    def outbound_link_times(node: ClusterProc) -> dict[str, int]:
        rows = [dict(zip(row[::2], row[1::2])) for row in node.call("CLUSTER", "LINKS")]
        return {r[b"node"].decode(): r[b"create-time"] for r in rows if r[b"direction"] == b"to"}

    # The pending PINGs would wait for a link timeout; killing the outbound links makes
    # the cron reconnect at once and PING again, as in Redis's own tests. Only links that
    # exist are killed: redis-server 7.0.15 frees the link without checking it is there,
    # and crashed in freeClusterLink (taking this module's cluster down) when a link was
    # being re-established at that moment. A peer without a link is reconnecting anyway.
    for node in (ours, real):
        killed_at = int(time.time() * 1000)
        peers = [peer for peer in _pong_ages(node) if peer in outbound_link_times(node)]
        for peer in peers:
            assert node.call("DEBUG", "CLUSTERLINK", "KILL", "to", peer) == "OK"
        wait(lambda n=node, p=peers, k=killed_at: (t := outbound_link_times(n)) and all(t.get(x, 0) >= k for x in p),
             what="new outbound links to every peer", nodes=mixed)  # fmt: skip
    wait(lambda: all(age < NODE_TIMEOUT_MS for n in (ours, real) for _, age in _pong_ages(n).values()),
         what="PONGs to be accepted again", nodes=mixed)  # fmt: skip
    wait_cluster_ok(mixed)


def test_pause_cron_stops_pings_but_not_replies(mixed: list[ClusterProc]) -> None:
    ours, real = mixed[1], mixed[4]

    def stats(node: ClusterProc) -> tuple[int, int]:
        info = node.cluster_info()
        return int(info["cluster_stats_messages_ping_sent"]), int(info["cluster_stats_messages_pong_sent"])

    for node in (ours, real):
        assert node.call("DEBUG", "PAUSE-CRON", "1") == "OK"
    try:
        paused = {n.port: stats(n) for n in (ours, real)}
        # Peers keep pinging them and get PONGs (packet handling is not the cron) ...
        wait(lambda: all(stats(n)[1] >= paused[n.port][1] + 5 for n in (ours, real)),
             what="PONGs from the paused nodes", nodes=mixed)  # fmt: skip
        # ... but the paused nodes sent no PING of their own meanwhile.
        assert all(stats(n)[0] == paused[n.port][0] for n in (ours, real))
    finally:
        for node in (ours, real):
            node.call("DEBUG", "PAUSE-CRON", "0")
    wait(lambda: all(stats(n)[0] > paused[n.port][0] for n in (ours, real)), what="PINGs again", nodes=mixed)
    wait_cluster_ok(mixed)


def test_giving_a_slot_away_redirects_blocked_clients_and_drops_shard_channels(mixed: list[ClusterProc]) -> None:
    """BLPOP gets MOVED (from the cron), SSUBSCRIBE gets a sunsubscribe, on both kinds."""
    target = mixed[2]
    target_id = target.myid()
    pushes = []
    for node in (mixed[0], mixed[3]):  # ours, then real
        myself = next(f for f in node.nodes_lines() if "myself" in f[2])
        slot = int(myself[8].split("-")[0])
        key = next(k for k in (f"q{i}" for i in range(200_000)) if key_hash_slot(k.encode()) == slot)
        with RawClient(node.port) as blocked, RawClient(node.port) as subscriber:
            assert subscriber.call("SSUBSCRIBE", key, "{%s}2" % key)[0] == b"ssubscribe"
            subscriber.read_reply()  # the second channel's confirmation
            blocked.send_raw(encode_command(["BLPOP", key, "0"]))
            wait(lambda n=node: "blocked_clients:1" in n.text("INFO", "clients"), what="BLPOP to block", nodes=mixed)
            assert node.call("CLUSTER", "SETSLOT", slot, "NODE", target_id) == "OK"
            assert blocked.read_reply()[1] == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, target.port)
            replies = [subscriber.read_reply() for _ in range(2)]
            assert all(raw.startswith(b"*3\r\n$12\r\nsunsubscribe\r\n") for _, raw in replies)
            pushes.append([[v.replace(key.encode(), b"K") if isinstance(v, bytes) else v for v in value]
                           for value, _ in replies])  # fmt: skip
        assert node.call("CLUSTER", "SETSLOT", slot, "NODE", myself[0]) == "OK"
    assert pushes[0] == pushes[1] == [[b"sunsubscribe", b"K", 1], [b"sunsubscribe", b"{K}2", 0]], pushes
    wait_converged(mixed)


def _subscribe(node: ClusterProc, channel: str) -> object:
    client = node.connect()
    assert client.call("SUBSCRIBE", channel) == [b"subscribe", channel.encode(), 1]
    return client


def test_publish_crosses_the_bus_both_ways(mixed: list[ClusterProc]) -> None:
    ours, real = mixed[0], mixed[3]
    on_ours = _subscribe(ours, "news")
    on_real = _subscribe(real, "news")
    assert real.call("PUBLISH", "news", "from-real") == 1  # its own subscriber only
    assert on_ours.read_reply()[0] == [b"message", b"news", b"from-real"]  # type: ignore[attr-defined]
    assert on_real.read_reply()[0] == [b"message", b"news", b"from-real"]  # type: ignore[attr-defined]
    assert ours.call("PUBLISH", "news", "from-ours") == 1
    assert on_real.read_reply()[0] == [b"message", b"news", b"from-ours"]  # type: ignore[attr-defined]
    assert on_ours.read_reply()[0] == [b"message", b"news", b"from-ours"]  # type: ignore[attr-defined]
    # Another of our nodes and another real node hear it too.
    third = _subscribe(mixed[1], "news")
    fourth = _subscribe(mixed[4], "news")
    assert mixed[5].call("PUBLISH", "news", "third") == 0
    for client in (third, fourth):
        assert client.read_reply()[0] == [b"message", b"news", b"third"]  # type: ignore[attr-defined]


def test_sigstopped_nodes_are_failed_by_the_other_kind_and_cleared(mixed: list[ClusterProc]) -> None:
    our_victim, real_victim = mixed[1], mixed[4]
    our_id, real_id = our_victim.myid(), real_victim.myid()
    real_judges = [n for n in mixed if n.kind == "real" and n is not real_victim]
    our_judges = [n for n in mixed if n.kind == "ours" and n is not our_victim]
    our_victim.sigstop()
    real_victim.sigstop()
    try:
        wait(lambda: all("fail" in node_flags(j, our_id) for j in real_judges),
             what="real nodes to flag our stopped node FAIL", nodes=mixed)  # fmt: skip
        wait(lambda: all("fail" in node_flags(j, real_id) for j in our_judges),
             what="our nodes to flag the stopped real node FAIL", nodes=mixed)  # fmt: skip
        # The agreement spreads: our nodes also see our victim FAIL, the real ones the real victim.
        wait(lambda: all("fail" in node_flags(j, our_id) for j in our_judges), what="FAIL gossip", nodes=mixed)
        wait(lambda: all("fail" in node_flags(j, real_id) for j in real_judges), what="FAIL gossip", nodes=mixed)
        assert all(j.cluster_info()["cluster_state"] == "fail" for j in real_judges + our_judges)
        reply = our_judges[0].call("GET", "anything")
        assert isinstance(reply, ErrorReply) and reply == "CLUSTERDOWN The cluster is down"
    finally:
        our_victim.sigcont()
        real_victim.sigcont()
    judges = real_judges + our_judges
    for victim_id in (our_id, real_id):
        wait(lambda v=victim_id: all(not {"fail", "fail?"} & node_flags(j, v) for j in judges),
             what="FAIL to clear after SIGCONT", nodes=mixed)  # fmt: skip
    wait_cluster_ok(mixed)
