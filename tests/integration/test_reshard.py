"""``redis-cli --cluster reshard`` and ``rebalance`` against a cluster of our nodes.

Three primaries of ours run as real processes (MIGRATE blocks its node, so source and
target must not share an event loop). A few thousand keys of every type we store, many
of them in the slots that move, are written with redis-py's RedisCluster; then the real
redis-cli moves 500 slots (SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT, MIGRATE ... KEYS,
SETSLOT NODE on every primary) and rebalances. Afterwards ``--cluster check`` passes and
every key reads back, through the client's redirections, with its value and its TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from pyredis_cluster.testing.threaded import node_in_thread
from tests.cluster_procs import (
    ClusterProc,
    cluster_nodes,
    create_cluster,
    redis_cli,
    wait_cluster_ok,
    wait_converged,
)

MOVED_SLOTS = 500
KEYS_PER_TYPE = 600  # five types: 3000 keys, half of them in the slots that move


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[ClusterProc]]:
    with cluster_nodes(ours=3) as nodes:
        created = create_cluster(nodes)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        wait_converged(nodes)
        yield nodes


def key_names(count: int, first_slot: int, last_slot: int) -> Iterator[str]:
    """``count`` distinct key names, alternately inside [first_slot, last_slot] and anywhere."""
    produced = inside = 0
    candidate = 0
    while produced < count:
        candidate += 1
        name = f"key:{candidate}"
        in_range = first_slot <= key_slot(name.encode()) <= last_slot
        if in_range or inside > produced // 2:
            inside += in_range
            produced += 1
            yield name


def write_dataset(
    client: RedisCluster, first_slot: int, last_slot: int, per_type: int = KEYS_PER_TYPE
) -> dict[str, tuple[str, Any]]:
    """Keys of every type; returns name -> (type, expected value read back by :func:`read_value`)."""
    names = iter(key_names(5 * per_type, first_slot, last_slot))
    expected: dict[str, tuple[str, Any]] = {}
    pipe = client.pipeline()
    for i in range(per_type):
        name = next(names)
        value = (str(i) if i % 3 else "v" * (i % 70)) or "empty-is-not-stored"
        with_ttl = i % 4 == 0
        pipe.set(name, value, px=600_000 if with_ttl else None)
        expected[name] = ("string+ttl" if with_ttl else "string", value)
        name = next(names)
        items = [f"e{j}" for j in range(i % 9 + 1)]
        pipe.rpush(name, *items)
        expected[name] = ("list", items)
        name = next(names)
        fields = {f"f{j}": str(j * i) for j in range(i % 5 + 1)}
        pipe.hset(name, mapping=fields)
        expected[name] = ("hash", fields)
        name = next(names)
        members = {str(j) if i % 2 else f"m{j}" for j in range(i % 7 + 1)}
        pipe.sadd(name, *members)
        expected[name] = ("set", members)
        name = next(names)
        scores = {f"z{j}": j / 4 for j in range(i % 6 + 1)}
        pipe.zadd(name, scores)
        expected[name] = ("zset", scores)
    pipe.execute()
    return expected


def read_value(client: RedisCluster, name: str, kind: str) -> Any:
    if kind.startswith("string"):
        return client.get(name)
    if kind == "list":
        return client.lrange(name, 0, -1)
    if kind == "hash":
        return client.hgetall(name)
    if kind == "set":
        return client.smembers(name)
    return dict(client.zrange(name, 0, -1, withscores=True))


def assert_dataset(client: RedisCluster, expected: dict[str, tuple[str, Any]]) -> None:
    wrong = {name: read_value(client, name, kind) for name, (kind, value) in expected.items()
             if read_value(client, name, kind) != value}  # fmt: skip
    assert not wrong, f"{len(wrong)} keys differ, e.g. {list(wrong.items())[:3]}"
    for name, (kind, _) in expected.items():
        if kind.startswith("string"):
            ttl = client.pttl(name)
            assert (0 < ttl <= 600_000) if kind == "string+ttl" else ttl == -1, (name, ttl)


class ConcurrentWriter:
    """A redis-py RedisCluster client writing and reading keys of the moving slots meanwhile.

    Every SET that was acknowledged must be readable afterwards with its value; the
    client may see only the redirections it follows by itself (no exception escapes).
    """

    def __init__(self, port: int, first_slot: int, last_slot: int) -> None:
        self.client = RedisCluster(host="127.0.0.1", port=port, decode_responses=True)
        self.names = key_names(1_000_000, first_slot, last_slot)
        self.written: dict[str, str] = {}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                name = f"w:{next(self.names)}"
                value = str(len(self.written))
                assert self.client.set(name, value)
                self.written[name] = value
                assert self.client.get(name) == value
        except BaseException as err:  # reported by assert_nothing_lost
            self.errors.append(err)

    def __enter__(self) -> ConcurrentWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def assert_nothing_lost(self) -> None:
        assert not self.errors, self.errors
        assert len(self.written) > 10, "the writer did not run during the reshard"
        try:
            lost = {name: value for name, value in self.written.items() if self.client.get(name) != value}
            assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {list(lost.items())[:3]}"
        finally:
            self.client.close()


def node_by_first_slot(nodes: list[ClusterProc], slot: int) -> tuple[ClusterProc, str]:
    """The node whose myself line owns ``slot``, and its id."""
    for node in nodes:
        for fields in node.nodes_lines():
            if "myself" in fields[2] and any(_covers(token, slot) for token in fields[8:]):
                return node, fields[0]
    raise AssertionError(f"nobody owns slot {slot}")


def _covers(token: str, slot: int) -> bool:
    if token.startswith("["):
        return False
    first, _, last = token.partition("-")
    return int(first) <= slot <= int(last or first)


def check_passes(node: ClusterProc) -> str:
    checked = redis_cli("--cluster", "check", node.address)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[OK] All 16384 slots covered." in checked.stdout
    assert "[ERR]" not in checked.stdout and "[WARNING]" not in checked.stdout, checked.stdout
    return checked.stdout


def test_reshard_then_rebalance_keeps_every_key(cluster: list[ClusterProc]) -> None:
    source, source_id = node_by_first_slot(cluster, 0)
    target, target_id = node_by_first_slot(cluster, 16383)
    client = RedisCluster(host="127.0.0.1", port=source.port, decode_responses=True)
    try:
        expected = write_dataset(client, 0, MOVED_SLOTS - 1)
        moving = sum(source.call("CLUSTER", "COUNTKEYSINSLOT", s) for s in range(MOVED_SLOTS))  # before the writer
        assert moving >= len(expected) // 2

        started = time.monotonic()
        with ConcurrentWriter(source.port, 0, MOVED_SLOTS - 1) as writer:
            resharded = redis_cli(
                "--cluster", "reshard", source.address, "--cluster-from", source_id, "--cluster-to", target_id,
                "--cluster-slots", str(MOVED_SLOTS), "--cluster-yes", timeout=300,
            )  # fmt: skip
        reshard_seconds = time.monotonic() - started
        writer.assert_nothing_lost()
        assert resharded.returncode == 0, resharded.stdout[-3000:] + resharded.stderr
        assert f"Moving slot {MOVED_SLOTS - 1} from {source.address} to {target.address}" in resharded.stdout

        wait_converged(cluster)
        check_passes(source)
        assert node_by_first_slot(cluster, 0)[1] == target_id
        assert sum(n.call("DBSIZE") for n in cluster) == len(expected) + len(writer.written)
        assert all(source.call("CLUSTER", "COUNTKEYSINSLOT", s) == 0 for s in range(MOVED_SLOTS))
        assert sum(target.call("CLUSTER", "COUNTKEYSINSLOT", s) for s in range(MOVED_SLOTS)) >= moving
        assert_dataset(client, expected)

        started = time.monotonic()
        rebalanced = redis_cli("--cluster", "rebalance", source.address, "--cluster-threshold", "1", timeout=300)
        rebalance_seconds = time.monotonic() - started
        assert rebalanced.returncode == 0, rebalanced.stdout[-3000:] + rebalanced.stderr
        assert "Moving" in rebalanced.stdout, rebalanced.stdout
        wait_converged(cluster)
        check_passes(source)
        counts = [len(_owned_slots(node)) for node in cluster]
        assert max(counts) - min(counts) <= 2, counts
        assert_dataset(client, expected)
        print(f"reshard of {MOVED_SLOTS} slots / {moving} keys + {len(writer.written)} written meanwhile: "
              f"{reshard_seconds:.1f}s; "
              f"rebalance: {rebalance_seconds:.1f}s")  # fmt: skip
    finally:
        client.close()


def _owned_slots(node: ClusterProc) -> set[int]:
    for fields in node.nodes_lines():
        if "myself" in fields[2]:
            owned: set[int] = set()
            for token in fields[8:]:
                if not token.startswith("["):
                    first, _, last = token.partition("-")
                    owned.update(range(int(first), int(last or first) + 1))
            return owned
    return set()


def test_migrating_slot_serves_migrate_and_clients_follow_ask(cluster: list[ClusterProc]) -> None:
    """One slot moved by hand: MIGRATE works on the MIGRATING slot, ASK/ASKING reach moved keys."""
    source, source_id = node_by_first_slot(cluster, 8000)
    target = next(n for n in cluster if n is not source)
    target_id = target.myid()
    slot = 8000
    tag = next(f"t{i}" for i in range(1_000_000) if key_slot(f"t{i}".encode()) == slot)
    names = [f"{{{tag}}}:{i}" for i in range(3)]
    with redis.Redis(port=source.port) as src, redis.Redis(port=target.port) as tgt:
        for name in names:
            src.set(name, name)
        assert tgt.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id) == b"OK"
        assert src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id) == b"OK"
        assert src.execute_command("MIGRATE", "127.0.0.1", target.port, names[0], 0, 5000) == b"OK"
        assert src.execute_command("MIGRATE", "127.0.0.1", target.port, names[0], 0, 5000) == b"NOKEY"
        # The moved key: ASK from the source, served by the target after ASKING only.
        with pytest.raises(redis.exceptions.AskError) as asked:
            src.get(names[0])
        assert (asked.value.slot_id, asked.value.node_addr) == (slot, ("127.0.0.1", target.port))
        with pytest.raises(redis.exceptions.MovedError) as moved:
            tgt.get(names[0])
        assert (moved.value.slot_id, moved.value.node_addr) == (slot, ("127.0.0.1", source.port))
        pipe = tgt.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.get(names[0])
        assert pipe.execute() == [True, names[0].encode()]
        # A cluster client follows ASK transparently, for moved and not-yet-moved keys.
        client = RedisCluster(host="127.0.0.1", port=source.port)
        try:
            assert [client.get(name) for name in names] == [name.encode() for name in names]
            assert src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *names[1:]) == b"OK"
            assert [client.get(name) for name in names] == [name.encode() for name in names]
        finally:
            client.close()
        for node in [target, source] + [n for n in cluster if n not in (source, target)]:
            node.call("CLUSTER", "SETSLOT", slot, "NODE", target_id)  # redis-cli's order
        wait_converged(cluster)
        assert tgt.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 3
        check_passes(source)


def test_reshard_between_a_real_node_and_ours() -> None:
    """Slots with keys move real → ours (real MIGRATE, our RESTORE-ASKING) and back (ours → real)."""
    with cluster_nodes(ours=2, real=1) as nodes:
        created = create_cluster(nodes)
        assert created.returncode == 0, created.stdout + created.stderr
        wait_cluster_ok(nodes)
        wait_converged(nodes)
        real = next(n for n in nodes if n.kind == "real")
        ours = next(n for n in nodes if n.kind == "ours")
        real_id, ours_id = real.myid(), ours.myid()
        client = RedisCluster(host="127.0.0.1", port=ours.port, decode_responses=True)
        try:
            lowest_real_slot = min(_owned_slots(real))
            lowest_our_slot = min(_owned_slots(ours))
            expected = write_dataset(client, lowest_real_slot, lowest_real_slot + 99, per_type=150)
            expected.update(write_dataset(client, lowest_our_slot, lowest_our_slot + 99, per_type=150))
            for source, source_id, target_id in ((real, real_id, ours_id), (ours, ours_id, real_id)):
                moved = redis_cli(
                    "--cluster", "reshard", source.address, "--cluster-from", source_id, "--cluster-to", target_id,
                    "--cluster-slots", "100", "--cluster-yes", timeout=300,
                )  # fmt: skip
                assert moved.returncode == 0, moved.stdout[-3000:] + moved.stderr
                wait_converged(nodes)
                check_passes(source)
                assert_dataset(client, expected)
            assert lowest_real_slot in _owned_slots(ours) and lowest_our_slot in _owned_slots(real)
        finally:
            client.close()


@pytest.mark.parametrize("copy", [False, True])
def test_import_from_a_standalone_node_of_ours(cluster: list[ClusterProc], copy: bool) -> None:
    """``--cluster import``: our standalone node MIGRATEs every key (plain RESTORE) to its owner."""
    with node_in_thread() as standalone, redis.Redis(port=standalone.port, decode_responses=True) as source:
        names = [f"imported:{copy}:{i}" for i in range(300)]
        source.mset({name: name for name in names})
        source.rpush(f"imported:{copy}:list", "a", "b")
        source.pexpire(names[0], 500_000)
        imported = redis_cli(
            "--cluster", "import", cluster[0].address, "--cluster-from", f"127.0.0.1:{standalone.port}",
            "--cluster-replace", *(["--cluster-copy"] if copy else []), timeout=120,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stdout[-3000:] + imported.stderr
        assert source.dbsize() == (301 if copy else 0)
        client = RedisCluster(host="127.0.0.1", port=cluster[0].port, decode_responses=True)
        try:
            assert [client.get(name) for name in names] == names
            assert client.lrange(f"imported:{copy}:list", 0, -1) == ["a", "b"]
            assert 0 < client.pttl(names[0]) <= 500_000 and client.pttl(names[1]) == -1
        finally:
            client.close()
        check_passes(cluster[0])
