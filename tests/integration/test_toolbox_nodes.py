"""The rest of the ``redis-cli --cluster`` toolbox against our nodes: backup, import over
existing keys, add-node as a replica, del-node of a replica and of an emptied primary.

Theory of operation
-------------------
One cluster of three primaries of ours (real processes, made by ``redis-cli --cluster
create``) serves the whole module; each test adds the nodes it needs and removes them.
What is expected comes from redis-cli 7.0.15's code and from a real redis-server:

* ``backup`` sends SYNC to every primary and stores the RDB it gets next to a nodes.json;
  the files are loaded by a *real* redis-server, which must find every key.
* ``import`` without ``--cluster-replace`` stops at the first key the cluster already
  has (BUSYKEY); the error it prints must be the same whether the source is a standalone
  node of ours or a real redis-server. With ``--cluster-replace --cluster-copy`` the
  cluster's value is replaced and the source keeps its keys.
* ``add-node --cluster-slave`` (with ``--cluster-master-id``, or letting redis-cli choose
  the primary with fewest replicas) makes a replica that syncs its primary's data.
* ``rebalance --cluster-use-empty-masters`` with a weight gives a new primary its
  weighted share (``--cluster-simulate`` first: nothing moves).
* ``del-node`` sends CLUSTER FORGET to every other node and CLUSTER RESET SOFT to the
  removed one: the others drop it from CLUSTER NODES, and the removed node knows only
  itself (a removed replica also loses its data, as 7.0's reset flushes a replica).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.testing.threaded import node_in_thread
from tests.cluster_procs import (
    ClusterProc,
    cluster_nodes,
    create_cluster,
    redis_cli,
    wait,
    wait_cluster_ok,
    wait_converged,
)
from tests.support import real_redis_server


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[ClusterProc]]:
    with cluster_nodes(ours=3) as nodes:
        created = create_cluster(nodes)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        wait_converged(nodes)
        yield nodes


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def check_passes(node: ClusterProc, primaries: int, replicas: int = 0) -> None:
    checked = redis_cli("--cluster", "check", node.address)
    out = plain(checked.stdout)
    assert checked.returncode == 0, out + checked.stderr
    assert "[ERR]" not in out and "[WARNING]" not in out, out
    assert len(re.findall(r"^M: ", out, re.M)) == primaries and len(re.findall(r"^S: ", out, re.M)) == replicas, out


def owned_slots(node: ClusterProc) -> set[int]:
    mine = next(f for f in node.nodes_lines() if "myself" in f[2])
    owned: set[int] = set()
    for token in mine[8:]:
        if not token.startswith("["):
            first, _, last = token.partition("-")
            owned.update(range(int(first), int(last or first) + 1))
    return owned


def write_keys(node: ClusterProc, prefix: str, count: int) -> dict[str, str]:
    client = RedisCluster(host="127.0.0.1", port=node.port, decode_responses=True)
    try:
        data = {f"{prefix}:{i}": f"value-{i}" for i in range(count)}
        pipe = client.pipeline(transaction=False)
        for key, value in data.items():
            pipe.set(key, value)
        assert all(pipe.execute())
        return data
    finally:
        client.close()


def read_keys(node: ClusterProc, keys: list[str]) -> list[str | None]:
    client = RedisCluster(host="127.0.0.1", port=node.port, decode_responses=True)
    try:
        return [client.get(key) for key in keys]
    finally:
        client.close()


# -- backup --------------------------------------------------------------------------------------


def test_backup_saves_an_rdb_per_primary_that_redis_server_loads(cluster: list[ClusterProc]) -> None:
    data = write_keys(cluster[0], "backup", 600)
    directory = tempfile.mkdtemp(prefix="cluster-backup-")
    try:
        backed = redis_cli("--cluster", "backup", cluster[0].address, directory)
        out = plain(backed.stdout)
        assert backed.returncode == 0, out + backed.stderr
        assert f"[OK] Backup created into: {directory}" in out, out
        assert backed.stderr.count("Transfer finished with success") == 3, backed.stderr
        with open(os.path.join(directory, "nodes.json")) as handle:
            described = json.load(handle)
        assert sorted(entry["name"] for entry in described) == sorted(n.myid() for n in cluster)
        assert sum(entry["slots_count"] for entry in described) == 16384

        found: dict[str, str] = {}
        for node in cluster:
            filename = f"redis-node-127.0.0.1-{node.port}-{node.myid()}.rdb"
            assert os.path.exists(os.path.join(directory, filename)), os.listdir(directory)
            slots = owned_slots(node)
            # A real redis-server loads the file as its dataset (the last --dir wins).
            with real_redis_server("--dir", directory, "--dbfilename", filename) as port, \
                    redis.Redis(port=port, decode_responses=True) as real:
                keys = list(real.scan_iter("backup:*", count=1000))
                assert all(key_hash_slot(k.encode()) in slots for k in keys)
                found.update(zip(keys, real.mget(keys) if keys else []))
        assert found == data
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- import over existing keys --------------------------------------------------------------------


def _import(target: ClusterProc, source_port: int, *options: str) -> tuple[int, str]:
    imported = redis_cli("--cluster", "import", target.address, "--cluster-from", f"127.0.0.1:{source_port}",
                         *options, timeout=120)  # fmt: skip
    return imported.returncode, plain(imported.stdout + imported.stderr)


def test_import_stops_on_busykey_unless_replace(cluster: list[ClusterProc]) -> None:
    busy = "import:busy"
    client = RedisCluster(host="127.0.0.1", port=cluster[0].port, decode_responses=True)
    try:
        assert client.set(busy, "in-the-cluster")
        errors = {}
        with node_in_thread() as ours, real_redis_server() as real_port:
            for kind, port in (("ours", ours.port), ("real", real_port)):
                with redis.Redis(port=port, decode_responses=True) as source:
                    source.set(busy, f"from-{kind}")
                    code, out = _import(cluster[1], port)
                    assert code != 0, out
                    errors[kind] = out[out.index("Migrating import:busy"):].replace(str(port), "SOURCE")
                    assert client.get(busy) == "in-the-cluster" and source.get(busy) == f"from-{kind}"
            # The target's refusal (our RESTORE) wrapped by the source's MIGRATE: the same text
            # whether the MIGRATE ran on our node or on redis-server.
            assert errors["ours"] == errors["real"], errors
            assert "BUSYKEY Target key name already exists." in errors["ours"], errors

            with redis.Redis(port=ours.port, decode_responses=True) as source:
                extra = {f"import:copy:{i}": str(i) for i in range(50)}
                source.mset(extra)
                code, out = _import(cluster[2], ours.port, "--cluster-replace", "--cluster-copy")
                assert code == 0, out
                assert client.get(busy) == "from-ours"  # replaced
                assert source.dbsize() == 51  # copied: the source keeps everything
                assert read_keys(cluster[0], list(extra)) == list(extra.values())
    finally:
        client.close()


# -- add-node as a replica, del-node ----------------------------------------------------------------


def _replica_of(node: ClusterProc) -> str | None:
    mine = next(f for f in node.nodes_lines() if "myself" in f[2])
    return mine[3] if "slave" in mine[2] else None


def _synced(replica: ClusterProc) -> bool:
    info = replica.text("INFO", "replication")
    return "master_link_status:up" in info and "master_sync_in_progress:0" in info


def _readonly_values(replica: ClusterProc, keys: list[str]) -> list[bytes | None]:
    with replica.connect() as conn:
        assert conn.call("READONLY") == "OK"
        return [conn.call("GET", key) for key in keys]


def _forgotten_everywhere(nodes: list[ClusterProc], node_id: str) -> bool:
    return all(all(f[0] != node_id for f in n.nodes_lines()) for n in nodes)


def _assert_reset(node: ClusterProc, node_id: str) -> None:
    """What CLUSTER RESET SOFT leaves: the same id, only itself known, a primary."""
    assert node.myid() == node_id
    assert [f[2] for f in node.nodes_lines()] == ["myself,master"]
    assert node.cluster_info()["cluster_known_nodes"] == "1"


def test_add_node_as_replica_syncs_and_del_node_resets_it(cluster: list[ClusterProc]) -> None:
    primary = cluster[0]
    primary_id = primary.myid()
    data = write_keys(primary, "replicated", 300)
    mine = [key for key in data if key_hash_slot(key.encode()) in owned_slots(primary)]
    with cluster_nodes(ours=2) as (chosen, automatic):
        added = redis_cli("--cluster", "add-node", chosen.address, cluster[1].address, "--cluster-slave",
                          "--cluster-master-id", primary_id)  # fmt: skip
        assert "[OK] New node added correctly." in plain(added.stdout), added.stdout + added.stderr
        everyone = [*cluster, chosen]
        wait(lambda: _replica_of(chosen) == primary_id and _synced(chosen), what="the replica to sync",
             nodes=everyone)  # fmt: skip
        wait_cluster_ok(everyone)
        assert _readonly_values(chosen, mine) == [data[key].encode() for key in mine]

        # Without --cluster-master-id redis-cli picks a primary with the fewest replicas:
        # not ``primary``, which has one now.
        added = redis_cli("--cluster", "add-node", automatic.address, cluster[2].address, "--cluster-slave")
        assert "[OK] New node added correctly." in plain(added.stdout), added.stdout + added.stderr
        everyone.append(automatic)
        wait(lambda: _replica_of(automatic) not in (None, primary_id) and _synced(automatic),
             what="the second replica to sync", nodes=everyone)  # fmt: skip
        wait_cluster_ok(everyone)
        other = next(n for n in cluster if n.myid() == _replica_of(automatic))
        theirs = [key for key in data if key_hash_slot(key.encode()) in owned_slots(other)]
        assert theirs and _readonly_values(automatic, theirs) == [data[key].encode() for key in theirs]
        check_passes(cluster[0], primaries=3, replicas=2)

        for replica in (chosen, automatic):
            replica_id = replica.myid()
            removed = redis_cli("--cluster", "del-node", cluster[0].address, replica_id)
            assert removed.returncode == 0, removed.stdout + removed.stderr
            assert ">>> Sending CLUSTER RESET SOFT to the deleted node." in plain(removed.stdout)
            everyone.remove(replica)
            assert _forgotten_everywhere(everyone, replica_id)
            _assert_reset(replica, replica_id)
            assert replica.call("DBSIZE") == 0  # 7.0's reset flushes a replica's data
    wait_cluster_ok(cluster)
    check_passes(cluster[0], primaries=3)
    assert read_keys(cluster[0], list(data)) == list(data.values())


def test_rebalance_to_an_empty_primary_then_del_node_once_emptied(cluster: list[ClusterProc]) -> None:
    """rebalance --cluster-use-empty-masters with a weight (first with --cluster-simulate),
    then reshard everything back and del-node the emptied primary."""
    donor = cluster[0]
    donor_id = donor.myid()
    with cluster_nodes(ours=1) as (newcomer,):
        added = redis_cli("--cluster", "add-node", newcomer.address, donor.address)
        assert "[OK] New node added correctly." in plain(added.stdout), added.stdout + added.stderr
        everyone = [*cluster, newcomer]
        wait_cluster_ok(everyone)
        newcomer_id = newcomer.myid()
        data = write_keys(donor, "emptied", 400)
        slot_of_every_key = [key_hash_slot(key) for node in cluster for key in node.call("KEYS", "*")]

        rebalance = ["--cluster", "rebalance", donor.address, "--cluster-use-empty-masters",
                     "--cluster-weight", f"{newcomer_id}=0.1"]  # fmt: skip
        simulated = redis_cli(*rebalance, "--cluster-simulate", timeout=120)
        assert simulated.returncode == 0 and "Moving" in simulated.stdout, simulated.stdout + simulated.stderr
        assert not owned_slots(newcomer) and newcomer.call("DBSIZE") == 0  # a simulation moves nothing
        rebalanced = redis_cli(*rebalance, timeout=300)
        assert rebalanced.returncode == 0, rebalanced.stdout[-2000:] + rebalanced.stderr
        wait_converged(everyone)
        # Weights 1, 1, 1 and 0.1: the newcomer's share is 16384 / 3.1 * 0.1 = 528.5 slots
        # (redis-cli rounds each share down, then hands out what is left).
        taken = owned_slots(newcomer)
        assert 528 <= len(taken) <= 530, len(taken)
        assert newcomer.call("DBSIZE") == sum(slot in taken for slot in slot_of_every_key) > 0

        moved = redis_cli("--cluster", "reshard", newcomer.address, "--cluster-from", newcomer_id,
                          "--cluster-to", donor_id, "--cluster-slots", str(len(taken)), "--cluster-yes", timeout=300)  # fmt: skip
        assert moved.returncode == 0, moved.stdout[-2000:] + moved.stderr
        wait_converged(everyone)
        # 7.0: a primary that gives away its last slot follows the node that took it
        # (cluster-allow-replica-migration yes), and syncs its data.
        assert not owned_slots(newcomer)
        wait(lambda: _replica_of(newcomer) == donor_id and _synced(newcomer), what="the emptied primary to follow",
             nodes=everyone)  # fmt: skip

        removed = redis_cli("--cluster", "del-node", cluster[1].address, newcomer_id)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert _forgotten_everywhere(cluster, newcomer_id)
        _assert_reset(newcomer, newcomer_id)
        assert newcomer.call("DBSIZE") == 0
    wait_cluster_ok(cluster)
    check_passes(cluster[0], primaries=3)
    assert read_keys(cluster[0], list(data)) == list(data.values())
