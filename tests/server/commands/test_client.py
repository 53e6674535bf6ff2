"""CLIENT subcommands and the connection limits (maxclients, timeout) on a node of ours.

Error texts and reply bytes are compared with redis-server in
tests/integration/test_diff_server.py; here are the effects on other connections.
"""

from __future__ import annotations

import re

import pytest

from pyredis_cluster.server.command_table import COMMANDS
from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, wait_until

#: CLIENT LIST's fields in Redis 7.0's order.
FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf",
          "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user",
          "redir", "resp"]  # fmt: skip


def _parse_list(text: bytes) -> list[dict[str, str]]:
    rows = []
    for line in text.decode().split("\n"):
        if line:
            pairs = [field.split("=", 1) for field in line.split(" ")]
            assert [name for name, _ in pairs] == FIELDS
            rows.append(dict(pairs))
    return rows


def test_client_list_describes_each_connection(node: object) -> None:
    with RawClient(node.port) as me, RawClient(node.port) as other:  # type: ignore[attr-defined]
        other.call("CLIENT", "SETNAME", "other")
        other.call("SELECT", "3")
        other.call("SUBSCRIBE", "ch")
        rows = {row["id"]: row for row in _parse_list(me.call("CLIENT", "LIST"))}
        my_id = str(me.call("CLIENT", "ID"))
        mine = rows[my_id]
        assert mine["flags"] == "N" and mine["cmd"] == "client|list" and mine["qbuf"] == "26" and mine["name"] == ""
        (other_id,) = [key for key in rows if key != my_id]
        theirs = rows[other_id]
        assert (theirs["name"], theirs["db"], theirs["sub"], theirs["flags"], theirs["cmd"]) == (
            "other", "3", "1", "P", "subscribe",
        )  # fmt: skip
        assert re.fullmatch(r"127\.0\.0\.1:\d+", theirs["addr"]) and theirs["laddr"].endswith(f":{node.port}")  # type: ignore[attr-defined]
        assert [row["id"] for row in _parse_list(me.call("CLIENT", "LIST", "TYPE", "pubsub"))] == [other_id]
        assert [row["id"] for row in _parse_list(me.call("CLIENT", "LIST", "ID", other_id, "12345"))] == [other_id]
        info = _parse_list(me.call("CLIENT", "INFO"))[0]
        assert (info["id"], info["cmd"], info["qbuf"], info["argv-mem"]) == (my_id, "client|info", "26", "10")


def test_client_list_flags_for_multi_and_monitor(node: object) -> None:
    with RawClient(node.port) as me, RawClient(node.port) as monitor, RawClient(node.port) as observer:  # type: ignore[attr-defined]
        monitor.call("MONITOR")
        me.call("MULTI")
        me.call("GET", "k")
        rows = {row["id"]: row for row in _parse_list(observer.call("CLIENT", "LIST"))}
        mine = rows[str(_id_of(node, me, observer))]
        assert (mine["flags"], mine["multi"]) == ("x", "1")
        assert rows[str(_id_of(node, monitor, observer))]["flags"] == "O"
        me.call("DISCARD")


def _id_of(node: object, target: RawClient, asker: RawClient) -> int:
    """The id of ``target`` as seen by ``asker`` (by matching local/peer ports)."""
    port = target.sock.getsockname()[1]
    for row in _parse_list(asker.call("CLIENT", "LIST")):
        if row["addr"].endswith(f":{port}"):
            return int(row["id"])
    raise AssertionError("client not listed")


def test_client_kill_skipme(node: object) -> None:
    with RawClient(node.port) as me, RawClient(node.port) as a, RawClient(node.port) as b:  # type: ignore[attr-defined]
        a.call("PING")
        b.call("PING")
        assert me.call("CLIENT", "KILL", "SKIPME", "yes") == 2
        assert a.is_closed() and b.is_closed()
        assert me.call("PING") == "PONG"
        assert me.call("CLIENT", "KILL", "SKIPME", "no") == 1
        assert me.is_closed()


def test_client_kill_by_address_and_id(node: object) -> None:
    with RawClient(node.port) as me, RawClient(node.port) as a, RawClient(node.port) as b:  # type: ignore[attr-defined]
        # A connect returns once the kernel has the connection, maybe before the node
        # accepted it: a reply proves the node knows the client.
        assert a.call("PING") == "PONG" and b.call("PING") == "PONG"
        a_addr = "127.0.0.1:%d" % a.sock.getsockname()[1]
        assert me.call("CLIENT", "KILL", a_addr) == "OK"
        assert a.is_closed()
        assert me.call("CLIENT", "KILL", "ID", str(_id_of(node, b, me)), "TYPE", "normal") == 1
        assert b.is_closed()
        assert me.call("CLIENT", "KILL", "ID", "999999") == 0


def test_client_setname_getname(client: RawClient) -> None:
    assert client.call("CLIENT", "GETNAME") is None
    assert client.call("CLIENT", "SETNAME", "worker-1") == "OK"
    assert client.call("CLIENT", "GETNAME") == b"worker-1"
    assert client.call("CLIENT", "SETNAME", "") == "OK"
    assert client.call("CLIENT", "GETNAME") is None


def test_client_reply_off_skip_on(client: RawClient) -> None:
    client.send_raw(
        b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*2\r\n$4\r\nPING\r\n$1\r\na\r\n"
        b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n*2\r\n$4\r\nPING\r\n$1\r\nb\r\n"
        b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n*2\r\n$4\r\nPING\r\n$1\r\nc\r\n*2\r\n$4\r\nPING\r\n$1\r\nd\r\n"
    )
    assert [client.read_reply()[1] for _ in range(3)] == [b"+OK\r\n", b"$1\r\nb\r\n", b"$1\r\nd\r\n"]


def test_client_pause_write_holds_writes_until_unpause(node: object) -> None:
    with RawClient(node.port) as admin, RawClient(node.port) as writer:  # type: ignore[attr-defined]
        assert admin.call("CLIENT", "PAUSE", "100000", "WRITE") == "OK"
        assert writer.call("GET", "k") is None  # reads go on
        writer.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        wait_until(lambda: b"blocked_clients:1" in admin.call("INFO", "clients"), what="the SET to be held")
        assert admin.call("GET", "k") is None
        assert admin.call("CLIENT", "UNPAUSE") == "OK"
        assert writer.read_reply()[1] == b"+OK\r\n"
        assert writer.read_reply()[1] == b"$1\r\nv\r\n"  # commands pipelined behind the held one ran after it


def test_client_pause_all_ends_by_itself(node: object) -> None:
    with RawClient(node.port) as admin, RawClient(node.port) as reader:  # type: ignore[attr-defined]
        admin.call("CLIENT", "PAUSE", "300", "ALL")
        reader.send_raw(b"*1\r\n$4\r\nPING\r\n")
        assert reader.read_reply()[1] == b"+PONG\r\n"  # answered once the pause ran out
        assert node.client_pause is None  # type: ignore[attr-defined]


def test_client_unblock(node: object) -> None:
    if "blpop" not in COMMANDS:
        pytest.skip("BLPOP is not implemented yet")
    with RawClient(node.port) as admin, RawClient(node.port) as blocked:  # type: ignore[attr-defined]
        blocked_id = blocked.call("CLIENT", "ID")
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        wait_until(lambda: b"blocked_clients:1" in admin.call("INFO", "clients"), what="BLPOP to block")
        assert admin.call("CLIENT", "UNBLOCK", blocked_id) == 1
        assert blocked.read_reply()[1] == b"*-1\r\n"
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        wait_until(lambda: b"blocked_clients:1" in admin.call("INFO", "clients"), what="BLPOP to block")
        assert admin.call("CLIENT", "UNBLOCK", blocked_id, "ERROR") == 1
        assert blocked.read_reply()[1] == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        assert admin.call("CLIENT", "UNBLOCK", blocked_id) == 0
        assert b"errorstat_UNBLOCKED:count=1" in admin.call("INFO", "errorstats")


def test_maxclients_is_enforced() -> None:
    with node_in_thread(maxclients=2) as running, RawClient(running.port) as first, RawClient(running.port) as second:
        assert first.call("PING") == second.call("PING") == "PONG"
        with RawClient(running.port) as third:
            assert third.read_reply()[1] == b"-ERR max number of clients reached\r\n"
            assert third.is_closed()


def test_idle_clients_are_closed_after_timeout() -> None:
    with node_in_thread(timeout=1) as running, RawClient(running.port) as idle:
        idle.call("PING")
        assert idle.is_closed(timeout=5)


def test_unknown_client_subcommand_keeps_the_connection(client: RawClient) -> None:
    assert client.raw("CLIENT", "SETINFO", "lib-name", "x") == b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
    assert client.call("PING") == "PONG"
