"""MIGRATE when source and target share one event loop (server/busy.py, commands/migrate.py).

Every node of an in-process harness cluster runs on the test's loop. A MIGRATE that
blocked the loop could never be answered by its target; these tests show it now is,
and that it stays atomic for clients as in Redis: while it is in flight, the source
runs no other client's command (they wait, in order, and run after the reply), while
the loop keeps serving other nodes and the source's own cluster bus.

The slow target is a tiny RESP server of the test (:class:`HeldTarget`) that answers
``+OK`` to each command only once the test releases it, so "in flight" lasts exactly
as long as the test wants, with no sleep. A target that never answers is a listening
socket nobody accepts (the kernel completes the handshake and buffers the data).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.protocol.parser import RequestParser
from pyredis_cluster.protocol.reply_parser import NEED_DATA, ReplyParser
from pyredis_cluster.server.commands.migrate import socket_cache
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import start_cluster
from pyredis_cluster.testing.faults import node_id, wait_until
from pyredis_cluster.testing.harness import LocalCluster, cluster_in_thread
from pyredis_cluster.testing.threaded import make_config, node_in_thread
from pyredis_cluster.testing.topology import core, view
from tests.support import RawClient, real_redis_server

HOST = "127.0.0.1"
DEADLINE = 10.0
TAG = b"{mig}"
SLOT = key_hash_slot(TAG)


class Conn:
    """A raw client on the test's loop: send any commands (pipelined), read raw replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = ReplyParser()

    @classmethod
    async def open(cls, port: int) -> Conn:
        return cls(*await asyncio.open_connection(HOST, port))

    def send(self, *commands: list[Any]) -> None:
        out = []
        for command in commands:
            words = [w if isinstance(w, bytes) else str(w).encode() for w in command]
            out.append(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
        self.writer.write(b"".join(out))

    async def reply(self) -> bytes:
        """The next reply's raw bytes."""
        while (item := self.parser.next_reply()) is NEED_DATA:
            data = await asyncio.wait_for(self.reader.read(65536), DEADLINE)
            if not data:
                raise ConnectionError("closed")
            self.parser.feed(data)
        return item[1]  # type: ignore[index]

    async def call(self, *command: Any) -> bytes:
        self.send(list(command))
        return await self.reply()

    async def closed(self) -> bool:
        """True once the server closed the connection (after any pending replies)."""
        return await asyncio.wait_for(self.reader.read(65536), DEADLINE) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class HeldTarget:
    """A MIGRATE target that acknowledges every command with +OK once :attr:`release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.commands: list[list[bytes]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HeldTarget:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def received(self, name: bytes) -> int:
        return sum(1 for command in self.commands if command[0].upper() == name)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                parser.feed(data)
                commands = list(parser.commands())
                self.commands += commands
                await self.release.wait()
                writer.write(b"+OK\r\n" * len(commands))
        writer.close()


@contextlib.contextmanager
def silent_target() -> Any:
    """A port whose connections complete but are never read nor answered."""
    with socket.create_server((HOST, 0), backlog=16) as listener:
        yield listener.getsockname()[1]


async def fill(node: Node, keys: list[bytes]) -> None:
    conn = await Conn.open(node.port)
    try:
        conn.send(*[["SET", key, b"value-" + key] for key in keys])
        for _ in keys:
            assert await conn.reply() == b"+OK\r\n"
    finally:
        await conn.close()


async def start_moving(cluster: LocalCluster, slot: int) -> tuple[Node, Node]:
    """SETSLOT IMPORTING on a target, MIGRATING on the slot's owner: (source, target)."""
    source = cluster.node_for_slot(slot)
    target = next(n for n in cluster.primaries if n is not source)
    assert await call(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(source)) == b"+OK\r\n"
    assert await call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(target)) == b"+OK\r\n"
    return source, target


async def call(node: Node, *command: Any) -> bytes:
    conn = await Conn.open(node.port)
    try:
        return await conn.call(*command)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def standalone(**options: Any) -> AsyncIterator[Node]:
    node = Node(make_config(**options))
    await node.start()
    try:
        yield node
    finally:
        await node.close()


# -- 1. moving keys between two nodes of one loop ---------------------------------------------


async def test_migrate_keys_between_nodes_of_one_loop_and_replicas_drop_them() -> None:
    async with start_cluster(3, 1) as cluster:
        keys = [TAG + b":%d" % i for i in range(1000)]
        await fill(cluster.node_for_slot(SLOT), keys)
        source, target = await start_moving(cluster, SLOT)
        (replica,) = cluster.replicas_of(source)
        src = await Conn.open(source.port)
        dst = await Conn.open(target.port)
        try:
            assert await src.call("PEXPIRE", keys[0], 100000) == b":1\r\n"
            payloads = {key: await src.call("DUMP", key) for key in keys[:20]}
            await wait_until(lambda: len(replica.keyspace[0].data) == len(keys), "the replica has the keys", DEADLINE)

            reply = await src.call("MIGRATE", HOST, target.port, "", 0, 5000, "KEYS", *keys)

            assert reply == b"+OK\r\n"
            assert await src.call("CLUSTER", "COUNTKEYSINSLOT", SLOT) == b":0\r\n"
            assert await dst.call("CLUSTER", "COUNTKEYSINSLOT", SLOT) == b":%d\r\n" % len(keys)
            for key, payload in payloads.items():  # same type and value on the target
                dst.send(["ASKING"], ["DUMP", key])
                assert await dst.reply() == b"+OK\r\n"
                assert await dst.reply() == payload
            dst.send(["ASKING"], ["PTTL", keys[0]], ["ASKING"], ["PTTL", keys[1]])
            await dst.reply()
            assert 90000 < int((await dst.reply())[1:-2]) <= 100000  # the TTL travelled
            await dst.reply()
            assert await dst.reply() == b":-1\r\n"
            # MIGRATE reached the replica as DEL of the keys that moved
            await wait_until(lambda: not replica.keyspace[0].data, "the replica dropped the moved keys", DEADLINE)
        finally:
            await src.close()
            await dst.close()


async def test_copy_replace_and_busykey_between_nodes_of_one_loop() -> None:
    async with start_cluster(3) as cluster:
        key = TAG + b":k"
        await fill(cluster.node_for_slot(SLOT), [key])
        source, target = await start_moving(cluster, SLOT)
        src = await Conn.open(source.port)
        try:
            assert await src.call("MIGRATE", HOST, target.port, key, 0, 5000, "COPY") == b"+OK\r\n"
            assert await src.call("EXISTS", key) == b":1\r\n"  # COPY keeps it
            assert await call(target, "CLUSTER", "COUNTKEYSINSLOT", SLOT) == b":1\r\n"
            busy = await src.call("MIGRATE", HOST, target.port, key, 0, 5000)
            assert busy.startswith(b"-ERR Target instance replied with error: BUSYKEY")
            assert await src.call("EXISTS", key) == b":1\r\n"  # not acknowledged: kept
            assert await src.call("SET", key, "newer") == b"+OK\r\n"
            assert await src.call("MIGRATE", HOST, target.port, key, 0, 5000, "REPLACE") == b"+OK\r\n"
            assert await src.call("EXISTS", key) == b"-ASK %d %s:%d\r\n" % (SLOT, HOST.encode(), target.port)
            dst = await Conn.open(target.port)
            assert await dst.call("ASKING") == b"+OK\r\n"
            assert await dst.call("GET", key) == b"$5\r\nnewer\r\n"
            await dst.close()
        finally:
            await src.close()


async def test_auth_and_auth2_to_a_target_on_the_same_loop() -> None:
    async with start_cluster(3) as cluster, standalone(requirepass="pw") as target:
        source = cluster.node_for_slot(SLOT)
        keys = [TAG + b":a", TAG + b":b", TAG + b":c"]
        await fill(source, keys)
        src = await Conn.open(source.port)
        try:
            refused = await src.call("MIGRATE", HOST, target.port, keys[0], 0, 5000)
            assert refused.startswith(b"-ERR Target instance replied with error: NOAUTH")
            assert await src.call("MIGRATE", HOST, target.port, keys[0], 0, 5000, "AUTH", "pw") == b"+OK\r\n"
            reply = await src.call("MIGRATE", HOST, target.port, "", 0, 5000, "AUTH2", "default", "pw", "KEYS", *keys[1:])
            assert reply == b"+OK\r\n"
            assert await src.call("EXISTS", *keys) == b":0\r\n"
            assert sorted(target.keyspace[0].data) == sorted(keys)
        finally:
            await src.close()


# -- 2. atomic for clients: the others wait, the loop and the bus do not ------------------------


async def test_other_clients_wait_for_an_in_flight_migrate_while_the_bus_runs() -> None:
    async with start_cluster(3, node_timeout=1000) as cluster, HeldTarget() as target:
        source = cluster.node_for_slot(SLOT)
        observer = next(n for n in cluster.primaries if n is not source)
        key = TAG + b":k"
        await fill(source, [key])
        caller = await Conn.open(source.port)
        other = await Conn.open(source.port)
        late: Conn | None = None
        try:
            # The caller pipelines a GET behind its MIGRATE: it must run after MIGRATE too.
            caller.send(["MIGRATE", HOST, target.port, key, 0, 10000], ["GET", key])
            await wait_until(lambda: target.received(b"RESTORE-ASKING") == 1, "the RESTORE reached the target", DEADLINE)
            late = await Conn.open(source.port)  # a connection accepted while busy waits too
            other.send(["EXISTS", key], ["SET", TAG + b":after", "1"])
            late.send(["GET", key])
            await wait_until(lambda: source.busy is not None and len(source.busy.held) == 2,
                             "both clients' commands are held", DEADLINE)  # fmt: skip
            order: list[str] = []

            async def replies(name: str, conn: Conn, count: int) -> list[bytes]:
                got = [await conn.reply() for _ in range(count)]
                order.append(name)
                return got

            waiting = asyncio.gather(replies("caller", caller, 2), replies("other", other, 2), replies("late", late, 1))
            # Meanwhile the loop runs: another node answers, and the source answers bus PINGs.
            assert await call(observer, "PING") == b"+PONG\r\n"
            pong_before = core(observer).nodes[node_id(source)].pong_received
            await wait_until(lambda: core(observer).nodes[node_id(source)].pong_received > pong_before,
                             "the busy source answered a bus PING", DEADLINE)  # fmt: skip
            assert not waiting.done() and order == []  # ... but none of the source's clients

            target.release.set()
            caller_replies, other_replies, late_replies = await waiting

            assert caller_replies == [b"+OK\r\n", b"$-1\r\n"]
            assert order[0] == "caller"  # the MIGRATE reply came first
            assert other_replies == [b":0\r\n", b"+OK\r\n"]  # it ran after the key was gone
            assert late_replies == [b"$-1\r\n"]
            assert source.busy is None
            flags = view(observer).nodes[node_id(source)].flags
            assert not flags & {"fail?", "fail"}  # the source stayed healthy in the cluster
        finally:
            for conn in (caller, other, late):
                if conn is not None:
                    await conn.close()


async def test_a_paused_target_of_the_same_cluster_answers_once_resumed() -> None:
    """The harness's pause fault on the target: the MIGRATE waits for it, the source's
    other clients wait for the MIGRATE, and all of it completes after resume."""
    async with start_cluster(3) as cluster:
        key = TAG + b":k"
        await fill(cluster.node_for_slot(SLOT), [key])
        source, target = await start_moving(cluster, SLOT)
        caller = await Conn.open(source.port)
        other = await Conn.open(source.port)
        try:
            cluster.pause(target)
            caller.send(["MIGRATE", HOST, target.port, key, 0, 10000])
            await wait_until(lambda: source.busy is not None, "the MIGRATE is in flight", DEADLINE)
            other.send(["EXISTS", key])
            await wait_until(lambda: len(source.busy.held) == 1, "EXISTS is held", DEADLINE)
            cluster.resume(target)
            assert await caller.reply() == b"+OK\r\n"
            # It ran after the key left: a migrating slot's missing key is asked for on the target.
            assert await other.reply() == b"-ASK %d %s:%d\r\n" % (SLOT, HOST.encode(), target.port)
            assert await call(target, "CLUSTER", "COUNTKEYSINSLOT", SLOT) == b":1\r\n"
        finally:
            await caller.close()
            await other.close()


async def test_two_migrates_queue_and_a_timeout_waits_for_the_end() -> None:
    async with start_cluster(3) as cluster, HeldTarget() as target:
        source = cluster.node_for_slot(SLOT)
        k1, k2 = TAG + b":1", TAG + b":2"
        await fill(source, [k1, k2])
        first, second, reader, blocked = [await Conn.open(source.port) for _ in range(4)]
        try:
            first.send(["MIGRATE", HOST, target.port, k1, 0, 10000])
            await wait_until(lambda: source.busy is not None, "the first MIGRATE is in flight", DEADLINE)
            second.send(["MIGRATE", HOST, target.port, k2, 0, 10000])
            await wait_until(lambda: len(source.busy.held) == 1, "the second MIGRATE is held", DEADLINE)
            reader.send(["EXISTS", k1, k2])
            await wait_until(lambda: len(source.busy.held) == 2, "the EXISTS is held", DEADLINE)
            assert target.received(b"RESTORE-ASKING") == 1  # the second has not started

            target.release.set()
            assert await first.reply() == b"+OK\r\n"
            assert await second.reply() == b"+OK\r\n"
            assert await reader.reply() == b":0\r\n"  # after both
            assert target.received(b"RESTORE-ASKING") == 2

            # A BLPOP whose timeout passes during a MIGRATE is answered after the MIGRATE.
            await fill(source, [k1])
            target.release.clear()
            assert await blocked.call("CLIENT", "ID") is not None
            blocked.send(["BLPOP", TAG + b":list", "0.01"])
            await wait_until(lambda: source.blocking.blocked_clients == 1, "BLPOP waits", DEADLINE)
            first.send(["MIGRATE", HOST, target.port, k1, 0, 10000])
            await wait_until(lambda: source.busy is not None, "the MIGRATE is in flight", DEADLINE)
            timeout_reply = asyncio.ensure_future(blocked.reply())
            await wait_until(lambda: source.busy is not None and source.busy.deferred, "the BLPOP timeout fired", DEADLINE)
            assert not timeout_reply.done()
            target.release.set()
            assert await first.reply() == b"+OK\r\n"
            assert await timeout_reply == b"*-1\r\n"
        finally:
            for conn in (first, second, reader, blocked):
                await conn.close()


async def test_the_caller_leaving_or_killed_mid_migrate() -> None:
    async with start_cluster(3, 1) as cluster, HeldTarget() as target:
        source = cluster.node_for_slot(SLOT)
        (replica,) = cluster.replicas_of(source)
        k1, k2 = TAG + b":1", TAG + b":2"
        await fill(source, [k1, k2])
        await wait_until(lambda: len(replica.keyspace[0].data) == 2, "the replica has the keys", DEADLINE)
        # 1. The caller disconnects: the migration still completes, the gate is released.
        caller = await Conn.open(source.port)
        caller.send(["MIGRATE", HOST, target.port, k1, 0, 10000])
        await wait_until(lambda: target.received(b"RESTORE-ASKING") == 1, "the RESTORE reached the target", DEADLINE)
        await caller.close()
        other = await Conn.open(source.port)
        other.send(["EXISTS", k1])
        await wait_until(lambda: source.busy is not None and len(source.busy.held) == 1, "EXISTS is held", DEADLINE)
        target.release.set()
        assert await other.reply() == b":0\r\n"
        await wait_until(lambda: k1 not in replica.keyspace[0].data, "DEL reached the replica", DEADLINE)
        # 2. CLIENT KILL of the caller from another client waits for the MIGRATE: the
        # caller gets its reply first, then its connection is closed.
        target.release.clear()
        caller = await Conn.open(source.port)
        caller_id = int((await caller.call("CLIENT", "ID"))[1:-2])
        caller.send(["MIGRATE", HOST, target.port, k2, 0, 10000])
        await wait_until(lambda: target.received(b"RESTORE-ASKING") == 2, "the second RESTORE arrived", DEADLINE)
        other.send(["CLIENT", "KILL", "ID", caller_id])
        await wait_until(lambda: source.busy is not None and len(source.busy.held) == 1, "CLIENT KILL is held", DEADLINE)
        target.release.set()
        assert await caller.reply() == b"+OK\r\n"
        assert await other.reply() == b":1\r\n"
        assert await caller.closed()
        assert await other.call("EXISTS", k2) == b":0\r\n"
        await caller.close()
        await other.close()


async def test_a_node_closing_mid_migrate_cancels_it() -> None:
    async with start_cluster(3) as cluster, HeldTarget() as target, HeldTarget() as earlier:
        source = cluster.node_for_slot(SLOT)
        key = TAG + b":k"
        await fill(source, [key])
        caller = await Conn.open(source.port)
        other = await Conn.open(source.port)
        earlier.release.set()  # a finished MIGRATE leaves its socket in the cache
        assert await caller.call("MIGRATE", HOST, earlier.port, key, 0, 10000, "COPY") == b"+OK\r\n"
        cached = [entry.sock for entry in socket_cache(source).sockets.values()]
        assert len(cached) == 1
        caller.send(["MIGRATE", HOST, target.port, key, 0, 10000])
        await wait_until(lambda: target.received(b"RESTORE-ASKING") == 1, "the RESTORE reached the target", DEADLINE)
        other.send(["PING"])
        await wait_until(lambda: source.busy is not None and len(source.busy.held) == 1, "PING is held", DEADLINE)
        await asyncio.wait_for(cluster.kill(source), DEADLINE)  # no hang on the in-flight MIGRATE
        assert source.busy is None
        assert await caller.closed() and await other.closed()  # no reply, no traceback
        assert cached[0].fileno() == -1  # the cached connections closed with the node
        await caller.close()
        await other.close()


# -- 3. a target that never answers: the same IOERR, the gate released ----------------------------


async def test_timeout_to_a_silent_target_gives_the_real_servers_ioerr_and_releases_the_gate() -> None:
    with silent_target() as port:
        with real_redis_server() as real_port, RawClient(real_port) as real:  # the oracle
            real.call("set", "k", "v")
            expected = real.raw("migrate", HOST, port, "k", 0, 100)
        async with standalone() as source:
            caller = await Conn.open(source.port)
            other = await Conn.open(source.port)
            try:
                assert await caller.call("SET", "k", "v") == b"+OK\r\n"
                caller.send(["MIGRATE", HOST, port, "k", 0, 100])
                await wait_until(lambda: source.busy is not None, "the MIGRATE is in flight", DEADLINE)
                other.send(["GET", "k"])
                assert await caller.reply() == expected
                assert expected.startswith(b"-IOERR")
                assert await other.reply() == b"$1\r\nv\r\n"  # held, then answered: the key stayed
                assert source.busy is None
                assert await caller.call("EXISTS", "k") == b":1\r\n"
            finally:
                await caller.close()
                await other.close()


# -- MULTI/EXEC keeps the blocking exchange -------------------------------------------------------


async def test_migrate_inside_exec_uses_the_blocking_exchange() -> None:
    """EXEC cannot be suspended half way: inside it MIGRATE blocks, as in Redis (here to
    a node on another thread's loop, which can answer)."""
    with node_in_thread() as target:
        async with standalone() as source:
            conn = await Conn.open(source.port)
            try:
                conn.send(["SET", "k", "v"], ["MULTI"], ["MIGRATE", HOST, target.port, "k", 0, 5000], ["EXISTS", "k"], ["EXEC"])
                assert [await conn.reply() for _ in range(5)][-1] == b"*2\r\n+OK\r\n:0\r\n"
                assert source.busy is None
            finally:
                await conn.close()
        with RawClient(target.port) as check:
            assert check.call("get", "k") == b"v"


# -- 4. the real redis-cli --cluster reshard and rebalance --------------------------------------


def redis_cli(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("redis-cli")
    if binary is None:
        pytest.fail("redis-cli is missing: apt-get install -y redis-tools")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def test_redis_cli_reshard_and_rebalance_an_inprocess_cluster_with_keys() -> None:
    with cluster_in_thread(3) as cluster:
        source, target = cluster.primaries[0], cluster.primaries[1]
        moved_slots = 100
        first_slots = range(moved_slots)  # reshard takes the source's first slots
        assert all(cluster.node_for_slot(slot) is source for slot in first_slots)
        keys = [key for key in (b"key:%d" % i for i in range(20000)) if key_hash_slot(key) < moved_slots][:300]
        with RawClient(source.port) as client:
            for key in keys:
                assert client.call("set", key, b"v-" + key) == "OK"
        address = f"{HOST}:{source.port}"
        reshard = redis_cli("--cluster", "reshard", address, "--cluster-from", node_id(source),
                            "--cluster-to", node_id(target), "--cluster-slots", str(moved_slots),
                            "--cluster-yes")  # fmt: skip
        assert reshard.returncode == 0, reshard.stdout + reshard.stderr
        check = redis_cli("--cluster", "check", address)
        assert check.returncode == 0 and "[OK] All 16384 slots covered" in check.stdout, check.stdout
        assert all(cluster.node_for_slot(slot) is target for slot in first_slots)
        with RawClient(target.port) as client:
            for key in keys:
                assert client.call("get", key) == b"v-" + key
        assert not any(key_hash_slot(key) < moved_slots for key in source.keyspace[0].data)

        # The target is 100 slots over its share now: rebalance (1% threshold) gives
        # slots back with their keys, again through MIGRATE.
        rebalance = redis_cli("--cluster", "rebalance", address, "--cluster-threshold", "1")
        assert rebalance.returncode == 0, rebalance.stdout + rebalance.stderr
        assert "Moving" in rebalance.stdout, rebalance.stdout
        check = redis_cli("--cluster", "check", address)
        assert check.returncode == 0 and "[OK] All 16384 slots covered" in check.stdout, check.stdout
        assert any(cluster.node_for_slot(slot) is not target for slot in first_slots)  # some came back
        for key in keys:
            owner = cluster.node_for_slot(key_hash_slot(key))
            with RawClient(owner.port) as client:
                assert client.call("get", key) == b"v-" + key
