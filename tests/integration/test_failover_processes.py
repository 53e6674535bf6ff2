"""Failover on real node processes: manual failovers under load, a SIGKILLed primary,
FORCE and TAKEOVER with an unreachable primary, real redis-server nodes as replicas
and primaries in failovers, replica migration.

Theory of operation
-------------------
Every node is a separate ``python -m pyredis_cluster`` process (tests/cluster_procs.py:
free ports, a temp directory each, stopped by PID even when the test fails). The
cluster is formed the way an operator would by hand, with CLUSTER ADDSLOTSRANGE,
SET-CONFIG-EPOCH, MEET and REPLICATE (what ``redis-cli --cluster create`` sends, minus
its one-second waits). Everything is observed from the outside: CLUSTER NODES / CLUSTER
INFO / INFO replication of every node, redis-py's ``RedisCluster`` and ``redis-cli``,
always by polling a condition until a generous deadline.

The node timeout is short (1000 ms) so failure detection and elections take about a
second; the bounds asserted are generous multiples of it, and the measured values are
printed (``pytest -s``) for the README. Elections respect 7.0's vote spacing: primaries
do not vote about the same primary twice within 2 x node_timeout, so the repeated
failovers alternate between two shards and wait out that window when needed.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from redis.cluster import ClusterNode as ClientNode
from redis.cluster import RedisCluster

from pyredis_cluster.cluster.slots import key_hash_slot
from tests.cluster_procs import ClusterProc, cluster_nodes, node_flags, redis_cli, wait, wait_cluster_ok
from tests.support import RawClient

NODE_TIMEOUT_MS = 1000
#: Primaries do not vote about the same primary twice within 2 x node_timeout (7.0).
VOTE_SPACING_S = 2 * NODE_TIMEOUT_MS / 1000
SLOTS = 16384


# -- forming a cluster by hand -------------------------------------------------------------------


def slot_ranges(count: int) -> list[tuple[int, int]]:
    """``count`` contiguous ranges covering every slot, as redis-cli splits them."""
    bounds = [round(i * SLOTS / count) for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]


def form_cluster(primaries: Sequence[ClusterProc], pairs: Sequence[tuple[ClusterProc, ClusterProc]]) -> None:
    """Slots split over ``primaries``; in each (replica, primary) pair the replica follows the primary."""
    nodes = [*primaries, *(replica for replica, _ in pairs)]
    for epoch, (primary, (first, last)) in enumerate(zip(primaries, slot_ranges(len(primaries))), start=1):
        assert primary.call("CLUSTER", "ADDSLOTSRANGE", first, last) == "OK"
        assert primary.call("CLUSTER", "SET-CONFIG-EPOCH", epoch) == "OK"
    for node in nodes[1:]:
        assert node.call("CLUSTER", "MEET", "127.0.0.1", nodes[0].port) == "OK"
    wait(lambda: all(len(n.nodes_lines()) == len(nodes) and not any("handshake" in f[2] for f in n.nodes_lines())
                     for n in nodes), what="every node to know every other", nodes=nodes)  # fmt: skip
    for replica, primary in pairs:
        assert replica.call("CLUSTER", "REPLICATE", primary.myid()) == "OK"
    wait_cluster_ok(nodes)
    for replica, primary in pairs:
        wait_role(nodes, primary=primary, replica=replica)


def replication_info(node: ClusterProc) -> dict[str, str]:
    return dict(line.split(":", 1) for line in node.text("INFO", "replication").split("\r\n") if ":" in line)


def in_sync(primary: ClusterProc, replica: ClusterProc) -> bool:
    """The replica's link is up and it has every byte of the primary's stream."""
    info = replication_info(replica)
    return (
        info.get("master_link_status") == "up"
        and info.get("master_port") == str(primary.port)
        and info.get("slave_repl_offset") == replication_info(primary).get("master_repl_offset")
    )


def live(nodes: Sequence[ClusterProc]) -> list[ClusterProc]:
    """The nodes that are running and not stopped by the test."""
    return [n for n in nodes if n.process is not None and n.process.poll() is None and not n.stopped]


def serves_slots_everywhere(nodes: Sequence[ClusterProc], primary_id: str) -> bool:
    """Every live node: cluster_state ok, ``primary_id`` a master serving slots."""
    for node in live(nodes):
        if node.cluster_info().get("cluster_state") != "ok":
            return False
        row = next((f for f in node.nodes_lines() if f[0] == primary_id), None)
        if row is None or "master" not in row[2].split(",") or len(row) < 9:
            return False
    return True


def wait_primary(nodes: Sequence[ClusterProc], primary: ClusterProc, timeout: float = 60.0) -> None:
    """Every live node sees ``primary`` as a master serving slots, and cluster_state ok."""
    primary_id = primary.myid()
    wait(lambda: serves_slots_everywhere(nodes, primary_id), timeout,
         f"every live node to see {primary.address} as a primary", nodes)  # fmt: skip


def wait_role(nodes: Sequence[ClusterProc], primary: ClusterProc, replica: ClusterProc,
              timeout: float = 60.0) -> None:  # fmt: skip
    """As :func:`wait_primary`, and every live node shows ``replica`` as a replica of
    ``primary``, whose replication link to ``primary`` is up."""
    primary_id, replica_id = primary.myid(), replica.myid()

    def settled() -> bool:
        if not serves_slots_everywhere(nodes, primary_id):
            return False
        for node in live(nodes):
            row = next((f for f in node.nodes_lines() if f[0] == replica_id), None)
            if row is None or "slave" not in row[2].split(",") or row[3] != primary_id:
                return False
        info = replication_info(replica)
        return info.get("master_link_status") == "up" and info.get("master_port") == str(primary.port)

    wait(settled, timeout, f"{replica.address} to be the replica of {primary.address} everywhere", nodes)


def keys_in_slots(first: int, last: int, count: int, prefix: str = "counter") -> list[str]:
    keys = []
    i = 0
    while len(keys) < count:
        key = f"{prefix}:{i}"
        if first <= key_hash_slot(key.encode()) <= last:
            keys.append(key)
        i += 1
    return keys


@contextmanager
def shards(count: int, replicated: int, extra: Sequence[str] = ()) -> Iterator[tuple[list[ClusterProc], list[ClusterProc]]]:
    """``count`` primaries, the first ``replicated`` of which have one replica each."""
    with cluster_nodes(ours=count + replicated, node_timeout=NODE_TIMEOUT_MS, extra=extra) as nodes:
        primaries, replicas = nodes[:count], nodes[count:]
        form_cluster(primaries, list(zip(replicas, primaries)))
        yield primaries, replicas


# -- manual failovers under load --------------------------------------------------------------


@dataclass
class CounterLoad:
    """A redis-py RedisCluster client INCRementing counters in a thread (and setting
    keys with a 5 ms TTL next to them, so that keys expire during the failovers).

    ``acked[key]`` is every value an INCR returned, in order: an acknowledged write. A
    lost write shows as an INCR answering a value not above the previous one (the new
    primary missed the increments behind it) or a final value below the last ack.
    """

    startup: ClusterProc
    keys: list[str]
    acked: dict[str, list[int]] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    served_by: dict[str, int] = field(default_factory=dict)  # key -> port of the last ack
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.acked = {key: [] for key in self.keys}
        self.client = RedisCluster(
            startup_nodes=[ClientNode("127.0.0.1", self.startup.port)], socket_timeout=30
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="counter-load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key in self.keys:
                    value = self.client.incr(key)
                    self.acked[key].append(int(value))
                    # Keys that expire all the time, in the counter's slot: the primary
                    # must not expire them while a manual failover holds it still.
                    self.client.set(f"{{{key}}}:short-lived", "v", px=5)
                    node = self.client.get_node_from_key(key)
                    self.served_by[key] = node.port
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.errors.append(err)

    def total(self) -> int:
        return sum(len(values) for values in self.acked.values())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        self.client.close()


def test_twenty_manual_failovers_under_load_lose_no_acknowledged_write() -> None:
    with shards(3, 2) as (primaries, replicas):
        nodes = [*primaries, *replicas]
        # Two shards take turns, so a primary is failed over only every fourth round:
        # primaries refuse to vote about the same primary twice within 2 x node_timeout.
        pairs = [[primaries[0], replicas[0]], [primaries[1], replicas[1]]]
        keys = [keys_in_slots(*slot_ranges(3)[i], 3, prefix=f"counter{i}") for i in range(2)]
        load = CounterLoad(primaries[2], keys[0] + keys[1])
        load.start()
        durations: list[float] = []
        last_elected_about: dict[int, float] = {}  # port -> when a swap away from it was seen
        try:
            wait(lambda: load.total() > 20 or load.errors, what="the client to write", nodes=nodes)
            for round_ in range(20):
                pair, shard_keys = pairs[round_ % 2], keys[round_ % 2]
                primary, replica = pair
                if primary.port in last_elected_about:
                    # The votes of that election were cast before the test saw its swap.
                    spacing_over = last_elected_about[primary.port] + VOTE_SPACING_S
                    wait(lambda until=spacing_over: time.monotonic() >= until, what="the vote spacing", nodes=nodes)
                started = time.monotonic()
                done = redis_cli("-p", str(replica.port), "cluster", "failover")
                assert done.stdout == "OK\n", done.stdout + done.stderr
                wait_role(nodes, primary=replica, replica=primary)
                last_elected_about[primary.port] = time.monotonic()
                pair.reverse()
                before = load.total()
                wait(lambda: load.errors or (load.total() > before + 8  # noqa: B023 - waited on at once
                                             and all(load.served_by[k] == replica.port for k in shard_keys)),  # noqa: B023
                     what="the client to write to the new primary", nodes=nodes)  # fmt: skip
                assert not load.errors, load.errors
                durations.append(time.monotonic() - started)
        finally:
            load.stop()
        assert not load.errors, load.errors
        print(f"\n20 manual failovers under load: {load.total()} acknowledged INCRs, seconds per failover "
              f"(command to client following) min {min(durations):.2f} max {max(durations):.2f} "
              f"mean {sum(durations) / len(durations):.2f}")
        for (primary, replica), shard_keys in zip(pairs, keys):
            for key in shard_keys:
                values = load.acked[key]
                assert values == sorted(set(values)), f"{key}: an acknowledged increment was lost"
                assert int(primary.call("GET", key)) >= values[-1]
            wait(lambda: in_sync(primary, replica), what="the replica to catch up", nodes=nodes)  # noqa: B023
            with redis.Redis(port=replica.port) as on_replica, redis.Redis(port=primary.port) as on_primary:
                on_replica.execute_command("READONLY")
                assert [on_replica.get(k) for k in shard_keys] == [on_primary.get(k) for k in shard_keys]


# -- a SIGKILLed primary -------------------------------------------------------------------


def write_keys(node: ClusterProc, keys: Sequence[str], value: str) -> None:
    with RawClient(node.port) as client:
        for key in keys:
            assert client.call("SET", key, value) == "OK"


def same_data(primary: ClusterProc, replica: ClusterProc, keys: Sequence[str]) -> bool:
    """The replica (READONLY) has exactly the primary's keys and values."""
    with RawClient(primary.port) as on_primary, RawClient(replica.port) as on_replica:
        assert on_replica.call("READONLY") == "OK"
        if on_primary.call("DBSIZE") != on_replica.call("DBSIZE"):
            return False
        return all(on_primary.call("GET", key) == on_replica.call("GET", key) for key in keys)


def kill(node: ClusterProc) -> None:
    """SIGKILL the node's own process (by its PID) and reap it."""
    assert node.process is not None
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(timeout=30)


def test_sigkilled_primary_is_replaced_and_rejoins_as_a_replica_of_the_winner() -> None:
    with shards(3, 1) as (primaries, replicas):
        nodes = [*primaries, *replicas]
        primary, replica = primaries[0], replicas[0]
        keys = keys_in_slots(*slot_ranges(3)[0], 200, prefix="before")
        write_keys(primary, keys, "v1")
        wait(lambda: in_sync(primary, replica), what="the replica to sync", nodes=nodes)

        primary_id, replica_id = primary.myid(), replica.myid()
        killed_at = time.monotonic()
        kill(primary)
        wait(lambda: "master" in node_flags(replica, replica_id), what="the replica to take over", nodes=nodes)
        promoted_after = time.monotonic() - killed_at
        live = [node for node in nodes if node is not primary]
        wait_cluster_ok_without(live, primary_id)
        ok_after = time.monotonic() - killed_at
        print(f"\nSIGKILL of a primary (node timeout {NODE_TIMEOUT_MS} ms): replica promoted after "
              f"{promoted_after:.2f} s, cluster_state ok everywhere after {ok_after:.2f} s")
        # Failure detection takes node_timeout, the election 0.5-1 s more: "about a
        # second" over node_timeout on an idle machine; generous bound for a busy one.
        assert promoted_after < NODE_TIMEOUT_MS / 1000 + 4.0

        # Writes to the new primary, then the old one comes back with its nodes.conf.
        more = keys_in_slots(*slot_ranges(3)[0], 100, prefix="after")
        write_keys(replica, more, "v2")
        primary.start()
        primary.wait_ready()
        wait_role(nodes, primary=replica, replica=primary)
        wait(lambda: in_sync(replica, primary), what="the old primary to resync", nodes=nodes)
        assert same_data(replica, primary, keys + more)

        # A replica restarted from its nodes.conf replicates again (7.0's clusterCron
        # starts replication for a replica whose replication is off).
        kill(primary)
        write_keys(replica, keys, "v3")
        primary.start()
        primary.wait_ready()
        wait(lambda: in_sync(replica, primary), what="the restarted replica to resync", nodes=nodes)
        assert same_data(replica, primary, keys + more)


def wait_cluster_ok_without(nodes: Sequence[ClusterProc], dead_id: str) -> None:
    """cluster_state:ok on every live node, each of which flags ``dead_id`` as failed."""

    def ok() -> bool:
        return all(node.cluster_info().get("cluster_state") == "ok" and "fail" in node_flags(node, dead_id)
                   for node in nodes)  # fmt: skip

    wait(ok, what="cluster_state:ok on the live nodes", nodes=nodes)


# -- FORCE and TAKEOVER with an unreachable primary ------------------------------------------


def test_force_and_takeover_replace_a_stopped_primary_which_then_follows_the_winner() -> None:
    with shards(3, 2) as (primaries, replicas):
        nodes = [*primaries, *replicas]
        for replica in replicas:  # only the operator may fail over: no automatic election
            assert replica.call("CONFIG", "SET", "cluster-replica-no-failover", "yes") == "OK"
        data = {}
        for i, (primary, replica) in enumerate(zip(primaries, replicas)):
            data[i] = keys_in_slots(*slot_ranges(3)[i], 50, prefix=f"shard{i}")
            write_keys(primary, data[i], f"from-{i}")
            wait(lambda p=primary, r=replica: in_sync(p, r), what="the replicas to sync", nodes=nodes)

        # FORCE: the primary is stopped (unreachable, not yet flagged FAIL); the replica
        # is elected without its agreement, by the two other primaries.
        primary, replica = primaries[0], replicas[0]
        primary.sigstop()
        done = redis_cli("-p", str(replica.port), "cluster", "failover", "force")
        assert done.stdout == "OK\n", done.stdout + done.stderr
        wait_primary(nodes, replica)
        primary.sigcont()
        wait_role(nodes, primary=replica, replica=primary)
        wait(lambda: in_sync(replica, primary), what="the old primary to resync", nodes=nodes)
        assert same_data(replica, primary, data[0])

        # TAKEOVER: two of the three primaries are stopped, so no election could reach
        # a majority; the replica takes the slots on its own, in its own new epoch.
        primary, replica = primaries[1], replicas[1]
        primary.sigstop()
        primaries[2].sigstop()
        done = redis_cli("-p", str(replica.port), "cluster", "failover", "takeover")
        assert done.stdout == "OK\n", done.stdout + done.stderr
        assert "master" in node_flags(replica, replica.myid())  # at once, within the command
        primary.sigcont()
        primaries[2].sigcont()
        wait_role(nodes, primary=replica, replica=primary)
        wait(lambda: in_sync(replica, primary), what="the old primary to resync", nodes=nodes)
        assert same_data(replica, primary, data[1])


# -- replica migration ----------------------------------------------------------------------


def test_replica_migration_gives_an_orphaned_primary_a_spare_replica() -> None:
    barrier = ("--cluster-migration-barrier", "1")
    with cluster_nodes(ours=6, node_timeout=NODE_TIMEOUT_MS, extra=barrier) as nodes:
        primaries, (spare_a, spare_b, lone) = nodes[:3], nodes[3:]
        rich, orphan = primaries[0], primaries[1]
        form_cluster(primaries, [(spare_a, rich), (spare_b, rich), (lone, orphan)])
        keys = keys_in_slots(*slot_ranges(3)[1], 50, prefix="orphan")
        write_keys(orphan, keys, "kept")

        kill(lone)  # the orphan's only replica
        # 7.0's choice: the replica with the smallest node id among those of the primary
        # with the most working replicas; it waits until the orphan has been one for 5 s.
        candidate = min((spare_a, spare_b), key=lambda node: node.myid())
        others = [node for node in nodes if node is not lone]
        wait_role(others, primary=orphan, replica=candidate)
        wait(lambda: in_sync(orphan, candidate), what="the migrated replica to sync", nodes=others)
        assert same_data(orphan, candidate, keys)
        stayed = spare_b if candidate is spare_a else spare_a
        assert replication_info(stayed).get("master_port") == str(rich.port)  # the barrier: one stays
        rich_id = rich.myid()
        assert all(f[3] == rich_id for f in rich.nodes_lines() if f[0] == stayed.myid())


# -- real redis-server nodes in failovers ------------------------------------------------------


def test_mixed_cluster_real_and_our_replicas_sync_win_failovers_and_old_primaries_rejoin() -> None:
    """Ours O1, O2, O3 and real R1, R2: primaries O1, R1, O2; R2 (real) replicates O1
    (ours), O3 (ours) replicates R1 (real). Each replica wins when its primary dies, the
    old primaries come back as replicas of the winners (and resync across kinds), and
    default-mode manual failovers go both ways: our primary pausing for a real
    replica, a real primary pausing for ours."""
    with cluster_nodes(ours=3, real=2, node_timeout=NODE_TIMEOUT_MS) as nodes:
        ours_1, ours_2, ours_3, real_1, real_2 = nodes
        primaries = [ours_1, real_1, ours_2]
        form_cluster(primaries, [(real_2, ours_1), (ours_3, real_1)])
        shard_keys = [keys_in_slots(*slot_ranges(3)[i], 60, prefix=f"mixed{i}") for i in range(2)]
        for (primary, replica), keys in zip([(ours_1, real_2), (real_1, ours_3)], shard_keys):
            write_keys(primary, keys, f"from-{primary.kind}")
            wait(lambda p=primary, r=replica: in_sync(p, r), what=f"the {replica.kind} replica to sync", nodes=nodes)
            assert same_data(primary, replica, keys)

        # CLUSTER SLOTS lists a replica once its replication offset is known (gossiped in
        # every bus header): a real node and ours tell the same, replicas included.
        def same_slots_with_replicas() -> bool:
            ours_view, real_view = ours_2.call("CLUSTER", "SLOTS"), real_1.call("CLUSTER", "SLOTS")
            return ours_view == real_view and sorted(len(entry) for entry in ours_view) == [3, 4, 4]

        wait(same_slots_with_replicas, what="CLUSTER SLOTS with the replicas on both kinds", nodes=nodes)

        def shards_view(node: ClusterProc) -> list[tuple[object, ...]]:
            """CLUSTER SHARDS without the offsets (each node has its own idea of them)."""
            view = []
            for shard in node.call("CLUSTER", "SHARDS"):
                fields = dict(zip(shard[::2], shard[1::2]))
                members = sorted(tuple((k, v) for k, v in zip(member[::2], member[1::2])
                                       if k != b"replication-offset") for member in fields[b"nodes"])  # fmt: skip
                view.append((tuple(fields[b"slots"]), tuple(members)))
            return sorted(view)

        wait(lambda: shards_view(ours_2) == shards_view(real_1), what="the same CLUSTER SHARDS", nodes=nodes)

        # A real replica wins when our primary dies; our replica wins when a real one dies.
        for primary, replica in [(ours_1, real_2), (real_1, ours_3)]:
            kill(primary)
            wait_primary(nodes, replica)
        for primary in (ours_1, real_1):
            primary.start()
        for primary, replica, keys in [(real_2, ours_1, shard_keys[0]), (ours_3, real_1, shard_keys[1])]:
            replica.wait_ready()
            wait_role(nodes, primary=primary, replica=replica)
            wait(lambda p=primary, r=replica: in_sync(p, r), what=f"the {replica.kind} node to resync", nodes=nodes)
            assert same_data(primary, replica, keys)

        # Manual failovers across kinds, after fresh writes: the primary pauses and hands its
        # exact offset to a replica of the other kind.
        for primary, replica, keys in [(real_2, ours_1, shard_keys[0]), (ours_3, real_1, shard_keys[1])]:
            write_keys(primary, keys, f"before-manual-failover-{primary.kind}")
            done = redis_cli("-p", str(replica.port), "cluster", "failover")
            assert done.stdout == "OK\n", done.stdout + done.stderr
            wait_role(nodes, primary=replica, replica=primary)
            wait(lambda p=replica, r=primary: in_sync(p, r), what="the swapped pair to sync", nodes=nodes)
            assert same_data(replica, primary, keys)
