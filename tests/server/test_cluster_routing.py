"""The routing decision (Redis's getNodeByQuery) as a pure function: every branch.

Each case follows client-contract.md §3.3 (and the resharding table of §3.6, verified
on redis 7.0.15): a fake slot map (three primaries, a replica of the second one), real
command specs from the command table, and a set of local keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

import pyredis_cluster.server.commands  # noqa: F401  (registers the command table)
from pyredis_cluster.cluster.nodes import ClusterNode, NodeFlags
from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.server.cluster_routing import Route, RouteDecision, SlotView, route
from pyredis_cluster.server.command_table import CommandSpec, KeySpec, lookup

# Keys with known slots (CLUSTER KEYSLOT on redis 7.0.15): foo 12182, c 7365.
SLOT_FOO, SLOT_C = 12182, 7365
assert key_hash_slot(b"foo") == SLOT_FOO and key_hash_slot(b"c") == SLOT_C


def _migrate_keys(args: list[bytes]) -> list[int]:
    """MIGRATE's keys: argument 3, or everything after KEYS when argument 3 is empty."""
    if len(args) > 3 and args[3]:
        return [3]
    for i in range(6, len(args)):
        if args[i].lower() == b"keys":
            return list(range(i + 1, len(args)))
    return []


def _spec(name: str) -> CommandSpec:
    """The command table's spec; MIGRATE/RESTORE-ASKING declared as 7.0 does if not there yet."""
    found = lookup(name.encode())
    if found is not None:
        return found
    if name == "migrate":
        return CommandSpec("migrate", -6, frozenset({"write", "movablekeys"}), frozenset(), (), None, "keys",
                           "2.6.0", "", "", getkeys=_migrate_keys, is_write=True)  # fmt: skip
    if name == "restore-asking":
        return CommandSpec("restore-asking", -4, frozenset({"write", "denyoom", "asking"}), frozenset(),
                           (KeySpec("OW update", index=1),), None, "server", "3.0.0", "", "", is_write=True)  # fmt: skip
    raise KeyError(name)


def _primary(name: str, port: int) -> ClusterNode:
    return ClusterNode(name=name * 40, flags=NodeFlags.PRIMARY, ip="127.0.0.1", port=port)


@dataclass
class Cluster:
    """A slot map: A owns 0-5460, B 5461-10922, C 10923-16383 (foo is C's, c is B's).

    ``migrating``/``importing`` are the open-slot tables of the node under test (myself).
    """

    a: ClusterNode = field(default_factory=lambda: _primary("a", 7000))
    b: ClusterNode = field(default_factory=lambda: _primary("b", 7001))
    c: ClusterNode = field(default_factory=lambda: _primary("c", 7002))
    b_replica: ClusterNode = field(default_factory=lambda: ClusterNode(
        name="d" * 40, flags=NodeFlags.REPLICA, ip="127.0.0.1", port=7003, primary_id="b" * 40))  # fmt: skip
    unassigned: set[int] = field(default_factory=set)
    migrating: dict[int, ClusterNode] = field(default_factory=dict)
    importing: dict[int, ClusterNode] = field(default_factory=dict)

    def owner_of(self, slot: int) -> ClusterNode | None:
        if slot in self.unassigned:
            return None
        return self.a if slot <= 5460 else self.b if slot <= 10922 else self.c

    def view(self, myself: ClusterNode, ok: bool = True, reads_when_down: bool = False,
             pubsubshard_when_down: bool = True) -> SlotView:  # fmt: skip
        return SlotView(owner_of=self.owner_of, myself=myself, migrating_to=self.migrating.get,
                        importing_from=self.importing.get, cluster_ok=ok, allow_reads_when_down=reads_when_down,
                        allow_pubsubshard_when_down=pubsubshard_when_down)  # fmt: skip


def cmd(*words: str) -> tuple[CommandSpec, list[bytes]]:
    args = [w.encode() for w in words]
    name = words[0].lower()
    spec = _spec(name)
    if spec.subcommands and len(words) > 1:
        spec = spec.subcommands[words[1].lower()]
    return spec, args


def decide(cluster: Cluster, myself: ClusterNode, *commands: tuple[CommandSpec, list[bytes]],
           local: Iterable[str] = (), asking: bool = False, readonly: bool = False, **view: bool) -> RouteDecision:  # fmt: skip
    keys = {k.encode() for k in local}
    return route(list(commands), cluster.view(myself, **view), keys.__contains__, asking=asking, readonly=readonly)


@pytest.fixture
def cl() -> Cluster:
    return Cluster()


# -- stable slots ---------------------------------------------------------------------


def test_owner_serves_and_non_owner_gets_moved_to_the_owner(cl: Cluster) -> None:
    assert decide(cl, cl.c, cmd("GET", "foo")).route is Route.LOCAL
    decision = decide(cl, cl.a, cmd("GET", "foo"))
    assert (decision.route, decision.slot, decision.node) == (Route.MOVED, SLOT_FOO, cl.c)


def test_keyless_commands_are_never_redirected(cl: Cluster) -> None:
    for words in (("PING",), ("DBSIZE",), ("KEYS", "*"), ("PUBLISH", "ch", "m"), ("FLUSHALL",)):
        if lookup(words[0].encode()) is None:
            continue
        assert decide(cl, cl.a, cmd(*words), ok=False).route is Route.LOCAL, words


def test_crossslot_and_the_same_key_twice(cl: Cluster) -> None:
    assert decide(cl, cl.c, cmd("MGET", "foo", "c")).route is Route.CROSSSLOT
    # The same key repeated is one key.
    assert decide(cl, cl.c, cmd("MGET", "foo", "foo")).route is Route.LOCAL
    assert decide(cl, cl.c, cmd("MSET", "{foo}a", "1", "{foo}b", "2")).route is Route.LOCAL
    # CROSSSLOT is found before the owner matters: a non-owner answers CROSSSLOT too.
    assert decide(cl, cl.a, cmd("MGET", "foo", "c")).route is Route.CROSSSLOT


def test_unassigned_slot_is_clusterdown_unbound_even_before_crossslot(cl: Cluster) -> None:
    cl.unassigned.add(SLOT_FOO)
    decision = decide(cl, cl.c, cmd("MGET", "foo", "c"))
    assert (decision.route, decision.slot) == (Route.DOWN_UNBOUND, SLOT_FOO)


# -- cluster down ------------------------------------------------------------------------


def test_cluster_down_refuses_everything_by_default(cl: Cluster) -> None:
    assert decide(cl, cl.c, cmd("GET", "foo"), ok=False).route is Route.DOWN_STATE
    assert decide(cl, cl.c, cmd("SET", "foo", "1"), ok=False).route is Route.DOWN_STATE
    # Before the owner check: a non-owner says CLUSTERDOWN, not MOVED.
    assert decide(cl, cl.a, cmd("GET", "foo"), ok=False).route is Route.DOWN_STATE


def test_cluster_down_with_reads_allowed(cl: Cluster) -> None:
    assert decide(cl, cl.c, cmd("GET", "foo"), ok=False, reads_when_down=True).route is Route.LOCAL
    assert decide(cl, cl.c, cmd("SET", "foo", "1"), ok=False, reads_when_down=True).route is Route.DOWN_RO_STATE
    # Reads still go to the owner.
    assert decide(cl, cl.a, cmd("GET", "foo"), ok=False, reads_when_down=True).route is Route.MOVED


def test_cluster_down_and_sharded_pubsub(cl: Cluster) -> None:
    assert decide(cl, cl.c, cmd("SPUBLISH", "foo", "m"), ok=False).route is Route.LOCAL
    assert decide(cl, cl.c, cmd("SSUBSCRIBE", "foo"), ok=False, pubsubshard_when_down=False).route is Route.DOWN_STATE
    # The reads-when-down setting does not apply to sharded pub/sub.
    down = decide(cl, cl.c, cmd("SPUBLISH", "foo", "m"), ok=False, reads_when_down=True, pubsubshard_when_down=False)
    assert down.route is Route.DOWN_STATE


# -- migrating slot (source side) ----------------------------------------------------------


def test_migrating_slot_serves_existing_keys_asks_for_missing_ones(cl: Cluster) -> None:
    cl.migrating[SLOT_FOO] = cl.b
    assert decide(cl, cl.c, cmd("GET", "foo"), local={"foo"}).route is Route.LOCAL
    decision = decide(cl, cl.c, cmd("GET", "foo"))
    assert (decision.route, decision.slot, decision.node) == (Route.ASK, SLOT_FOO, cl.b)
    # Writes to a missing key are asked too (the key will be created on the target).
    assert decide(cl, cl.c, cmd("SET", "foo", "v")).route is Route.ASK


def test_migrating_slot_tryagain_when_some_keys_exist(cl: Cluster) -> None:
    cl.migrating[SLOT_FOO] = cl.b
    assert decide(cl, cl.c, cmd("MGET", "foo", "{foo}x"), local={"foo"}).route is Route.TRYAGAIN
    # Every key missing: ASK, not TRYAGAIN.
    assert decide(cl, cl.c, cmd("MGET", "foo", "{foo}x")).route is Route.ASK
    assert decide(cl, cl.c, cmd("MGET", "foo", "{foo}x"), local={"foo", "{foo}x"}).route is Route.LOCAL


def test_migrate_is_served_locally_in_an_open_slot(cl: Cluster) -> None:
    cl.migrating[SLOT_FOO] = cl.b
    assert decide(cl, cl.c, cmd("MIGRATE", "127.0.0.1", "7001", "foo", "0", "1000")).route is Route.LOCAL
    assert decide(cl, cl.c, cmd("MIGRATE", "127.0.0.1", "7001", "", "0", "1000", "KEYS", "foo", "{foo}x")).route is Route.LOCAL
    # A stable slot owned elsewhere: MIGRATE is MOVED like any command.
    assert decide(cl, cl.a, cmd("MIGRATE", "127.0.0.1", "7001", "foo", "0", "1000")).route is Route.MOVED


def test_migrating_state_on_a_non_owner_is_not_migrating(cl: Cluster) -> None:
    cl.migrating[SLOT_FOO] = cl.b  # stale migrating entry on A, which does not own the slot
    assert decide(cl, cl.a, cmd("GET", "foo")).route is Route.MOVED


# -- importing slot (target side) ----------------------------------------------------------


def test_importing_slot_needs_asking(cl: Cluster) -> None:
    cl.importing[SLOT_FOO] = cl.c
    decision = decide(cl, cl.b, cmd("GET", "foo"))
    assert (decision.route, decision.node) == (Route.MOVED, cl.c)
    assert decide(cl, cl.b, cmd("GET", "foo"), asking=True).route is Route.LOCAL
    assert decide(cl, cl.b, cmd("SET", "foo", "v"), asking=True).route is Route.LOCAL
    # READONLY does not help on the target.
    assert decide(cl, cl.b, cmd("GET", "foo"), readonly=True).route is Route.MOVED


def test_importing_slot_tryagain_for_several_keys_with_one_missing(cl: Cluster) -> None:
    cl.importing[SLOT_FOO] = cl.c
    assert decide(cl, cl.b, cmd("MGET", "foo", "{foo}x"), local={"foo"}, asking=True).route is Route.TRYAGAIN
    assert decide(cl, cl.b, cmd("MGET", "foo", "{foo}x"), local={"foo", "{foo}x"}, asking=True).route is Route.LOCAL
    # The same key twice is one key: served even though it is missing.
    assert decide(cl, cl.b, cmd("MGET", "foo", "foo"), asking=True).route is Route.LOCAL


def test_restore_asking_carries_its_own_asking_flag(cl: Cluster) -> None:
    cl.importing[SLOT_FOO] = cl.c
    assert decide(cl, cl.b, cmd("RESTORE-ASKING", "foo", "0", "payload")).route is Route.LOCAL
    # Where the slot is not importing, it is routed like RESTORE.
    del cl.importing[SLOT_FOO]
    assert decide(cl, cl.b, cmd("RESTORE-ASKING", "foo", "0", "payload")).route is Route.MOVED


# -- replicas ---------------------------------------------------------------------------------


def test_readonly_replica_serves_reads_of_its_primary_slots(cl: Cluster) -> None:
    replica = cl.b_replica
    assert decide(cl, replica, cmd("GET", "c")).node is cl.b  # MOVED without READONLY
    assert decide(cl, replica, cmd("GET", "c"), readonly=True).route is Route.LOCAL
    assert decide(cl, replica, cmd("MGET", "c", "{c}2"), readonly=True).route is Route.LOCAL
    moved = decide(cl, replica, cmd("SET", "c", "1"), readonly=True)
    assert (moved.route, moved.slot, moved.node) == (Route.MOVED, SLOT_C, cl.b)
    # Another primary's slot: MOVED there.
    assert decide(cl, replica, cmd("GET", "foo"), readonly=True).node is cl.c


def test_sharded_pubsub_is_served_by_a_replica_without_readonly(cl: Cluster) -> None:
    replica = cl.b_replica
    for words in (("SSUBSCRIBE", "c"), ("SPUBLISH", "c", "m"), ("SUNSUBSCRIBE", "c")):
        assert decide(cl, replica, cmd(*words)).route is Route.LOCAL, words
    assert decide(cl, replica, cmd("SSUBSCRIBE", "foo")).node is cl.c
    assert decide(cl, replica, cmd("SSUBSCRIBE", "c", "foo")).route is Route.CROSSSLOT


def test_sharded_pubsub_skips_the_key_lookup_in_an_open_slot(cl: Cluster) -> None:
    cl.migrating[SLOT_FOO] = cl.b
    # A channel is not a key: no ASK, served by the owner.
    assert decide(cl, cl.c, cmd("SPUBLISH", "foo", "m")).route is Route.LOCAL


# -- transactions ---------------------------------------------------------------------------


def _exec_over(cl: Cluster, myself: ClusterNode, *queued: tuple[CommandSpec, list[bytes]], **kw: bool) -> RouteDecision:
    return decide(cl, myself, *queued, **kw)


def test_exec_checks_every_queued_command_as_one_group(cl: Cluster) -> None:
    assert _exec_over(cl, cl.c, cmd("SET", "{foo}a", "1"), cmd("GET", "{foo}b")).route is Route.LOCAL
    assert _exec_over(cl, cl.c, cmd("SET", "foo", "1"), cmd("SET", "c", "2")).route is Route.CROSSSLOT
    assert _exec_over(cl, cl.c, cmd("PING",), cmd("DBSIZE",)).route is Route.LOCAL


def test_exec_with_a_queued_write_is_not_served_by_a_readonly_replica(cl: Cluster) -> None:
    replica = cl.b_replica
    assert _exec_over(cl, replica, cmd("GET", "c"), cmd("TTL", "c"), readonly=True).route is Route.LOCAL
    assert _exec_over(cl, replica, cmd("GET", "c"), cmd("INCR", "c"), readonly=True).route is Route.MOVED


# -- the gate's hot path ------------------------------------------------------------------------


def test_fast_path_only_claims_what_the_full_decision_serves_locally() -> None:
    """ClusterSupport skips route() when it is sure: never for a request route() would refuse."""
    import random
    from types import SimpleNamespace

    from pyredis_cluster.cluster.state import ClusterHealth
    from pyredis_cluster.server.cluster_node import ClusterSupport
    from pyredis_cluster.server.command_table import all_commands

    cl = Cluster()
    cl.c.flags |= NodeFlags.MYSELF
    state = SimpleNamespace(state=ClusterHealth.OK, migrating_slots_to={}, importing_slots_from={},
                            slot_owner=[cl.owner_of(s) for s in range(16384)], myself=cl.c)  # fmt: skip
    support = SimpleNamespace(state=state)
    rng = random.Random(7)
    specs = [s for top in all_commands() for s in [top, *top.subcommands.values()] if s.key_specs or s.getkeys]
    claimed = 0
    for _ in range(3000):
        spec = rng.choice(specs)
        argc = spec.arity if spec.arity > 0 else rng.randint(-spec.arity, 8)  # what arity lets through
        words = [rng.choice([b"foo", b"{foo}x", b"c", b"{c}y", b"1", b"keys"]) for _ in range(argc)]
        args = [spec.name.encode(), *words[1:]] if spec.parent is None else [
            spec.parent.name.encode(), spec.name.split("|")[1].encode(), *words[2:]]  # fmt: skip
        if ClusterSupport._served_here_for_sure(support, spec, args):  # type: ignore[arg-type]
            claimed += 1
            assert decide(cl, cl.c, (spec, args)).route is Route.LOCAL, args
    assert claimed > 100
