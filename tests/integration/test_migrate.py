"""MIGRATE as source, compared with real redis-server 7.0 (the oracle).

The same scenario runs on four source → target pairs: real → real (the reference),
ours → ours, ours → real and real → ours. Every reply, from the source and from the
target (what arrived, what stayed), must be byte-identical to the reference's. Values
that legitimately vary (PTTL) are reduced to a property first.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from pyredis_cluster.server.command_table import COMMANDS
from pyredis_cluster.server.commands.migrate import SOCKET_CACHE_TTL, MigrateSocketCache
from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, free_port, real_redis_server

HOST = "127.0.0.1"
Scenario = Callable[[RawClient, RawClient, int], list[bytes]]


class Node:
    """A running node of either kind: its port and a client to it."""

    def __init__(self, kind: str, port: int) -> None:
        self.kind, self.port = kind, port

    def client(self) -> RawClient:
        return RawClient(self.port)


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, Node]]:
    """Two nodes of ours, two real ones, and one of each that requires the password "pw"."""
    with ExitStack() as stack:
        found = {
            "ours_a": Node("ours", stack.enter_context(node_in_thread()).port),
            "ours_b": Node("ours", stack.enter_context(node_in_thread()).port),
            "ours_pw": Node("ours", stack.enter_context(node_in_thread(requirepass="pw")).port),
            "real_a": Node("real", stack.enter_context(real_redis_server())),
            "real_b": Node("real", stack.enter_context(real_redis_server())),
            "real_pw": Node("real", stack.enter_context(real_redis_server("--requirepass", "pw"))),
        }
        yield found


def run_on_pairs(nodes: dict[str, Node], scenario: Scenario, pairs: list[tuple[str, str]]) -> None:
    """Run ``scenario`` on each (source, target) pair; all must match the first pair's replies."""
    results = []
    for source_name, target_name in pairs:
        target = nodes[target_name]
        with nodes[source_name].client() as src, target.client() as tgt:
            if target_name.endswith("_pw"):
                tgt.call("auth", "pw")
            src.call("flushall")
            tgt.call("flushall")
            results.append(scenario(src, tgt, target.port))
    reference = results[0]
    for (source_name, target_name), replies in zip(pairs[1:], results[1:]):
        assert len(replies) == len(reference)
        for step, (got, expected) in enumerate(zip(replies, reference)):
            assert got == expected, f"{source_name}->{target_name}, step {step}: {got!r} != {expected!r}"


PAIRS = [("real_a", "real_b"), ("ours_a", "ours_b"), ("ours_a", "real_b"), ("real_a", "ours_b")]
AUTH_PAIRS = [("real_a", "real_pw"), ("ours_a", "ours_pw"), ("ours_a", "real_pw"), ("real_a", "ours_pw")]


class Recorder:
    """Collects the replies of a scenario's commands, sent to the source or the target."""

    def __init__(self, src: RawClient, tgt: RawClient) -> None:
        self.src, self.tgt = src, tgt
        self.replies: list[bytes] = []

    def s(self, *args: Any) -> bytes:
        reply = self.src.raw(*args)
        self.replies.append(reply)
        return reply

    def t(self, *args: Any) -> bytes:
        reply = self.tgt.raw(*args)
        self.replies.append(reply)
        return reply

    def note(self, fact: bool) -> None:
        self.replies.append(b"yes" if fact else b"no")


def test_argument_errors_and_nokey(nodes: dict[str, Node]) -> None:
    dead_port = free_port()  # nothing listens there

    def scenario(src: RawClient, tgt: RawClient, port: int) -> list[bytes]:
        r = Recorder(src, tgt)
        r.s("migrate", HOST, port, "k", 0)  # arity
        r.s("migrate", HOST, port, "k", 0, 1000, "bogus")
        r.s("migrate", HOST, port, "k", 0, 1000, "copy", "auth")
        r.s("migrate", HOST, port, "k", 0, 1000, "auth2", "user")
        r.s("migrate", HOST, port, "k", 0, 1000, "keys", "a")
        r.s("migrate", HOST, port, "k", "db", 1000)
        r.s("migrate", HOST, port, "k", 0, "1.5")
        r.s("migrate", HOST, port, "k", "x", "y", "bogus")  # options are checked first
        r.s("migrate", HOST, port, "k", 0, 1000, "keys")  # KEYS with a key argument
        r.s("migrate", HOST, port, "", 0, 1000, "KEYS")  # no keys at all
        r.s("migrate", HOST, port, "missing", 0, 1000)
        r.s("migrate", HOST, port, "", 0, 1000, "keys", "m1", "m2")
        r.s("migrate", HOST, dead_port, "missing", 0, 1000)  # NOKEY before connecting
        r.s("set", "k", "v")
        r.s("migrate", HOST, dead_port, "k", 0, 200)
        r.s("migrate", HOST, "notaport", "k", 0, 200)
        r.s("migrate", HOST, port, "k", 0, 1000, "keys", "k")
        r.s("exists", "k")
        r.t("exists", "k")
        return r.replies

    run_on_pairs(nodes, scenario, PAIRS)


def test_copy_replace_busykey_types_ttl_and_db(nodes: dict[str, Node]) -> None:
    def scenario(src: RawClient, tgt: RawClient, port: int) -> list[bytes]:
        r = Recorder(src, tgt)
        r.s("set", "k", "v")
        r.s("migrate", HOST, port, "k", 0, 0)  # timeout 0 means 1000 ms
        r.s("exists", "k")
        r.t("get", "k")
        r.s("set", "k", "v2")
        r.s("migrate", HOST, port, "k", 0, 1000)  # BUSYKEY from the target
        r.s("get", "k")
        r.s("migrate", HOST, port, "k", 0, 1000, "COPY")  # still BUSYKEY
        r.s("migrate", HOST, port, "k", 0, 1000, "copy", "replace")
        r.s("get", "k")
        r.t("get", "k")
        r.s("set", "k", "v3")
        r.s("migrate", HOST, port, "k", 0, 1000, "REPLACE")
        r.s("exists", "k")
        r.t("get", "k")
        # every type, the KEYS form, a missing key in the middle
        r.s("rpush", "l", "a", "b", "3")
        r.s("hset", "h", "f", "1", "g", "two")
        r.s("sadd", "st", "x", "y", "3")
        r.s("sadd", "ints", "1", "2", "300000")
        r.s("zadd", "z", "1", "m", "2.5", "n")
        r.s("set", "n", "12345")
        r.s("set", "big", "x" * 70000)  # more than one 64 KB write chunk
        r.s("migrate", HOST, port, "", 0, 1000, "AUTH2", "u", "p", "KEYS", "never")  # NOKEY, no AUTH sent
        r.s("migrate", HOST, port, "", 0, 1000, "KEYS", "l", "missing", "h", "st", "ints", "z", "n", "big")
        r.s("dbsize")
        r.t("lrange", "l", 0, -1)
        r.t("hmget", "h", "f", "g")
        r.t("sort", "st", "alpha")
        r.t("sort", "ints")
        r.t("zrange", "z", 0, -1, "withscores")
        r.t("get", "n")
        r.t("strlen", "big")
        # a busy key among others: the others move, the busy one stays, the error is reported
        r.s("mset", "a1", "1", "k", "busy", "a2", "2")
        r.s("migrate", HOST, port, "", 0, 1000, "keys", "a1", "k", "a2")
        r.s("exists", "a1")
        r.s("exists", "k")
        r.s("exists", "a2")
        r.t("mget", "a1", "k", "a2")
        # TTLs travel as remaining milliseconds; no TTL stays none
        r.s("set", "ttl", "v", "px", 100000)
        r.s("set", "nottl", "v")
        r.s("migrate", HOST, port, "", 0, 1000, "keys", "ttl", "nottl")
        r.note(90000 < int(tgt.call("pttl", "ttl")) <= 100000)
        r.t("pttl", "nottl")
        # databases: SELECT when it changes, errors from SELECT, back to 0
        r.s("set", "d", "1")
        r.s("migrate", HOST, port, "d", 1, 1000)
        r.t("exists", "d")
        r.t("select", 1)
        r.t("get", "d")
        r.t("select", 0)
        r.s("set", "bad", "1")
        r.s("migrate", HOST, port, "bad", 99, 1000)
        r.s("migrate", HOST, port, "bad", 0, 1000)
        r.t("get", "bad")
        # the target closed our cached connection: one silent retry on a new one
        r.note(tgt.call("client", "kill", "skipme", "yes") >= 1)  # others' sockets may be cached too
        r.s("set", "after", "kill")
        r.s("migrate", HOST, port, "after", 0, 1000)
        r.t("get", "after")
        # extreme numbers: a "forever" timeout, a negative db
        r.s("set", "x", "1")
        r.s("migrate", HOST, port, "x", 0, "9223372036854775807", "copy")
        r.s("migrate", HOST, port, "x", -1, 1000, "copy")
        r.s("migrate", HOST, port, "x", "9223372036854775807", 1000, "copy", "replace")  # SELECT's int range
        r.s("migrate", HOST, port, "x", "9223372036854775808", 1000)
        return r.replies

    run_on_pairs(nodes, scenario, PAIRS)


def test_auth_and_auth2(nodes: dict[str, Node]) -> None:
    def scenario(src: RawClient, tgt: RawClient, port: int) -> list[bytes]:
        r = Recorder(src, tgt)
        r.s("set", "k", "v")
        r.s("migrate", HOST, port, "k", 0, 1000)  # NOAUTH (from SELECT, the first reply)
        r.s("migrate", HOST, port, "k", 0, 1000, "auth", "wrong")
        r.s("migrate", HOST, port, "k", 0, 1000, "AUTH2", "default", "wrong")
        r.s("exists", "k")
        r.s("migrate", HOST, port, "k", 0, 1000, "auth", "pw")
        r.t("get", "k")
        r.s("set", "k2", "v")
        r.s("migrate", HOST, port, "", 0, 1000, "auth2", "default", "pw", "keys", "k2")
        r.t("get", "k2")
        return r.replies

    run_on_pairs(nodes, scenario, AUTH_PAIRS)


def test_timeout_reading_then_the_key_stays(nodes: dict[str, Node]) -> None:
    """A target that does not answer in time: IOERR reading, no retry, nothing deleted."""

    def scenario(src: RawClient, tgt: RawClient, port: int) -> list[bytes]:
        r = Recorder(src, tgt)
        r.s("set", "k", "v")
        r.t("client", "pause", 500, "all")
        r.s("migrate", HOST, port, "k", 0, 50)
        r.s("exists", "k")
        # The source closed its socket, so the target drops the RESTORE it had queued.
        r.t("exists", "k")  # answered once the pause ends
        r.s("migrate", HOST, port, "k", 0, 1000)  # on a fresh socket
        r.t("get", "k")
        return r.replies

    run_on_pairs(nodes, scenario, PAIRS[:2])


def test_declaration_and_getkeys(nodes: dict[str, Node]) -> None:
    """COMMAND INFO and COMMAND GETKEYS match the real server's for every form."""
    forms = [
        ["migrate", HOST, "1", "key", "0", "0"],
        ["migrate", HOST, "1", "", "0", "0", "KEYS", "a", "b"],
        ["migrate", HOST, "1", "", "0", "0", "copy", "AUTH", "keys", "KEYS", "a"],
        ["migrate", HOST, "1", "", "0", "0", "AUTH2", "keys", "keys", "keys", "a", "b"],
        ["migrate", HOST, "1", "", "0", "0", "AUTH", "KEYS", "a"],
        ["migrate", HOST, "1", "x", "0", "0", "KEYS", "a"],
    ]
    assert "migrate" in COMMANDS
    with nodes["ours_a"].client() as ours, nodes["real_a"].client() as real:
        assert ours.raw("command", "info", "migrate") == real.raw("command", "info", "migrate")
        assert ours.raw("command", "docs", "migrate")[:1] == real.raw("command", "docs", "migrate")[:1]
        for form in forms:
            assert ours.raw("command", "getkeys", *form) == real.raw("command", "getkeys", *form), form


def test_info_counts_cached_sockets(nodes: dict[str, Node]) -> None:
    """INFO's migrate_cached_sockets shows the cache, on ours as on the real server."""
    for source_name in ("real_a", "ours_a"):
        with nodes[source_name].client() as src:
            src.call("set", "info-key", "v")
            assert src.call("migrate", HOST, nodes["ours_b"].port, "info-key", 0, 1000, "replace") == "OK"
            info = src.call("info", "stats")
            info = info.decode() if isinstance(info, bytes) else str(info)
            count = int(info.split("migrate_cached_sockets:")[1].split("\r\n")[0])
            assert count >= 1, (source_name, count)


def test_idle_sockets_are_closed_after_the_ttl() -> None:
    """The cache drops a socket idle for longer than 10 s, as Redis's cron does."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        cache = MigrateSocketCache()
        first = cache.get(b"t", HOST, port, 1.0)
        assert first is not None and cache.get(b"t", HOST, port, 1.0) is first  # reused
        first.last_use -= SOCKET_CACHE_TTL / 2
        cache.close_idle()
        assert cache.sockets == {b"t": first}
        first.last_use -= SOCKET_CACHE_TTL
        cache.close_idle()
        assert cache.sockets == {} and first.sock.fileno() == -1


def test_target_replies_are_read_as_lines(nodes: dict[str, Node]) -> None:
    """Redis reads one line per command sent (syncReadLine): a line starting with '-' is an
    error, any other a success, even a bulk reply's header. A target answering each
    command with the bulk string "-bad" therefore acknowledges SELECT with "$4", fails
    the first RESTORE with "-bad" and acknowledges the second with "$4"; both agree."""
    import contextlib
    import threading

    from pyredis_cluster.protocol.parser import RequestParser

    def answer(conn: socket.socket) -> None:
        with conn:
            parser = RequestParser()
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    parser.feed(data)
                    conn.sendall(b"$4\r\n-bad\r\n" * len(list(parser.commands())))

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()  # sources cache their socket

    with socket.create_server((HOST, 0)) as listener:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        port = listener.getsockname()[1]
        results = []
        for source_name in ("real_a", "ours_a"):
            with nodes[source_name].client() as src:
                src.call("flushall")
                src.call("mset", "k1", "1", "k2", "2")
                results.append([src.raw("migrate", HOST, port, "", 0, 1000, "keys", "k1", "k2"),
                                src.raw("exists", "k1", "k2")])  # fmt: skip
    assert results[1] == results[0], results
    assert results[0][0].startswith(b"-ERR Target instance replied with error: bad")  # the case is the one meant
