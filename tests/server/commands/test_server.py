"""Server commands on a node of ours: effects that a byte comparison cannot show.

Expected values are Redis facts (formats from redis.io and the 7.0 source, behaviours
checked on the real server); replies that can be compared byte for byte with the
real server are in tests/integration/test_diff_server.py.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from pyredis_cluster.server.commands.server import (
    bytes_to_human,
    info_sections,
    percentile_label,
)
from pyredis_cluster.server.rdb import seal_dump_payload, verify_dump_payload
from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, wait_until


def _info(conn: RawClient, *sections: str) -> dict[str, str]:
    text = conn.call("INFO", *sections).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


# -- FLUSHALL / FLUSHDB / SWAPDB ----------------------------------------------------------


def test_flushall_fails_a_transaction_watching_an_existing_key(node: object) -> None:
    with RawClient(node.port) as watcher, RawClient(node.port) as other:  # type: ignore[attr-defined]
        watcher.call("SET", "k", "v")
        watcher.call("WATCH", "k")
        other.call("FLUSHALL")
        watcher.call("MULTI")
        watcher.call("SET", "k", "new")
        assert watcher.raw("EXEC") == b"*-1\r\n"


def test_flushdb_only_empties_the_selected_db(client: RawClient) -> None:
    client.call("SET", "k", "v")
    client.call("SELECT", "1")
    client.call("SET", "k", "v")
    client.call("FLUSHDB")
    assert client.call("DBSIZE") == 0
    client.call("SELECT", "0")
    assert client.call("DBSIZE") == 1


def test_flushall_dirty_counter_follows_save_points() -> None:
    """Redis saves right after FLUSHALL when save points exist, which zeroes the dirty counter."""
    with node_in_thread(save="") as running, RawClient(running.port) as conn:
        conn.call("SET", "a", "1")
        conn.call("SET", "b", "2")
        before = int(_info(conn, "persistence")["rdb_changes_since_last_save"])
        conn.call("FLUSHALL")
        assert int(_info(conn, "persistence")["rdb_changes_since_last_save"]) == before + 2
        conn.call("CONFIG", "SET", "save", "900 1")
        conn.call("SET", "a", "1")
        conn.call("FLUSHALL")
        assert _info(conn, "persistence")["rdb_changes_since_last_save"] == "0"


def test_swapdb_exchanges_contents_and_fails_watchers_of_either_db(node: object) -> None:
    with RawClient(node.port) as watcher, RawClient(node.port) as other:  # type: ignore[attr-defined]
        other.call("SELECT", "1")
        other.call("SET", "only-in-1", "x")
        watcher.call("WATCH", "only-in-1")  # absent from db 0, present in db 1
        other.call("SWAPDB", "0", "1")
        assert watcher.call("GET", "only-in-1") == b"x"
        watcher.call("MULTI")
        watcher.call("GET", "only-in-1")
        assert watcher.raw("EXEC") == b"*-1\r\n"


def test_swapdb_wakes_a_client_blocked_on_a_key_of_the_other_db(node: object) -> None:
    from pyredis_cluster.server.command_table import COMMANDS

    if "blpop" not in COMMANDS:
        pytest.skip("BLPOP is not implemented yet")
    with RawClient(node.port) as blocked, RawClient(node.port) as other:  # type: ignore[attr-defined]
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        wait_until(lambda: _info(other, "clients")["blocked_clients"] == "1", what="client to block")
        other.call("SELECT", "1")
        other.call("RPUSH", "q", "item")
        other.call("SWAPDB", "0", "1")
        assert blocked.read_reply()[0] == [b"q", b"item"]


# -- MONITOR ---------------------------------------------------------------------------------

MONITOR_LINE = re.compile(rb'^\+\d{10}\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\] (.*)\r\n$')


def _monitor_lines(monitor: RawClient, count: int) -> list[bytes]:
    lines = []
    for _ in range(count):
        raw = monitor.read_reply()[1]
        match = MONITOR_LINE.match(raw)
        assert match, raw
        lines.append(match.group(1) + b" " + match.group(2))
    return lines


def test_monitor_shows_commands_in_redis_format(node: object) -> None:
    with RawClient(node.port) as monitor, RawClient(node.port) as conn:  # type: ignore[attr-defined]
        assert monitor.raw("MONITOR") == b"+OK\r\n"
        conn.call("SET", "foo", 'a "quoted"\n\x01 value')
        conn.call("CONFIG", "GET", "maxmemory")  # admin: never shown
        conn.call("SELECT", "2")
        conn.call("MULTI")
        conn.call("GET", "foo")
        conn.call("EXEC")
        conn.call("AUTH", "secret")
        conn.call("HELLO", "2", "AUTH", "user", "pass")
        assert _monitor_lines(monitor, 7) == [
            b'0 "SET" "foo" "a \\"quoted\\"\\n\\x01 value"',
            b'2 "SELECT" "2"',  # shown after it ran: the db it selected
            b'2 "MULTI"',
            b'2 "GET" "foo"',
            b'2 "EXEC"',  # after the commands it ran
            b'2 "AUTH" "(redacted)"',
            b'2 "HELLO" "2" "AUTH" "(redacted)" "(redacted)"',
        ]


def test_second_monitor_is_ignored_and_reset_leaves_monitor_mode(node: object) -> None:
    with RawClient(node.port) as monitor, RawClient(node.port) as conn:  # type: ignore[attr-defined]
        monitor.call("MONITOR")
        monitor.send_raw(b"*1\r\n$7\r\nMONITOR\r\n*1\r\n$5\r\nRESET\r\n")
        assert monitor.read_reply()[1] == b"+RESET\r\n"  # the second MONITOR got no reply at all
        conn.call("SET", "k", "v")
        assert b"flags=O" not in conn.call("CLIENT", "LIST")


# -- DEBUG -------------------------------------------------------------------------------------


def test_debug_is_refused_unless_enabled(client: RawClient) -> None:
    assert client.raw("DEBUG", "HELP").startswith(b"-ERR DEBUG command not allowed.")


@pytest.fixture
def debug_node() -> Iterator[object]:
    with node_in_thread(enable_debug_command="local") as running:
        yield running


def test_debug_local_allows_loopback_clients(debug_node: object) -> None:
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        help_lines = conn.call("DEBUG", "HELP")
        assert help_lines[0].startswith("DEBUG <subcommand>")
        assert conn.raw("DEBUG", "NOSUCH") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP.\r\n"
        )


def test_debug_sleep_blocks_the_whole_server(debug_node: object) -> None:
    """A PING sent during DEBUG SLEEP is answered only after the sleep (one thread, like Redis)."""
    with RawClient(debug_node.port) as sleeper, RawClient(debug_node.port) as other:  # type: ignore[attr-defined]
        for _ in range(5):
            started = time.monotonic()
            sleeper.send_raw(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.3\r\n")
            assert other.call("PING") == "PONG"
            sleeper.sock.settimeout(0.0)
            try:
                slept_first = sleeper.sock.recv(5, socket.MSG_PEEK) == b"+OK\r\n"
            except BlockingIOError:
                slept_first = False  # the PING got in before the DEBUG: try again
            sleeper.sock.settimeout(10)
            assert sleeper.read_reply()[1] == b"+OK\r\n"
            if slept_first:
                assert time.monotonic() - started >= 0.3
                return
        raise AssertionError("the PING was always served before DEBUG SLEEP")


def test_debug_object_line(debug_node: object) -> None:
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        conn.call("SET", "n", "123")
        conn.call("SET", "s", "hello")
        assert re.fullmatch(
            r"Value at:0x[0-9a-f]+ refcount:2147483647 encoding:int serializedlength:\d+ lru:\d+ lru_seconds_idle:\d+",
            conn.call("DEBUG", "OBJECT", "n"),
        )
        assert re.fullmatch(
            r"Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ lru:\d+ lru_seconds_idle:\d+",
            conn.call("DEBUG", "OBJECT", "s"),
        )
        assert conn.raw("DEBUG", "OBJECT", "nokey") == b"-ERR no such key\r\n"


def test_debug_set_active_expire_stops_background_expiry(debug_node: object) -> None:
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        conn.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        conn.call("SET", "k", "v", "PX", "1")
        expired_at = time.monotonic() + 0.01
        # Wait for the cron to have ticked (it samples the stats each tick) well after the expiry.
        wait_until(lambda: debug_node.stats._last_sample[0] > expired_at + 0.3, what="cron ticks")  # type: ignore[attr-defined]
        assert conn.call("DBSIZE") == 1  # still there: DBSIZE does not look keys up
        conn.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        wait_until(lambda: conn.call("DBSIZE") == 0, what="active expiry")


def test_debug_digest_and_populate(debug_node: object) -> None:
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        assert conn.call("DEBUG", "DIGEST") == "0" * 40
        conn.call("DEBUG", "POPULATE", "10")
        assert conn.call("DBSIZE") == 10
        assert conn.call("GET", "key:3") == b"value:3"
        digest = conn.call("DEBUG", "DIGEST")
        assert digest != "0" * 40 and digest == conn.call("DEBUG", "DIGEST")
        conn.call("SET", "key:3", "changed")
        assert conn.call("DEBUG", "DIGEST") != digest


@pytest.mark.parametrize("kind,resp2,resp3", [
    ("string", b"$11\r\nHello World\r\n", b"$11\r\nHello World\r\n"),
    ("integer", b":12345\r\n", b":12345\r\n"),
    ("double", b"$5\r\n3.141\r\n", b",3.141\r\n"),
    ("null", b"$-1\r\n", b"_\r\n"),
    ("true", b":1\r\n", b"#t\r\n"),
    ("map", b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n", b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"),
])  # fmt: skip
def test_debug_protocol(debug_node: object, kind: str, resp2: bytes, resp3: bytes) -> None:
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        assert conn.raw("DEBUG", "PROTOCOL", kind) == resp2
        conn.call("HELLO", "3")
        assert conn.raw("DEBUG", "PROTOCOL", kind) == resp3


# -- SHUTDOWN, persistence ----------------------------------------------------------------------


def test_shutdown_requests_the_node_to_stop_and_closes_the_connection(node: object) -> None:
    with RawClient(node.port) as conn:  # type: ignore[attr-defined]
        conn.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n")
        assert conn.is_closed()
    wait_until(lambda: node.shutdown_requested.is_set(), what="shutdown request")  # type: ignore[attr-defined]


def test_save_and_bgsave_move_lastsave_and_clear_changes(client: RawClient) -> None:
    client.call("SET", "k", "v")
    assert int(_info(client, "persistence")["rdb_changes_since_last_save"]) > 0
    assert client.call("SAVE") == "OK"
    assert _info(client, "persistence")["rdb_changes_since_last_save"] == "0"
    assert abs(client.call("LASTSAVE") - time.time()) < 5
    assert client.call("BGSAVE") == "Background saving started"


# -- INFO -----------------------------------------------------------------------------------------


def test_info_text_format(client: RawClient) -> None:
    text = client.call("INFO").decode()
    assert text.startswith("# Server\r\nredis_version:7.0.15\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert "\r\n\r\n# Clients\r\n" in text
    client.call("HELLO", "3")
    assert client.raw("INFO", "cluster") == b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"


def test_info_section_selection() -> None:
    default = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
               "errorstats", "cluster", "keyspace"]  # fmt: skip
    assert info_sections([]) == default
    assert info_sections([b"default"]) == default
    assert info_sections([b"all"]) == info_sections([b"everything"])
    assert "commandstats" in info_sections([b"all"]) and "latencystats" in info_sections([b"all"])
    assert info_sections([b"KEYSPACE", b"cpu"]) == ["cpu", "keyspace"]
    assert info_sections([b"nosuch"]) == []


def test_info_keyspace_lists_only_non_empty_dbs(client: RawClient) -> None:
    client.call("SET", "a", "1")
    client.call("SET", "b", "1", "EX", "100")
    client.call("SELECT", "5")
    client.call("SET", "c", "1")
    keyspace = _info(client, "keyspace")
    assert keyspace == {"db0": "keys=2,expires=1,avg_ttl=0", "db5": "keys=1,expires=0,avg_ttl=0"} or (
        set(keyspace) == {"db0", "db5"} and keyspace["db0"].startswith("keys=2,expires=1,avg_ttl=")
    )


def test_info_command_and_error_stats(client: RawClient) -> None:
    client.call("CONFIG", "RESETSTAT")
    client.call("SET", "k", "v")
    client.call("SET", "k")  # wrong arity: rejected
    client.call("INCR", "k")  # runs, fails
    client.call("NOSUCH")
    stats = _info(client, "commandstats", "errorstats", "stats")
    assert re.fullmatch(r"calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0", stats["cmdstat_set"])
    assert stats["cmdstat_incr"].endswith(",rejected_calls=0,failed_calls=1")
    assert stats["errorstat_ERR"] == "count=3"
    assert stats["total_error_replies"] == "3"


def test_info_latencystats_and_percentile_labels(client: RawClient) -> None:
    client.call("CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 99.9")
    client.call("SET", "k", "v")
    line = _info(client, "latencystats")["latency_percentiles_usec_set"]
    assert re.fullmatch(r"p0=\d+\.\d{3},p50=\d+\.\d{3},p99\.9=\d+\.\d{3}", line)
    client.call("CONFIG", "SET", "latency-tracking", "no")
    assert client.call("INFO", "latencystats") == b"# Latencystats\r\n"
    assert percentile_label(99.9) == "99.9" and percentile_label(50.0) == "50" and percentile_label(0.0) == "0"


def test_bytes_to_human() -> None:
    assert [bytes_to_human(n) for n in (0, 1023, 1024, 1536, 1024**2, 5 * 1024**3)] == [
        "0B", "1023B", "1.00K", "1.50K", "1.00M", "5.00G",
    ]  # fmt: skip


# -- CONFIG ---------------------------------------------------------------------------------------


def test_config_set_is_all_or_nothing(client: RawClient) -> None:
    client.call("CONFIG", "SET", "maxmemory", "10000002")
    error = client.raw("CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%", "timeout", "x")
    assert error == (b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - "
                     b"percentage argument must be less or equal to 100\r\n")  # fmt: skip
    assert client.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"10000002"]


def test_config_set_notify_keyspace_events_takes_effect(node: object) -> None:
    with RawClient(node.port) as sub, RawClient(node.port) as conn:  # type: ignore[attr-defined]
        conn.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("SUBSCRIBE", "__keyevent@0__:set")
        conn.call("SET", "k", "v")
        assert sub.read_reply()[0] == [b"message", b"__keyevent@0__:set", b"k"]


def test_config_set_requirepass_applies_to_new_connections(node: object) -> None:
    with RawClient(node.port) as admin:  # type: ignore[attr-defined]
        admin.call("CONFIG", "SET", "requirepass", "s3cret")
        assert admin.call("PING") == "PONG"  # already connected: stays authenticated
        with RawClient(node.port) as newcomer:  # type: ignore[attr-defined]
            assert newcomer.raw("PING") == b"-NOAUTH Authentication required.\r\n"
            assert newcomer.call("AUTH", "s3cret") == "OK"
        admin.call("CONFIG", "SET", "requirepass", "")


def test_config_rewrite_without_file(client: RawClient) -> None:
    assert client.raw("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"


def test_config_rewrite_keeps_comments_and_order(tmp_path: object) -> None:
    from pyredis_cluster.config import Config, load_config_text

    path = tmp_path / "node.conf"  # type: ignore[operator]
    original = "# my comment\nmaxmemory 1mb\n\n# keep me too\nloglevel notice\nsave 100 1\nsave 200 2\n"
    path.write_text(original)
    config = Config()
    load_config_text(config, original)
    config.path = str(path)
    config.port = 0
    with node_in_thread(config=config) as running, RawClient(running.port) as conn:
        conn.call("CONFIG", "SET", "maxmemory", "2mb", "loglevel", "warning", "save", "300 3", "maxclients", "77")
        assert conn.call("CONFIG", "REWRITE") == "OK"
    lines = path.read_text().split("\n")
    assert lines[:6] == ["# my comment", "maxmemory 2mb", "", "# keep me too", "loglevel warning", "save 300 3"]
    assert "save 200 2" not in lines
    signature = lines.index("# Generated by CONFIG REWRITE")
    assert "maxclients 77" in lines[signature:] and any(line.startswith("dir ") for line in lines[signature:])
    reread = Config()
    load_config_text(reread, path.read_text())
    assert (reread.maxmemory, reread.loglevel, reread.save, reread.maxclients) == (2 * 1024**2, "warning", "300 3", 77)


# -- FUNCTION ------------------------------------------------------------------------------------


def test_function_dump_restores_and_payload_is_checked() -> None:
    payload = seal_dump_payload(b"")
    assert payload == b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda"  # FUNCTION DUMP of an empty redis-server 7.0
    assert verify_dump_payload(payload)
    assert not verify_dump_payload(payload[:-1] + b"\x00")
    assert not verify_dump_payload(b"\x0b\x00" + payload[2:])


def test_every_handler_survives_random_arguments(debug_node: object) -> None:
    """No argument list makes a server command answer anything but a reply or an error."""
    import random

    words = [b"", b"0", b"-1", b"1.5", b"abc", b"*", b"ALL", b"WRITE", b"id", b"type", b"yes", b"no",
             b"get", b"set", b"maxmemory", b"async", b"SYNC", b"99999999999999999999", b"\xff\x00"]  # fmt: skip
    rng = random.Random(7)
    heads = [["FLUSHALL"], ["FLUSHDB"], ["SWAPDB"], ["CONFIG", "GET"], ["CONFIG", "SET"], ["INFO"], ["DEBUG", "OBJECT"],
             ["DEBUG", "PROTOCOL"], ["COMMAND", "INFO"], ["COMMAND", "GETKEYS"], ["COMMAND", "LIST"], ["CLIENT", "LIST"],
             ["CLIENT", "KILL"], ["CLIENT", "UNBLOCK"], ["CLIENT", "REPLY"], ["FUNCTION", "RESTORE"], ["FUNCTION", "LIST"],
             ["BGSAVE"], ["SHUTDOWN", "ABORT"]]  # fmt: skip
    with RawClient(debug_node.port) as conn:  # type: ignore[attr-defined]
        for _ in range(300):
            line = rng.choice(heads) + [rng.choice(words) for _ in range(rng.randint(0, 4))]
            if line[:2] == ["CLIENT", "KILL"] or line[:2] == ["CLIENT", "REPLY"]:
                line = line[:2] + [b"id", b"999999"]
            reply = conn.raw(*line)
            assert not reply.startswith(b"-ERR internal error"), line


def test_function_list_and_flush_reply_like_an_empty_server(client: RawClient) -> None:
    assert client.call("FUNCTION", "FLUSH") == "OK"
    assert client.call("FUNCTION", "LIST") == []
    assert client.call("FUNCTION", "RESTORE", client.call("FUNCTION", "DUMP")) == "OK"


def test_time_is_now(client: RawClient) -> None:
    seconds, micros = client.call("TIME")
    assert abs(int(seconds) + int(micros) / 1e6 - time.time()) < 2 and 0 <= int(micros) < 1_000_000
