"""``redis-cli --cluster fix`` against our nodes, judged by what it does against redis-server 7.0.15.

Theory of operation
-------------------
``fix`` runs ``check`` and repairs what it finds (redis-cli.c 7.0: clusterManagerFixOpenSlot,
clusterManagerFixSlotsCoverage, clusterManagerFixMultipleSlotOwners). It probes the nodes with
CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT, rewrites ownership with a MULTI of CLUSTER DELSLOTS,
ADDSLOTS, SETSLOT STABLE and BUMPEPOCH, re-opens slots with SETSLOT NODE / IMPORTING, and moves
keys with MIGRATE, sometimes from a node that does not own the slot ("cold" moves). Every one
of those replies (and its errors) decides what redis-cli does next.

So each broken state is built the same way on two 3-primary clusters, one of our nodes and
one of real redis-server nodes; ``fix`` runs on both, and its output, with addresses and ids
replaced by node names, must be the same line for line. The expected output is thus the real
server's, never ours. Afterwards ``check`` must pass (or fail) on both alike and every key
must still read back through a cluster client.

The last test kills redis-cli itself in the middle of a ``reshard`` (SIGKILL by its PID once
CLUSTER NODES shows the ``[slot->-id]`` / ``[slot-<-id]`` marks and some keys have moved),
then ``fix`` closes the slot; once between two nodes of ours, once from a real
redis-server (its MIGRATE, our RESTORE-ASKING) to ours.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster

from pyredis_cluster.cluster.slots import key_hash_slot
from tests.cluster_procs import (
    DEADLINE,
    ClusterProc,
    cluster_nodes,
    create_cluster,
    redis_cli,
    wait,
    wait_cluster_ok,
    wait_converged,
)

#: First slot of the first primary's range (redis-cli create gives it 0-5460).
FIRST = 0


@pytest.fixture(scope="module", params=["ours", "real"])
def cluster(request: pytest.FixtureRequest) -> Iterator[list[ClusterProc]]:
    with cluster_nodes(**{request.param: 3}) as nodes:
        created = create_cluster(nodes)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        wait_converged(nodes)
        yield nodes


#: Normalized ``fix`` output per scenario and kind, for the comparison test at the end.
OUTPUTS: dict[str, dict[str, str]] = {}


def keys_in(slot: int, count: int, prefix: str) -> list[str]:
    tag = next(f"t{i}" for i in range(1_000_000) if key_hash_slot(f"t{i}".encode()) == slot)
    return [f"{{{tag}}}:{prefix}:{i}" for i in range(count)]


def normalize(text: str, nodes: list[ClusterProc]) -> str:
    """Output without colours, with N0/N1/N2 for addresses and ids, and no random choice."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    for index, node in enumerate(nodes):
        text = text.replace(node.address, f"N{index}").replace(node.myid(), f"N{index}-id")
        text = text.replace(node.myid()[:8], f"N{index}-id")  # the "(abcd1234...)" short ids
    # Slots without keys are covered "with a random node": which primary redis-cli draws
    # is not ours to match.
    listed = re.search(r"have no keys across the cluster:\n(.*)\n", text)
    for slot in re.findall(r"\d+", listed.group(1)) if listed else []:
        text = re.sub(rf">>> Covering slot {slot} with N\d", f">>> Covering slot {slot} with <random>", text)
    return text


def fix(nodes: list[ClusterProc], *extra: str) -> subprocess.CompletedProcess[str]:
    # Coverage fixes ask for an explicit "yes" even with --cluster-yes (ignore_force).
    return redis_cli("--cluster", "fix", nodes[0].address, *extra, "--cluster-yes", stdin="yes\n" * 8)


def read_all(nodes: list[ClusterProc], names: list[str]) -> list[str | None]:
    client = RedisCluster(host="127.0.0.1", port=nodes[0].port, decode_responses=True)
    try:
        return [client.get(name) for name in names]
    finally:
        client.close()


def run_scenario(name: str, nodes: list[ClusterProc], names: list[str], *fix_args: str) -> str:
    fixed = fix(nodes, *fix_args)
    output = normalize(fixed.stdout + fixed.stderr, nodes)
    OUTPUTS.setdefault(name, {})[nodes[0].kind] = output
    return output


def check_passes(nodes: list[ClusterProc]) -> None:
    wait_converged(nodes)
    checked = redis_cli("--cluster", "check", nodes[0].address)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[ERR]" not in checked.stdout and "[WARNING]" not in checked.stdout, checked.stdout


# -- open slots ---------------------------------------------------------------------------------


def open_slot(nodes: list[ClusterProc], slot: int, keys: int, moved: int) -> list[str]:
    """Slot ``slot`` of N0 half-way to N1, as an interrupted reshard leaves it."""
    source, target = nodes[0], nodes[1]
    names = keys_in(slot, keys, "open")
    for key in names:
        assert source.call("SET", key, key) == "OK"
    assert target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", source.myid()) == "OK"
    assert source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", target.myid()) == "OK"
    if moved:
        assert source.call("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *names[:moved]) == "OK"
    assert target.call("CLUSTER", "COUNTKEYSINSLOT", slot) == moved
    return names


@pytest.mark.parametrize("moved", [0, 8, 20], ids=["none-moved", "some-moved", "all-moved"])
def test_fix_closes_an_open_slot(cluster: list[ClusterProc], moved: int) -> None:
    slot = FIRST + 10 + moved
    names = open_slot(cluster, slot, keys=20, moved=moved)
    output = run_scenario(f"open-{moved}", cluster, names)
    assert f">>> Fixing open slot {slot}" in output, output
    check_passes(cluster)
    assert read_all(cluster, names) == names
    assert sum(node.call("CLUSTER", "COUNTKEYSINSLOT", slot) for node in cluster) == len(names)


# -- uncovered slots ------------------------------------------------------------------------------


def test_fix_covers_slots_deleted_from_their_owner(cluster: list[ClusterProc]) -> None:
    """CLUSTER DELSLOTS on the owner: an empty slot goes to a random primary, one with keys to
    the node holding them."""
    empty_slot, full_slot = FIRST + 40, FIRST + 41
    names = keys_in(full_slot, 5, "uncovered")
    owner = cluster[0]
    for key in names:
        assert owner.call("SET", key, key) == "OK"
    assert owner.call("CLUSTER", "DELSLOTS", empty_slot, full_slot) == "OK"
    output = run_scenario("uncovered", cluster, names)
    assert "[ERR] Not all 16384 slots are covered by nodes." in output, output
    assert f">>> Covering slot {full_slot} with N0" in output, output
    check_passes(cluster)
    assert read_all(cluster, names) == names


# -- keys where the owner is not ------------------------------------------------------------------


def keys_on_a_non_owner(nodes: list[ClusterProc], slot: int, prefix: str) -> tuple[list[str], list[str]]:
    """Keys of N0's ``slot`` on N0 and on N1 (written with ASKING while N1 imported it, then
    N1 left IMPORTING: what a restarted half-migration looks like)."""
    owner, stray = nodes[0], nodes[1]
    on_owner, on_stray = keys_in(slot, 6, prefix + "-owner"), keys_in(slot, 3, prefix + "-stray")
    for key in on_owner:
        assert owner.call("SET", key, key) == "OK"
    assert stray.call("CLUSTER", "SETSLOT", slot, "IMPORTING", owner.myid()) == "OK"
    with stray.connect() as conn:
        for key in on_stray:
            assert conn.call("ASKING") == "OK" and conn.call("SET", key, key) == "OK"
    return on_owner, on_stray


def test_fix_moves_keys_from_an_importing_non_owner_to_the_owner(cluster: list[ClusterProc]) -> None:
    slot = FIRST + 50
    on_owner, on_stray = keys_on_a_non_owner(cluster, slot, "importing")
    output = run_scenario("stray-importing", cluster, on_owner + on_stray)
    assert f"Case 2: Moving all the {slot} slot keys to its owner N0" in output, output
    check_passes(cluster)
    assert cluster[1].call("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    assert read_all(cluster, on_owner + on_stray) == on_owner + on_stray


def test_search_multiple_owners_does_what_7_0_does(cluster: list[ClusterProc]) -> None:
    """Keys on a non-owner found only by --cluster-search-multiple-owners. 7.0's fix gives the
    slot to the node with most keys, then MIGRATEs from the other one "cold": that node no
    longer owns the slot and is not importing it, so MIGRATE answers MOVED and fix gives up.
    Our nodes must answer the same, so redis-cli stops at the same place."""
    slot = FIRST + 60
    on_owner, on_stray = keys_on_a_non_owner(cluster, slot, "multi")
    assert cluster[1].call("CLUSTER", "SETSLOT", slot, "STABLE") == "OK"
    output = run_scenario("multiple-owners", cluster, on_owner + on_stray, "--cluster-search-multiple-owners")
    assert f"[WARNING] Slot {slot} has 2 owners:" in output, output
    assert f"MOVED {slot} N0" in output, output
    # Clean up like an operator would: the stray keys go by hand (ASKING on an importing slot).
    stray = cluster[1]
    assert stray.call("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster[0].myid()) == "OK"
    with stray.connect() as conn:
        for key in on_stray:
            assert conn.call("ASKING") == "OK" and conn.call("DEL", key) == 1
    assert stray.call("CLUSTER", "SETSLOT", slot, "STABLE") == "OK"
    check_passes(cluster)
    assert read_all(cluster, on_owner) == on_owner


@pytest.mark.parametrize("same_value", [True, False], ids=["same-value", "different-value"])
def test_fix_meets_a_key_on_both_sides(cluster: list[ClusterProc], same_value: bool) -> None:
    """The stray copy of a key exists on the owner too: MIGRATE answers BUSYKEY, redis-cli
    compares DEBUG DIGEST-VALUE on both nodes, replaces equal values and refuses to
    overwrite different ones."""
    slot = FIRST + 70 + same_value
    on_owner, on_stray = keys_on_a_non_owner(cluster, slot, f"busy-{same_value}")
    owner, stray = cluster[0], cluster[1]
    clash = on_owner[0]
    with stray.connect() as conn:
        assert conn.call("ASKING") == "OK"
        assert conn.call("SET", clash, clash if same_value else "another value") == "OK"
    output = run_scenario(f"busy-{same_value}", cluster, on_owner + on_stray)
    assert "*** Target key exists" in output, output
    if same_value:
        assert "*** Replacing target keys..." in output, output
    else:
        assert "*** Found 1 key(s) in both source node and target node having different values." in output, output
        assert owner.call("GET", clash) == clash.encode()  # nothing overwritten
        # The operator settles it by hand and runs fix again.
        with stray.connect() as conn:
            assert conn.call("ASKING") == "OK" and conn.call("DEL", clash) == 1
        assert fix(cluster).returncode == 0
    check_passes(cluster)
    assert stray.call("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    assert read_all(cluster, on_owner + on_stray) == on_owner + on_stray


def test_fix_output_is_the_same_as_against_redis_server() -> None:
    """Runs after both parameterisations of the scenarios above (module order)."""
    compared = {name: kinds for name, kinds in OUTPUTS.items() if len(kinds) == 2}
    assert len(compared) == 8, sorted(OUTPUTS)
    for name, kinds in compared.items():
        ours, real = (_comparable(kinds[kind]) for kind in ("ours", "real"))
        assert ours == real, f"{name}:\n{kinds['ours']}\n---\n{kinds['real']}"


def _comparable(output: str) -> list[str]:
    """The lines of a ``fix`` output that must match the real server's, sorted.

    Sorted because redis-cli visits the nodes in the order of the first node's CLUSTER
    NODES, which redis-server takes from a hash table of the (random) node ids. Slot lists
    and counts are left out: the "uncovered" scenario gave an empty slot to a random
    primary, which later outputs show and nothing else.
    """
    lines = []
    for line in output.splitlines():
        if line.startswith("   slots:"):
            continue
        line = re.sub(r"\| \d+ slots \|", "| _ slots |", line)
        line = re.sub(r"(in: )(.*)", lambda m: m.group(1) + ",".join(sorted(m.group(2).split(","))), line)
        lines.append(line)
    return sorted(lines)


# -- redis-cli killed in the middle of a reshard --------------------------------------------------


def _marks(node: ClusterProc) -> list[str]:
    return [token for fields in node.nodes_lines() if "myself" in fields[2] for token in fields[8:]
            if token.startswith("[")]  # fmt: skip


@pytest.mark.parametrize("source_kind", ["ours", "real"])
def test_fix_after_redis_cli_is_killed_mid_reshard(source_kind: str) -> None:
    """Moving a slot from a node of ours to another, or from a real redis-server to ours."""
    with cluster_nodes(ours=2 if source_kind == "real" else 3, real=1 if source_kind == "real" else 0) as started:
        nodes = sorted(started, key=lambda node: node.kind != source_kind)  # the source first: it gets slot 0
        created = create_cluster(nodes)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        wait_converged(nodes)
        source, target = nodes[0], nodes[1]
        source_id, target_id = source.myid(), target.myid()
        # The reshard below moves the source's lowest slot: fill it with keys, moved one
        # MIGRATE at a time (--cluster-pipeline 1), so the move takes a while.
        names = keys_in(FIRST, 3000, "killed")
        with source.connect() as conn:
            for start in range(0, len(names), 500):
                chunk = names[start:start + 500]
                assert conn.call("MSET", *[part for key in chunk for part in (key, key)]) == "OK"
        reshard = subprocess.Popen(
            ["redis-cli", "--cluster", "reshard", source.address, "--cluster-from", source_id,
             "--cluster-to", target_id, "--cluster-slots", "1", "--cluster-yes", "--cluster-pipeline", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            def half_way() -> bool:
                return (f"[{FIRST}->-{target_id}]" in _marks(source) and f"[{FIRST}-<-{source_id}]" in _marks(target)
                        and target.call("CLUSTER", "COUNTKEYSINSLOT", FIRST) > 0)  # fmt: skip

            wait(half_way, what="redis-cli half-way through the slot", nodes=nodes)
            reshard.kill()  # SIGKILL, by the PID we started
        finally:
            if reshard.poll() is None:
                reshard.kill()
            reshard.wait(timeout=DEADLINE)
        # A MIGRATE redis-cli sent just before dying still completes: wait until the two
        # counts add up (nothing moves after that).
        def counts_add_up() -> tuple[int, int] | None:
            on_target = target.call("CLUSTER", "COUNTKEYSINSLOT", FIRST)
            on_source = source.call("CLUSTER", "COUNTKEYSINSLOT", FIRST)
            return (on_target, on_source) if on_target + on_source == len(names) else None

        on_target, on_source = wait(counts_add_up, what="the last MIGRATE to finish", nodes=nodes)
        assert on_target > 0 and on_source > 0  # killed with keys on both sides
        checked = redis_cli("--cluster", "check", source.address)
        assert checked.returncode != 0 and f"The following slots are open: {FIRST}." in checked.stdout, checked.stdout

        fixed = fix(nodes)
        assert f">>> Fixing open slot {FIRST}" in fixed.stdout, fixed.stdout + fixed.stderr
        check_passes(nodes)
        assert sum(node.call("CLUSTER", "COUNTKEYSINSLOT", FIRST) for node in nodes) == len(names)
        assert all(not _marks(node) for node in nodes)
        assert read_all(nodes, names) == names
