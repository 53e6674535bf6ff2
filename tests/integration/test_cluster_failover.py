"""Failover on running nodes: automatic elections, CLUSTER FAILOVER [FORCE|TAKEOVER], rejoin.

The in-process harness (``pyredis_cluster.testing.start_cluster``) runs real nodes
talking the 7.0 cluster bus over loopback sockets, with a short node timeout so that
failure detection takes well under a second. Everything is observed from the outside
(CLUSTER NODES / CLUSTER INFO / replies over RESP) plus each node's event stream (the
``ClusterSupport.listeners`` hook), always by polling a condition until a deadline.

Expected texts are 7.0's: the CLUSTER FAILOVER errors are compared byte for byte with a
real cluster-enabled redis-server where a lone node can produce them, and the others
are the literal strings of 7.0's cluster.c (a fact, not our output).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio

from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import start_cluster
from pyredis_cluster.testing.harness import LocalCluster
from pyredis_cluster.testing.threaded import make_config
from tests.cluster_procs import cluster_nodes, create_cluster, node_flags, redis_cli, wait, wait_cluster_ok
from tests.support import (
    RawClient,
    async_command,
    async_raw_reply,
    encode_command,
    free_port,
    real_redis_server,
)

NODE_TIMEOUT_MS = 500
#: Generous: elections wait 500-999 ms + rank on purpose, and the test box is busy.
DEADLINE_SECONDS = 15.0


def core(node: Node) -> Any:
    assert node.cluster is not None and node.cluster.state is not None
    return node.cluster.state


def myid(node: Node) -> str:
    return core(node).myid


def owned_slots(node: Node) -> set[int]:
    state = core(node)
    return {slot for slot in range(16384) if state.owner_of(slot) is state.myself}


def nodes_rows(text: str) -> dict[str, list[str]]:
    """CLUSTER NODES by node id: [addr, flags, primary, ..., slots...]."""
    return {fields[0]: fields[1:] for fields in (line.split() for line in text.splitlines())}


async def wait_for(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE_SECONDS) -> Any:
    """Poll a (sync or async) predicate until it is truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class EventLog:
    """Every core event of every node of a cluster, with the node it happened on."""

    def __init__(self, nodes: list[Node]) -> None:
        self.seen: list[tuple[Node, Event]] = []
        for node in nodes:
            assert node.cluster is not None
            node.cluster.listeners.append(lambda event, node=node: self.seen.append((node, event)))

    def of(self, name: EventName, node: Node | None = None) -> list[Event]:
        return [event for where, event in self.seen if event.name is name and (node is None or where is node)]

    def nodes_with(self, name: EventName) -> set[int]:
        return {id(where) for where, event in self.seen if event.name is name}


async def sees_new_topology(observer: Node, winner: Node, loser: Node, slots: set[int]) -> bool:
    """``observer`` (over RESP) says the cluster is ok, ``winner`` is a master serving
    ``slots`` and ``loser`` is a replica of ``winner`` (or failed, if dead)."""
    info = await async_command(observer.port, "CLUSTER", "INFO")
    if "cluster_state:ok" not in info:
        return False
    rows = nodes_rows(await async_command(observer.port, "CLUSTER", "NODES"))
    winner_row, loser_row = rows.get(myid(winner)), rows.get(myid(loser))
    if winner_row is None or loser_row is None or "master" not in winner_row[1].split(","):
        return False
    if not {"slave", "fail"} & set(loser_row[1].split(",")):
        return False
    served = set()
    for spec in winner_row[7:]:
        first, _, last = spec.partition("-")
        served.update(range(int(first), int(last or first) + 1))
    return served == slots


def shard(cluster: LocalCluster, index: int = 0) -> tuple[Node, Node, set[int]]:
    primary = cluster.primaries[index]
    (replica,) = cluster.replicas_of(primary)
    return primary, replica, owned_slots(primary)


# -- automatic failover -----------------------------------------------------------------------


async def test_automatic_failover_promotes_the_replica_and_the_old_primary_rejoins_as_its_replica() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        events = EventLog(cluster.nodes)
        primary, replica, slots = shard(cluster)
        port, bus_port = primary.port, primary.cluster.bus.port  # type: ignore[union-attr]
        config_file = primary.config.cluster_config_file
        others = [node for node in cluster.nodes if node is not primary]
        await cluster.kill(primary)

        await wait_for(lambda: core(replica).myself.is_primary and owned_slots(replica) == slots,
                       "the replica to take the slots over")  # fmt: skip
        for observer in others:
            await wait_for(lambda observer=observer: sees_new_topology(observer, replica, primary, slots),
                           f"node {observer.port} to see the new primary and cluster_state:ok")  # fmt: skip
        assert events.of(EventName.ELECTION_STARTED, replica)
        won = events.of(EventName.FAILOVER_WON, replica)
        assert len(won) == 1 and won[0]["primary"] == myid(primary)
        voters = {id(node) for node in cluster.primaries if node is not replica}
        assert events.nodes_with(EventName.VOTE_GRANTED) & voters, "no primary granted a vote"
        assert not events.of(EventName.VOTE_GRANTED, replica)  # replicas never vote

        # The old primary restarts from its nodes.conf (it still claims the slots with
        # its old config epoch) and is told it lost them: it becomes the winner's replica.
        restarted = Node(make_config(bind="127.0.0.1", port=port, cluster_enabled=True, cluster_port=bus_port,
                                     cluster_node_timeout=NODE_TIMEOUT_MS, cluster_config_file=config_file))  # fmt: skip
        await restarted.start()
        try:
            await wait_for(lambda: core(restarted).myself.is_replica
                           and core(restarted).myself.primary_id == myid(replica),
                           "the old primary to follow the winner")  # fmt: skip
            assert not owned_slots(restarted)
            async def follows_the_winner(observer: Node) -> bool:
                # The old primary's row is still flagged "fail" from before the restart,
                # which sees_new_topology accepts: wait for the row to name its new primary.
                if not await sees_new_topology(observer, replica, restarted, slots):
                    return False
                row = nodes_rows(await async_command(observer.port, "CLUSTER", "NODES"))[myid(restarted)]
                return "slave" in row[1].split(",") and row[2] == myid(replica)

            for observer in others:
                await wait_for(lambda observer=observer: follows_the_winner(observer),
                               f"node {observer.port} to see the old primary as the winner's replica")  # fmt: skip
        finally:
            await restarted.close()


async def test_replicas_hold_the_data_are_listed_once_synced_and_the_winner_keeps_it() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        for index in range(3):  # writes in every shard: every replica's offset moves
            primary, replica, slots = shard(cluster, index)
            keys = [key for key in (f"key:{i}" for i in range(2000)) if key_hash_slot(key.encode()) in slots][:50]
            for key in keys:
                assert await async_command(primary.port, "SET", key, f"value-of-{key}")
            assert await async_command(primary.port, "WAIT", "1", "5000") == 1  # the replica acknowledged them all
            reader = redis.asyncio.Redis(port=replica.port, decode_responses=True)
            try:
                assert await reader.execute_command("READONLY")
                assert await reader.get(keys[-1]) == f"value-of-{keys[-1]}"  # served by the replica
            finally:
                await reader.aclose()

        async def lists_every_replica(observer: Node) -> bool:
            """CLUSTER SLOTS names each range's replica once its offset is known (7.0 hides
            replicas whose advertised replication offset is still 0)."""
            ranges = await async_command(observer.port, "CLUSTER", "SLOTS")
            return len(ranges) == 3 and all(len(entry) == 4 for entry in ranges)

        for observer in cluster.nodes:
            await wait_for(lambda observer=observer: lists_every_replica(observer),
                           f"node {observer.port} to list the replicas")  # fmt: skip
        shards = await async_command(cluster.nodes[1].port, "CLUSTER", "SHARDS")
        replicas = [node for entry in shards for node in entry["nodes"] if node["role"] == "replica"]
        assert len(replicas) == 3
        assert all(node["health"] == "online" and node["replication-offset"] > 0 for node in replicas)

        await cluster.kill(primary)
        await wait_for(lambda: core(replica).myself.is_primary, "the replica to take over")
        for key in keys:
            assert await async_command(replica.port, "GET", key) == f"value-of-{key}"


# -- manual failover -----------------------------------------------------------------------------


async def test_default_manual_failover_pauses_writes_on_the_primary_and_swaps_the_roles() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        events = EventLog(cluster.nodes)
        primary, replica, slots = shard(cluster)
        key = next(f"k{i}" for i in range(100_000) if key_hash_slot(f"k{i}".encode()) in slots)
        # A connection to the old primary, opened beforehand: its SET is written the moment
        # the primary reports the pause, so it reaches the primary during the switch.
        reader, writer = await asyncio.open_connection("127.0.0.1", primary.port)
        pause_seen: list[bool] = []

        def on_paused(event: Event) -> None:
            if event.name is EventName.MANUAL_FAILOVER_WRITES_PAUSED and not pause_seen:
                pause_seen.append(primary.client_pause is not None)
                writer.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n$1\r\nv\r\n".encode())

        primary.cluster.listeners.append(on_paused)  # type: ignore[union-attr]
        try:
            assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
            await wait_for(lambda: core(replica).myself.is_primary and core(primary).myself.is_replica,
                           "the roles to swap")  # fmt: skip
            for observer in cluster.nodes:
                await wait_for(lambda observer=observer: sees_new_topology(observer, replica, primary, slots),
                               f"node {observer.port} to see the swap")  # fmt: skip
            # The write was held by the pause, then redirected to the new primary: it
            # was never acknowledged by a node that was about to stop serving the slot.
            reply = await asyncio.wait_for(reader.readline(), DEADLINE_SECONDS)
            assert reply.startswith(b"-MOVED ") and reply.rstrip().endswith(f":{replica.port}".encode()), reply
        finally:
            writer.close()
            await writer.wait_closed()
        assert pause_seen == [True]
        assert events.of(EventName.MANUAL_FAILOVER_WRITES_RESUMED, primary)
        await wait_for(lambda: primary.client_pause is None, "the pause to be lifted")
        assert events.of(EventName.MANUAL_FAILOVER_READY, replica)
        assert events.of(EventName.ELECTION_STARTED, replica)
        assert events.of(EventName.FAILOVER_WON, replica)


async def test_client_unpause_does_not_end_the_manual_failover_pause() -> None:
    """7.0 keeps pauses per purpose: CLIENT UNPAUSE ends CLIENT PAUSE's, not the one a
    manual failover holds on the primary (else a write could land after the offset the
    replica catches up to, and be lost)."""
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        primary, replica, slots = shard(cluster)
        key = next(f"k{i}" for i in range(100_000) if key_hash_slot(f"k{i}".encode()) in slots)
        reader, writer = await asyncio.open_connection("127.0.0.1", primary.port)

        def on_paused(event: Event) -> None:
            if event.name is EventName.MANUAL_FAILOVER_WRITES_PAUSED:
                # Pipelined: the UNPAUSE runs first (not a write), then the SET.
                writer.write(encode_command(("CLIENT", "UNPAUSE")) + encode_command(("SET", key, "v")))

        primary.cluster.listeners.append(on_paused)  # type: ignore[union-attr]
        try:
            assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
            assert await asyncio.wait_for(reader.readline(), DEADLINE_SECONDS) == b"+OK\r\n"  # UNPAUSE
            # The SET waited for the failover and was redirected: never acknowledged here.
            reply = await asyncio.wait_for(reader.readline(), DEADLINE_SECONDS)
            assert reply.startswith(b"-MOVED ") and reply.rstrip().endswith(f":{replica.port}".encode()), reply
        finally:
            writer.close()
            await writer.wait_closed()
        assert core(replica).myself.is_primary


async def test_a_client_pause_outlives_the_manual_failover_pause() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        primary, replica, _ = shard(cluster)
        other = cluster.primaries[1]
        # An operator's CLIENT PAUSE WRITE on the primary, then a manual failover: when
        # the failover's own pause ends, the operator's still holds writes.
        assert await async_command(primary.port, "CLIENT", "PAUSE", "60000", "WRITE") == "OK"
        assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
        await wait_for(lambda: core(primary).myself.is_replica, "the primary to become a replica")
        assert primary.client_pause is not None and primary.client_pause.until > time.time() + 30
        assert await async_command(primary.port, "CLIENT", "UNPAUSE") == "OK"
        assert primary.client_pause is None
        assert other.client_pause is None


async def test_force_fails_over_from_a_dead_primary_that_default_mode_refuses() -> None:
    # cluster-replica-no-failover: no automatic election, so only the operator can act.
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS,
                             cluster_replica_no_failover=True) as cluster:  # fmt: skip
        events = EventLog(cluster.nodes)
        primary, replica, slots = shard(cluster)
        await cluster.kill(primary)
        await cluster.wait_for_fail(primary, timeout=DEADLINE_SECONDS)
        assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER\r\n", DEADLINE_SECONDS) == \
            b"-ERR Master is down or failed, please use CLUSTER FAILOVER FORCE\r\n"  # fmt: skip
        assert core(replica).myself.is_replica
        assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER force\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
        for observer in [node for node in cluster.nodes if node is not primary]:
            await wait_for(lambda observer=observer: sees_new_topology(observer, replica, primary, slots),
                           f"node {observer.port} to see the forced failover")  # fmt: skip
        assert events.of(EventName.FAILOVER_WON, replica)
        assert not events.of(EventName.MANUAL_FAILOVER_WRITES_PAUSED)


async def test_force_with_a_live_primary_skips_the_pause() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        events = EventLog(cluster.nodes)
        primary, replica, slots = shard(cluster, 1)
        assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER FORCE\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
        for observer in cluster.nodes:
            await wait_for(lambda observer=observer: sees_new_topology(observer, replica, primary, slots),
                           f"node {observer.port} to see the forced failover")  # fmt: skip
        assert events.of(EventName.ELECTION_STARTED, replica)
        assert not events.of(EventName.MANUAL_FAILOVER_WRITES_PAUSED)


async def test_takeover_needs_no_vote() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=NODE_TIMEOUT_MS) as cluster:
        events = EventLog(cluster.nodes)
        primary, replica, slots = shard(cluster, 2)
        epochs_before = {core(node).myself.config_epoch for node in cluster.primaries}
        assert await async_raw_reply(replica.port, b"CLUSTER FAILOVER TAKEOVER\r\n", DEADLINE_SECONDS) == b"+OK\r\n"
        # TAKEOVER takes the slots within the command itself, with a config epoch of its own.
        assert core(replica).myself.is_primary and owned_slots(replica) == slots
        assert core(replica).myself.config_epoch > max(epochs_before)
        for observer in cluster.nodes:
            await wait_for(lambda observer=observer: sees_new_topology(observer, replica, primary, slots),
                           f"node {observer.port} to see the takeover")  # fmt: skip
        assert not events.of(EventName.ELECTION_STARTED)
        assert not events.of(EventName.VOTE_GRANTED)


# -- errors ------------------------------------------------------------------------------------------


FAILOVER_ERROR_SCRIPT = [
    ("CLUSTER", "FAILOVER"),
    ("CLUSTER", "FAILOVER", "FORCE"),
    ("CLUSTER", "failover", "takeover"),
    ("CLUSTER", "FAILOVER", "nope"),
    ("CLUSTER", "FAILOVER", "FORCE", "TAKEOVER"),
]


def real_replies(script: list[tuple[str, ...]]) -> list[bytes]:
    """The replies of a lone cluster-enabled redis-server 7.0 (a primary without slots)."""
    with (real_redis_server("--cluster-enabled", "yes", "--cluster-port", str(free_port())) as port,
          RawClient(port) as client):  # fmt: skip
        return [client.raw(*args) for args in script]


async def test_failover_errors_on_a_primary_match_redis() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=0) as cluster:
        ours = [await async_raw_reply(cluster.nodes[0].port, encode_command(args), DEADLINE_SECONDS) for args in FAILOVER_ERROR_SCRIPT]
    theirs = await asyncio.to_thread(real_replies, FAILOVER_ERROR_SCRIPT)
    assert ours == theirs
    assert ours[0] == b"-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    assert ours[3] == b"-ERR syntax error\r\n"


# -- settings ------------------------------------------------------------------------------------------


async def test_failover_settings_reach_the_core_at_start_and_on_config_set() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=0, cluster_replica_validity_factor=0,
                             repl_ping_replica_period=3, cluster_migration_barrier=4) as cluster:  # fmt: skip
        node = cluster.nodes[0]
        settings = core(node).settings
        assert (settings.replica_validity_factor, settings.repl_ping_replica_period, settings.migration_barrier) \
            == (0, 3, 4)  # fmt: skip
        assert await async_command(node.port, "CONFIG", "SET", "cluster-slave-validity-factor", "7",
                             "repl-ping-slave-period", "9", "cluster-migration-barrier", "2") == "OK"  # fmt: skip
        settings = core(node).settings
        assert (settings.replica_validity_factor, settings.repl_ping_replica_period, settings.migration_barrier) \
            == (7, 9, 2)  # fmt: skip


# -- processes and the real redis-cli --------------------------------------------------------------------


def test_redis_cli_cluster_failover_on_processes() -> None:
    """An operator's manual failover: redis-cli against separate node processes of ours."""
    with cluster_nodes(ours=6) as nodes:
        created = create_cluster(nodes, replicas=1)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        # redis-cli sends the CLUSTER REPLICATEs last: wait until every node knows the replicas.
        wait(lambda: all(sum("slave" in f[2] for f in node.nodes_lines()) == 3 for node in nodes),
             what="every node to know the three replicas", nodes=nodes)  # fmt: skip
        by_id = {node.myid(): node for node in nodes}
        replica_row = next(f for f in nodes[0].nodes_lines() if "slave" in f[2])
        replica, primary = by_id[replica_row[0]], by_id[replica_row[3]]

        failover = redis_cli("-p", str(replica.port), "cluster", "failover")
        assert (failover.returncode, failover.stdout) == (0, "OK\n"), failover.stdout + failover.stderr

        def swapped() -> bool:
            return all(
                "master" in node_flags(node, replica.myid())
                and "slave" in node_flags(node, primary.myid())
                and node.cluster_info().get("cluster_state") == "ok"
                for node in nodes
            )

        wait(swapped, what="every node to see the roles swapped", nodes=nodes)
        check = redis_cli("--cluster", "check", replica.address)
        assert check.returncode == 0 and "[OK] All 16384 slots covered." in check.stdout, check.stdout
        assert redis_cli("-p", str(primary.port), "cluster", "failover").stdout == "OK\n"  # and back
        wait(lambda: "master" in node_flags(replica, primary.myid()), what="the swap back", nodes=nodes)
