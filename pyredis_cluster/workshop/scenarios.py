"""The workshop scenarios: each one tells, runs, shows and checks one piece of Redis Cluster.

Theory of operation
-------------------
A scenario is a :class:`Scenario` (name, title, one-line summary) around a coroutine
``play(stage)`` (stage.py). Every ``play`` has the same shape, so attendees learn to read
them:

1. ``stage.say``: what is about to happen and what to look for;
2. ``stage.start_cluster``: a fresh cluster of real nodes (a legend shows who is who);
3. one or more acts (``await stage.step``): an action through the client port, exactly what
   an operator or ``redis-cli`` sends, then ``stage.wait_for`` the outcome;
4. ``stage.show_trace``: what the nodes did, as a short story;
5. ``stage.check``: the outcome, passed or failed with a reason.

The checks read the nodes' own state and what a client sees over RESP, never our
narration. ``run_scenario`` (runner.py) plays one on a fresh stage and always stops
every node it started.

Timings in the narration are at ``--time-scale 1`` (node timeout 1 s).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..cluster.constants import CLUSTER_SLAVE_MIGRATION_DELAY
from ..cluster.events import EventName
from ..cluster.state import ClusterHealth
from ..server.node import Node
from . import actions
from .connection import Connection, call, is_error, text
from .portmap import PortMapping, UnreachableAddress
from .stage import Stage, core, format_slots, key_in_slots, node_id, owned_slots
from .traffic import RunningClient

Play = Callable[[Stage], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str  # what `workshop run <name>` takes
    title: str
    summary: str  # one line, for `workshop list`
    play: Play


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, title: str, summary: str) -> Callable[[Play], Play]:
    """Register ``play`` under ``name`` (the order of definition is the order of the list)."""

    def register(play: Play) -> Play:
        SCENARIOS[name] = Scenario(name, title, summary, play)
        return play

    return register


# -- small shared observations ---------------------------------------------------------------


def sees_owner(observer: Node, slots: set[int], owner: Node) -> bool:
    """``observer`` binds every slot of ``slots`` to ``owner``."""
    state, owner_id = core(observer), node_id(owner)
    return all((node := state.owner_of(slot)) is not None and node.name == owner_id for slot in slots)


def sees_replica_of(observer: Node, replica: Node, primary: Node) -> bool:
    """``observer`` knows ``replica`` as a replica of ``primary``."""
    entry = core(observer).nodes.get(node_id(replica))
    return entry is not None and entry.is_replica and entry.primary_id == node_id(primary)


def live(stage: Stage, *exclude: Node) -> list[Node]:
    assert stage.cluster is not None
    return [node for node in stage.cluster.nodes
            if node not in exclude and stage.cluster.faults.is_alive(node)]  # fmt: skip


def keys_for(slots: set[int], count: int, prefix: str) -> list[str]:
    """``count`` key names spread over ``slots`` (as evenly as the hash allows); also good
    as hash tags: ``{name}:anything`` is in the same slot as ``name``."""
    ordered = sorted(slots)
    return [key_in_slots({ordered[i % len(ordered)]}, f"{prefix}{i}") for i in range(count)]


# ---------------------------------------------------------------------------------------------
# 1. Resharding under a running client
# ---------------------------------------------------------------------------------------------
MOVED_SLOTS = 4


@scenario("reshard", "Resharding under a running client",
          "move slots from A to B while a client keeps writing and reading; no write is lost")  # fmt: skip
async def reshard(stage: Stage) -> None:
    stage.say("""
        A Redis Cluster cuts the key space into 16,384 hash slots: a key's slot is
        CRC16(key) mod 16384, and each slot is served by exactly one primary. Resharding
        moves slots, with their keys, from one primary to another while clients keep
        working.

        We start three primaries, A, B and C, each serving a third of the slots. Then a
        client application (redis-py's RedisCluster) starts writing and reading keys,
        most of them in the slots we are going to move.""")
    cluster = await stage.start_cluster(primaries=3)
    a, b = stage.node("A"), stage.node("B")
    slots = set(sorted(owned_slots(a))[-MOVED_SLOTS:])
    tags = keys_for(slots, 3 * MOVED_SLOTS, "user") + keys_for(owned_slots(b), 3, "other")
    client = RunningClient(a.port, tags)
    await client.start()
    stage.add_closer(client.stop)
    await stage.wait_for(lambda: client.traffic.writes >= 150, "the client is writing and reading")

    await stage.step(f"A slot in the middle of a move (slot {min(slots)})")
    stage.say("""
        Moving a slot starts by marking it on both sides: IMPORTING on the target B,
        MIGRATING on the source A. From then on A still serves the keys it has, but
        for a key it does not have it answers ASK: "try B, just this once". B serves
        that slot only to a client that sends ASKING first; anyone else gets MOVED
        back to A, which still owns the slot.""")
    slot = min(slots)
    missing = key_in_slots({slot}, "nobody-wrote-this")
    async with Connection(a.port) as on_a, Connection(b.port) as on_b:
        await on_b.call("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(a))
        await on_a.call("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(b))
        ask = await on_a.call("GET", missing)
        moved = await on_b.call("GET", missing)
        await on_b.call("ASKING")
        asked = await on_b.call("GET", missing)
    stage.show(f"A> GET {missing}\n{text(ask)}\nB> GET {missing}\n{text(moved)}\n"
               f"B> ASKING\nB> GET {missing}\n{text(asked)}")  # fmt: skip
    stage.check(is_error(ask, "ASK") and ask.endswith(f":{b.port}"), "A answers ASK to B for a key it does not have")
    stage.check(is_error(moved, "MOVED") and moved.endswith(f":{a.port}"),
                "B answers MOVED to A without ASKING (A still owns the slot)")  # fmt: skip
    stage.check(asked is None, "B serves the slot after ASKING")

    await stage.step(f"Moving slots {format_slots(slots)} from A to B")
    stage.say("""
        Now each slot is moved the way redis-cli --cluster reshard does it: mark it,
        move its keys to B with MIGRATE (A sends them as RESTORE-ASKING and deletes
        what B acknowledged; a client writing one of them waits until it is done, then
        is sent to B with ASK), then CLUSTER SETSLOT <slot> NODE B on B, on A and
        on C. B bumps its config epoch so that its claim on the slot wins everywhere.
        The client keeps running all along: watch for ASK and MOVED being followed.""")
    writes_before = client.traffic.writes
    report = await actions.move_slots(a, b, sorted(slots), others=cluster.primaries)
    during = client.traffic.writes - writes_before
    stage.show(f"moved {report.slots} slots and {report.keys} keys; {during} writes acknowledged meanwhile")
    stage.check(during > 0, "the client kept writing while the slots moved", f"{during} writes")
    await stage.wait_until_all(cluster.nodes, lambda observer: sees_owner(observer, slots, b),
                               f"every node sees B serving slots {format_slots(slots)}")  # fmt: skip
    await client.wait_for_writes(40, stage.pace.deadline_seconds)
    await client.stop()
    await stage.show_trace()

    await stage.step("Did the client lose anything?")
    traffic = client.traffic
    stage.show(f"{traffic.writes} writes acknowledged, {traffic.failed_writes} failed, "
               f"{traffic.reads} reads ({traffic.stale_reads} stale)")  # fmt: skip
    lost = await client.lost_writes()
    stage.check(not lost, "every acknowledged write is there", f"lost: {lost}" if lost else
                f"{len(client.acknowledged)} keys read back")  # fmt: skip
    async with Connection(a.port) as on_a:
        left = [await on_a.call("CLUSTER", "COUNTKEYSINSLOT", s) for s in sorted(slots)]
    stage.check(sum(left) == 0, "A keeps no key of the moved slots", f"keys left per slot: {left}")
    stage.check(traffic.failed_writes == 0, "the client never saw an error", "; ".join(traffic.errors))


# ---------------------------------------------------------------------------------------------
# 2. Killing a primary: failure detection and the election
# ---------------------------------------------------------------------------------------------
@scenario("kill-primary", "Kill a primary and watch the election",
          "PFAIL, FAIL, the replica's election (rank, delay, votes), failover, the old primary rejoins")  # fmt: skip
async def kill_primary(stage: Stage) -> None:
    stage.say("""
        Every node pings the others; a node that has not answered for cluster-node-timeout
        is suspected: PFAIL ("possibly failing", a private opinion). Nodes gossip their
        suspicions; when a majority of the primaries suspect the same node, the one that
        notices marks it FAIL and broadcasts a FAIL message: now everybody agrees.

        A replica of a FAIL primary then runs an election. It waits 500 ms (to let the
        FAIL spread) plus a random 0-500 ms plus 1 s per rank (the replica with the most
        replicated data has rank 0 and goes first), bumps the cluster's current epoch,
        and asks every primary for a vote (FAILOVER_AUTH_REQUEST). Each primary votes
        at most once per epoch. With a majority of the primaries' votes, it takes over
        the slots with the new epoch as its config epoch, which beats the old primary's.""")
    cluster = await stage.start_cluster(primaries=3, replicas_per_primary=1)
    a, a1 = stage.node("A"), stage.node("A1")
    slots = owned_slots(a)
    key = key_in_slots(slots, "survivor")
    reply = await call(a.port, "SET", key, "written-before-the-crash")
    stage.check(text(reply) == "OK", f"a key in A's slots was written before the crash ({key})")
    await stage.wait_for(lambda: a1.replication is not None and a1.replication.offset >= a.replication.offset,  # type: ignore[union-attr]
                         "A1 has replicated it", quiet=True)  # fmt: skip

    await stage.step("A crashes")
    stage.say("""
        We close A's sockets as if its process died. Watch the trace: first PFAIL (each
        node on its own), then the failure reports, then FAIL, then A1's election.""")
    await cluster.kill(a)
    survivors = live(stage)
    await stage.wait_for(lambda: all(sees_owner(o, slots, a1) for o in survivors),
                         "every live node sees A1 serving A's slots")  # fmt: skip
    await stage.show_trace()
    scheduled = stage.timeline.of(EventName.ELECTION_SCHEDULED, "A1")
    if scheduled:
        first = scheduled[0]
        stage.show(f"A1's election: rank {first['rank']}, delay {first['delay_ms']} ms")
    stage.check(bool(stage.timeline.labels_with(EventName.PFAIL) & {"B", "C"}), "A was suspected (PFAIL) first")
    stage.check(bool(stage.timeline.of(EventName.FAIL)), "then marked FAIL by agreement")
    stage.check(bool(scheduled), "A1 scheduled an election with a rank and a delay")
    voters = stage.timeline.labels_with(EventName.VOTE_GRANTED)
    stage.check(voters >= {"B", "C"} and not voters & {"A1", "B1", "C1"},
                "the live primaries B and C voted for A1 (replicas never vote)", f"voters: {sorted(voters)}")  # fmt: skip
    won = stage.timeline.of(EventName.FAILOVER_WON, "A1")
    stage.check(len(won) == 1, "A1 won the election", f"epoch {won[0]['epoch']}" if won else "")
    reply = await call(a1.port, "GET", key)
    stage.check(reply == b"written-before-the-crash", "A1 serves the data A had", text(reply))

    await stage.step("A comes back")
    stage.say("""
        A restarts from its nodes.conf: it still believes it serves its slots, with its
        old config epoch. Whoever speaks first settles it: a node that hears A's stale
        claim answers with an UPDATE message ("those slots belong to A1, config epoch
        N"), or A hears A1 claim them in a PING with that greater epoch. A's claim is
        older either way, so A gives the slots up and becomes a replica of A1.""")
    a = await cluster.restart(a, timeout=stage.pace.deadline_seconds)
    await stage.wait_until_all(cluster.nodes, lambda observer: sees_replica_of(observer, a, a1),
                               "every node, A included, sees A as a replica of A1")  # fmt: skip
    await stage.show_trace()
    stage.check(not owned_slots(a), "A serves no slot any more")


# ---------------------------------------------------------------------------------------------
# 3. Manual failover
# ---------------------------------------------------------------------------------------------
@scenario("manual-failover", "Manual failover with no lost writes",
          "CLUSTER FAILOVER on a replica: the primary pauses writes, the replica catches up, they swap")  # fmt: skip
async def manual_failover(stage: Stage) -> None:
    stage.say("""
        To take a primary down for maintenance, an operator sends CLUSTER FAILOVER to one
        of its replicas. Unlike a crash, nothing may be lost, so the two coordinate:

        the replica sends MFSTART to its primary; the primary pauses its clients' writes
        and tells the replica its replication offset (in a PING flagged "paused"); the
        replica waits until it has replicated up to that offset, then runs an election
        in which the primaries vote at once (the request is flagged "forceack"); it wins,
        takes the slots, and the old primary becomes its replica. The paused clients are
        answered with MOVED to the new primary and carry on there.""")
    cluster = await stage.start_cluster(primaries=3, replicas_per_primary=1)
    a, a1 = stage.node("A"), stage.node("A1")
    slots = owned_slots(a)
    client = RunningClient(a.port, keys_for(slots, 10, "order"))
    await client.start()
    stage.add_closer(client.stop)
    await stage.wait_for(lambda: client.traffic.writes >= 40, "a client is writing to A's slots")

    await stage.step("CLUSTER FAILOVER, sent to A1")
    reply = await call(a1.port, "CLUSTER", "FAILOVER")
    stage.show(f"A1> CLUSTER FAILOVER\n{text(reply)}")
    stage.require(text(reply) == "OK", "A1 accepted the manual failover")
    await stage.wait_until_all(cluster.nodes,
                               lambda observer: sees_owner(observer, slots, a1) and sees_replica_of(observer, a, a1),
                               "every node sees A1 as the primary and A as its replica")  # fmt: skip
    writes_before = client.traffic.writes
    stage.check(await client.wait_for_writes(40, stage.pace.deadline_seconds),
                "the client writes again, now to A1", f"{client.traffic.writes - writes_before} more writes")  # fmt: skip
    await client.stop()
    await stage.show_trace()

    await stage.step("Did the client lose anything?")
    traffic = client.traffic
    stage.show(f"{traffic.writes} writes acknowledged, {traffic.failed_writes} failed")
    lost = await client.lost_writes()
    stage.check(not lost, "every acknowledged write is on the new primary",
                f"lost: {lost}" if lost else f"{len(client.acknowledged)} keys read back")  # fmt: skip
    stage.check(bool(stage.timeline.of(EventName.MANUAL_FAILOVER_WRITES_PAUSED, "A")), "A paused its writes")
    stage.check(bool(stage.timeline.of(EventName.MANUAL_FAILOVER_READY, "A1")),
                "A1 caught up with A's offset before the election")  # fmt: skip
    stage.check(bool(stage.timeline.of(EventName.FAILOVER_WON, "A1")), "A1 won the election")


# ---------------------------------------------------------------------------------------------
# 4. A primary in the minority side of a partition
# ---------------------------------------------------------------------------------------------
@scenario("minority-partition", "A primary partitioned into the minority",
          "the minority side stops accepting writes (CLUSTERDOWN) while the majority fails over")  # fmt: skip
async def minority_partition(stage: Stage) -> None:
    stage.say("""
        A network partition cuts primary A off from every other node, but not from some
        clients. Redis Cluster favours consistency on the majority side: a node that
        cannot reach a majority of the primaries for node-timeout declares the cluster
        down and refuses writes (CLUSTERDOWN), because the majority is about to elect a
        replacement and anything written on the minority side would be thrown away.

        Meanwhile the majority (B, C and the replicas) marks A as FAIL and A1 wins an
        election. When the partition heals, A learns from A1's greater config epoch (in a
        header, or in an UPDATE message) that it lost its slots, and follows A1.""")
    cluster = await stage.start_cluster(primaries=3, replicas_per_primary=1)
    a, a1 = stage.node("A"), stage.node("A1")
    slots = owned_slots(a)
    key = key_in_slots(slots, "account")
    majority = [node for node in cluster.nodes if node is not a]

    await stage.step("The network splits: A alone | everybody else")
    cluster.partition([a], majority)
    await stage.wait_for(lambda: core(a).state is ClusterHealth.FAIL, "A declares the cluster down on its side")
    reply = await call(a.port, "SET", key, "written-in-the-minority")
    stage.show(f"A> SET {key} written-in-the-minority\n{text(reply)}")
    stage.check(is_error(reply, "CLUSTERDOWN"), "A refuses writes with CLUSTERDOWN")
    await stage.wait_until_all(majority, lambda observer: sees_owner(observer, slots, a1),
                               "the majority side sees A1 serving A's slots")  # fmt: skip
    reply = await call(a1.port, "SET", key, "written-in-the-majority")
    stage.show(f"A1> SET {key} written-in-the-majority\n{text(reply)}")
    stage.check(text(reply) == "OK", "the majority side accepts writes, on A1")
    await stage.show_trace()

    await stage.step("The partition heals")
    cluster.heal()
    await stage.wait_for(lambda: sees_replica_of(a, a, a1), "A follows A1 as its replica")
    await stage.wait_until_all(majority, lambda observer: sees_replica_of(observer, a, a1),
                               "the other nodes see A as A1's replica")  # fmt: skip
    await stage.wait_for(lambda: core(a).state is ClusterHealth.OK, "A says the cluster is ok again")
    reply = await call(a1.port, "GET", key)
    stage.check(reply == b"written-in-the-majority", "the majority's write is the one that survived", text(reply))
    await stage.show_trace()


# ---------------------------------------------------------------------------------------------
# 5. Config epoch collision
# ---------------------------------------------------------------------------------------------
@scenario("epoch-collision", "Two primaries with the same config epoch",
          "two epoch bumps on both sides of a partition collide; the node-id rule makes them unique")  # fmt: skip
async def epoch_collision(stage: Stage) -> None:
    stage.say("""
        A primary's config epoch is the version of its claim on its slots: when two
        nodes claim the same slot, the greater config epoch wins. That only works if no
        two primaries share one. Elections guarantee it (a vote per epoch), but some
        operations take a new epoch without asking anyone: CLUSTER BUMPEPOCH, CLUSTER
        FAILOVER TAKEOVER, the end of a slot import. Two of them at the same time, on
        nodes that cannot hear each other, can pick the same number.

        The repair rule needs no vote: when a primary hears another primary with its
        own config epoch, the one with the lexicographically SMALLER node id takes
        current epoch + 1. The greatest id never moves, so after a few exchanges every
        epoch is unique again.""")
    cluster = await stage.start_cluster(primaries=3)
    a, b, c = stage.node("A"), stage.node("B"), stage.node("C")

    await stage.step("A partition, and two operators bumping epochs on both sides")
    cluster.partition([a], [b], [c])
    bumped_a = await call(a.port, "CLUSTER", "BUMPEPOCH")
    bumped_b = await call(b.port, "CLUSTER", "BUMPEPOCH")
    stage.show(f"A> CLUSTER BUMPEPOCH\n{text(bumped_a)}\nB> CLUSTER BUMPEPOCH\n{text(bumped_b)}")
    epoch_a, epoch_b = core(a).myself.config_epoch, core(b).myself.config_epoch
    stage.require(epoch_a == epoch_b, "A and B now have the same config epoch", f"A {epoch_a}, B {epoch_b}")

    await stage.step("The partition heals")
    smaller, larger = sorted([a, b], key=node_id)
    stage.say(f"""
        A's id starts with {node_id(a)[:8]}, B's with {node_id(b)[:8]}: {stage.label(smaller)} has
        the smaller id, so {stage.label(smaller)} is the one that must move.""")
    cluster.heal()

    def epochs_unique_everywhere() -> bool:
        views = [{n.name: n.config_epoch for n in core(o).nodes.values() if n.is_primary} for o in cluster.nodes]
        return all(view == views[0] for view in views) and len(set(views[0].values())) == len(views[0])

    await stage.wait_for(epochs_unique_everywhere, "every node sees three different config epochs, the same ones")
    await stage.show_trace()
    stage.show("\n".join(f"{stage.label(n)}: config epoch {core(n).myself.config_epoch}" for n in (a, b, c)))
    collided = {stage.label(smaller), stage.label(larger)} & stage.timeline.labels_with(EventName.CONFIG_EPOCH_COLLISION)
    stage.check(collided == {stage.label(smaller)}, f"only {stage.label(smaller)} (the smaller id) moved",
                f"moved: {sorted(collided)}")  # fmt: skip
    stage.check(core(larger).myself.config_epoch == epoch_a, f"{stage.label(larger)} kept epoch {epoch_a}")
    stage.check(core(smaller).myself.config_epoch > epoch_a,
                f"{stage.label(smaller)} took a greater one", str(core(smaller).myself.config_epoch))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# 6. Replica migration
# ---------------------------------------------------------------------------------------------
@scenario("replica-migration", "Replica migration to an orphaned primary",
          "C loses both replicas; a spare replica moves to C on its own, once the migration barrier allows")  # fmt: skip
async def replica_migration(stage: Stage) -> None:
    stage.say("""
        A primary without a working replica is orphaned: one more failure and its slots
        are gone. Replicas fix that on their own, without any vote: a replica of the
        primary with the MOST working replicas may move to an orphaned primary, provided
        its own primary keeps at least cluster-migration-barrier working replicas after
        it leaves (default 1).

        Which replica? Each one computes the same answer from its own view: the one with
        the smallest node id among the replicas of the best-covered primaries. Only that
        one moves, after the orphan has been orphaned for 5 seconds (time for a failover
        to settle first).

        We start 3 primaries with 2 replicas each, with cluster-migration-barrier 2, then
        kill both replicas of C.""")
    cluster = await stage.start_cluster(primaries=3, replicas_per_primary=2, cluster_migration_barrier=2)
    c = stage.node("C")
    c_replicas = cluster.replicas_of(c)
    spares = [node for node in cluster.replicas if node not in c_replicas]
    expected = min(spares, key=node_id)
    its_primary = core(expected).myself.primary_id
    stage.say(f"""
        The spare replicas are {", ".join(stage.label(n) for n in spares)}; the one with
        the smallest id is {stage.label(expected)} ({node_id(expected)[:8]}...).""")

    await stage.step("Both of C's replicas die; the barrier is 2")
    for replica in c_replicas:
        await cluster.kill(replica)
    for replica in c_replicas:
        await cluster.wait_for_fail(replica, timeout=stage.pace.deadline_seconds)
    stage.check(True, "C's replicas are FAIL for everyone: C is orphaned")
    stage.say("""
        A and B have 2 working replicas each; one leaving would leave 1, fewer than the
        barrier of 2. So nobody may move, however long C stays orphaned. We wait until C
        has been orphaned for longer than the 5-second delay (6 s of protocol time).""")
    orphaned_at = core(c).now
    await stage.wait_for(lambda: core(c).now - orphaned_at > CLUSTER_SLAVE_MIGRATION_DELAY + 1000,
                         "6 s of protocol time passed", quiet=True)  # fmt: skip
    followers = [n for n in live(stage) if core(n).myself.primary_id == node_id(c)]
    stage.check(not stage.timeline.of(EventName.REPLICA_MIGRATED) and not followers,
                "after 6 s orphaned, no replica moved: the barrier holds them")  # fmt: skip
    await stage.show_trace()

    await stage.step("CONFIG SET cluster-migration-barrier 1")
    stage.say("""
        Now a replica may leave a primary that keeps 1. The 5 seconds start counting when a
        replica first finds that it may move (Redis tracks the orphan's time only then), so
        the move comes about 5 s after the new barrier.""")
    replies = [await call(node.port, "CONFIG", "SET", "cluster-migration-barrier", 1) for node in live(stage)]
    stage.require(all(text(reply) == "OK" for reply in replies), "every node accepted the new barrier")
    await stage.wait_for(lambda: sees_replica_of(c, expected, c), f"{stage.label(expected)} migrated to C")
    await stage.wait_until_all(live(stage), lambda observer: sees_replica_of(observer, expected, c),
                               "every live node sees it")  # fmt: skip
    await stage.show_trace()
    moved = stage.timeline.labels_with(EventName.REPLICA_MIGRATED)
    stage.check(moved == {stage.label(expected)}, "exactly one replica moved, the one with the smallest id",
                f"moved: {sorted(moved)}")  # fmt: skip
    left_behind = [n for n in spares if n is not expected and core(n).myself.primary_id == its_primary]
    stage.check(all(not core(n).myself.is_primary for n in spares), "no spare replica was promoted")
    stage.check(len(left_behind) == 1, "its old primary kept 1 working replica, as the barrier of 1 requires")


# ---------------------------------------------------------------------------------------------
# 7. Adding and removing a node
# ---------------------------------------------------------------------------------------------
@scenario("add-remove-node", "Adding and removing a node",
          "CLUSTER MEET a new node, move slots to it, move them back, CLUSTER FORGET it")  # fmt: skip
async def add_remove_node(stage: Stage) -> None:
    stage.say("""
        A new node knows only itself. CLUSTER MEET <ip> <port> tells it about one member
        of the cluster: it opens a bus link and sends MEET; the member answers PONG and,
        from then on, gossip (a few random node entries in every PING and PONG) introduces
        the newcomer to everyone else. It serves no slot until some are moved to it.

        Removing a node is the reverse: move its slots away, then CLUSTER FORGET it on
        every other node. FORGET also puts it on a 60-second ban list, so that a node
        which has not yet forgotten it cannot re-introduce it through gossip.""")
    cluster = await stage.start_cluster(primaries=3)
    a, b, c = stage.node("A"), stage.node("B"), stage.node("C")

    await stage.step("A new node D, introduced with CLUSTER MEET")
    d = await cluster.add_node(timeout=stage.pace.deadline_seconds)
    stage.show_nodes([d])
    everyone = [a, b, c, d]
    stage.check(all(node_id(n) in core(o).nodes for n in everyone for o in everyone),
                "every node knows every other, D included")  # fmt: skip
    stage.check(not owned_slots(d), "D serves no slot yet")
    await stage.wait_for(lambda: core(d).state is ClusterHealth.OK, "D says cluster_state:ok")
    await stage.show_trace()

    await stage.step("Slots (and keys) move from A to D")
    slots = set(sorted(owned_slots(a))[:MOVED_SLOTS])
    keys = keys_for(slots, 12, "item")
    for key in keys:
        await call(a.port, "SET", key, key.upper())
    await actions.move_slots(a, d, sorted(slots), others=[b, c])
    await stage.wait_until_all(everyone, lambda observer: sees_owner(observer, slots, d),
                               f"every node sees D serving slots {format_slots(slots)}")  # fmt: skip
    values = [await call(d.port, "GET", key) for key in keys]
    stage.check(values == [key.upper().encode() for key in keys], "D serves the moved keys")
    await stage.show_trace()

    await stage.step("D leaves: slots back to A, then CLUSTER FORGET")
    await actions.move_slots(d, a, sorted(slots), others=[b, c])
    await stage.wait_until_all([a, b, c], lambda observer: sees_owner(observer, slots, a),
                               f"A, B and C see A serving slots {format_slots(slots)} again")  # fmt: skip
    stage.say("""
        Look at the end of the trace: when D gave up its last slot it may have become a
        replica of A. A primary left without slots follows the node that took them
        (Redis 7.0, cluster-allow-replica-migration). Either way it holds nothing now:
        CLUSTER FORGET on A, B and C, and D is shut down.""")
    gone = node_id(d)
    await cluster.remove_node(d, timeout=stage.pace.deadline_seconds)
    await stage.wait_for(lambda: all(gone not in core(o).nodes for o in (a, b, c)), "nobody knows D any more")
    await stage.wait_for(lambda: all(core(o).state is ClusterHealth.OK for o in (a, b, c)), "the cluster is ok")
    values = [await call(a.port, "GET", key) for key in keys]
    stage.check(values == [key.upper().encode() for key in keys], "A serves the keys again")
    await stage.show_trace()


# ---------------------------------------------------------------------------------------------
# 8. The NAT trap
# ---------------------------------------------------------------------------------------------
@scenario("nat-trap", "The NAT trap: announced addresses the client cannot reach",
          "nodes behind port mappings announce their inside address: MOVED leads nowhere; fixed with cluster-announce-port")  # fmt: skip
async def nat_trap(stage: Stage) -> None:
    stage.say("""
        Nodes tell clients where slots live: in MOVED and ASK redirections and in
        CLUSTER SLOTS / CLUSTER NODES. They name the address the node believes is its
        own. Behind NAT (Docker with published ports is the classic), that is the
        address INSIDE the container, which the client outside cannot reach. The client
        connects through the published port, asks for a key, gets MOVED to an inside
        address, and fails.

        Here each node is published through a port mapping (like docker run -p), and
        each node believes its address is an inside one on which nothing answers for
        the client. Then we fix it the way you would in Docker: tell each node the
        address clients must use, with cluster-announce-ip and cluster-announce-port.""")
    cluster = await stage.start_cluster(primaries=3)
    a, b = stage.node("A"), stage.node("B")
    mappings: dict[int, PortMapping] = {}
    inside: dict[int, UnreachableAddress] = {}
    for node in cluster.nodes:
        mappings[node.port] = mapping = await PortMapping(node.port).start()
        stage.add_closer(mapping.close)
        inside[node.port] = hole = UnreachableAddress()
        stage.add_closer(_closer(hole.close))
    stage.show("\n".join(f"{stage.label(n)}: published at 127.0.0.1:{mappings[n.port].port} -> node port {n.port}; "
                         f"believes it is 127.0.0.1:{inside[n.port].port}" for n in cluster.nodes))  # fmt: skip

    async def announce(port_of: Callable[[Node], int], what: str) -> None:
        replies = [await call(node.port, "CONFIG", "SET", "cluster-announce-ip", "127.0.0.1",
                              "cluster-announce-port", port_of(node)) for node in cluster.nodes]  # fmt: skip
        stage.require(all(text(reply) == "OK" for reply in replies), "every node accepted CONFIG SET cluster-announce-*",
                      " ".join(text(reply) for reply in replies))  # fmt: skip
        await stage.wait_until_all(cluster.nodes,
                                   lambda observer: all(core(observer).nodes[node_id(n)].port == port_of(n)
                                                        for n in cluster.nodes),
                                   f"every node knows every node by its {what} address")  # fmt: skip

    key = key_in_slots(owned_slots(b), "customer")
    entry = mappings[a.port].port

    await stage.step("Inside addresses: what a node in a container announces")
    await announce(lambda n: inside[n.port].port, "inside")
    follow = await follow_redirect(entry, "GET", key)
    stage.show(follow.transcript)
    stage.check(follow.redirected_to == inside[b.port].port, "A's MOVED names B's inside address")
    stage.check(follow.failed, "the client cannot follow the MOVED", follow.error or "it could")

    await stage.step("The fix: announce the published addresses")
    stage.say("""
        CONFIG SET cluster-announce-ip 127.0.0.1 cluster-announce-port <published port>
        on every node (in a redis.conf or on the command line of each container in real
        life). The nodes gossip their new addresses; every node updates its table.""")
    await announce(lambda n: mappings[n.port].port, "published")
    follow = await follow_redirect(entry, "GET", key)
    stage.show(follow.transcript)
    stage.check(follow.redirected_to == mappings[b.port].port, "A's MOVED names B's published address")
    stage.check(not follow.failed, "the client follows it and gets its answer", follow.error or "")
    slots_reply = await call(entry, "CLUSTER", "SLOTS")
    announced = sorted(int(row[2][1]) for row in slots_reply)
    stage.check(announced == sorted(m.port for m in mappings.values()),
                "CLUSTER SLOTS lists only published addresses", str(announced))  # fmt: skip
    await stage.show_trace()


def _closer(close: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def closer() -> None:
        close()

    return closer


@dataclass
class Followed:
    transcript: str
    redirected_to: int | None = None
    failed: bool = False
    error: str | None = None


async def follow_redirect(port: int, *command: str) -> Followed:
    """What ``redis-cli -c`` does: send the command, and follow one MOVED/ASK if answered."""
    lines = [f"127.0.0.1:{port}> {' '.join(command)}"]
    reply = await call(port, *command)
    lines.append(text(reply))
    if not (is_error(reply, "MOVED") or is_error(reply, "ASK")):
        return Followed("\n".join(lines))
    host, _, target = reply.split()[-1].rpartition(":")
    result = Followed("", redirected_to=int(target))
    lines.append(f"-> Redirected to slot [{reply.split()[1]}] located at {host}:{target}")
    try:
        reply = await call(int(target), *command, host=host)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        result.failed, result.error = True, f"{type(err).__name__}: {reason}"
        lines.append(f"Could not connect to Redis at {host}:{target}: {reason}")
    else:
        lines.append(f"{host}:{target}> {' '.join(command)}\n{text(reply)}")
    result.transcript = "\n".join(lines)
    return result
