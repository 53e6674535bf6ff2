"""Differential tests of the server and introspection commands against a real redis-server 7.0.

Replies are compared byte for byte in RESP2 and RESP3 (tests/differential.py). Replies
that legitimately differ between two servers (INFO values, CLIENT LIST addresses,
timestamps) are compared by shape: field names, order and value formats.
"""

from __future__ import annotations

import re

import pytest
import redis
import redis.asyncio

from tests.differential import assert_same
from tests.support import RawClient

FLUSH_AND_DBSIZE = [
    ["SET", "a", "1"], ["SET", "b", "2"], ["DBSIZE"],
    ["FLUSHDB", "ASYNC"], ["DBSIZE"], ["SET", "a", "1"], ["FLUSHDB", "sync"], ["FLUSHDB", "x"],
    ["FLUSHDB", "ASYNC", "SYNC"], ["FLUSHALL", "now"], ["FLUSHALL", "SYNC"], ["FLUSHALL", "ASYNC"],
    ["DBSIZE", "x"], ["SELECT", "3"], ["SET", "x", "1"], ["DBSIZE"], ["SELECT", "0"], ["DBSIZE"],
    ["FLUSHALL"], ["SELECT", "3"], ["DBSIZE"], ["SELECT", "0"],
]  # fmt: skip

SWAPDB = [
    ["SET", "k", "in0"], ["SELECT", "1"], ["SET", "k", "in1"], ["SET", "only1", "a"],
    ["SWAPDB", "0", "1"], ["GET", "k"], ["EXISTS", "only1"], ["SELECT", "0"], ["GET", "k"], ["GET", "only1"],
    ["SWAPDB", "0", "0"], ["SWAPDB", "0", "16"], ["SWAPDB", "-1", "0"], ["SWAPDB", "x", "0"], ["SWAPDB", "0", "y"],
    ["SWAPDB", "0"], ["SWAPDB", "0", "1", "2"], ["SWAPDB", "99999999999", "0"], ["SWAPDB", "1.5", "0"],
]  # fmt: skip

FUNCTION = [
    ["FUNCTION", "FLUSH"], ["FUNCTION", "FLUSH", "ASYNC"], ["FUNCTION", "FLUSH", "sync"], ["FUNCTION", "FLUSH", "foo"],
    ["FUNCTION", "FLUSH", "a", "b"], ["FUNCTION", "LIST"], ["FUNCTION", "LIST", "WITHCODE"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "x*"], ["FUNCTION", "LIST", "withcode", "libraryname", "x"],
    ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "foo"], ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
    ["FUNCTION", "STATS"], ["FUNCTION", "STATS", "x"], ["FUNCTION", "DUMP"], ["FUNCTION", "DUMP", "x"],
    ["FUNCTION", "RESTORE", "bad"], ["FUNCTION", "RESTORE", "bad", "FLUSH"], ["FUNCTION", "RESTORE", "bad", "nope"],
    ["FUNCTION", "RESTORE", "a", "b", "c"], ["FUNCTION", "RESTORE", b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda"],
    ["FUNCTION", "RESTORE", b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda", "REPLACE"], ["FUNCTION", "RESTORE", b"\x0b\x00]\x9b\\@\x0f\x7f\xa2\xda"],
    ["FUNCTION", "DELETE", "nolib"], ["FUNCTION", "DELETE"], ["FUNCTION", "KILL"], ["FUNCTION", "LOAD"],
    ["FUNCTION", "NOSUCH"], ["FUNCTION"], ["FUNCTION", "HELP", "x"],
]  # fmt: skip

MISC = [
    ["LASTSAVE", "x"], ["TIME", "x"], ["SAVE", "x"], ["BGSAVE", "x"], ["BGSAVE", "SCHEDULE", "x"], ["BGSAVE", "foo"],
    ["SHUTDOWN", "foo"], ["SHUTDOWN", "ABORT"], ["SHUTDOWN", "NOSAVE", "SAVE"], ["SHUTDOWN", "ABORT", "NOW"],
    ["SHUTDOWN", "SAVE", "NOSAVE", "NOW"], ["MONITOR", "x"], ["INFO", "nosuchsection"], ["INFO", "NOSUCH", "other"],
    ["DEBUG"], ["MULTI"], ["SAVE"], ["SHUTDOWN"], ["EXEC"],
    # The slow log is switched off and emptied first: a slow command of another test on the
    # shared real server would otherwise show up in it.
    ["CONFIG", "SET", "slowlog-log-slower-than", "-1"], ["SLOWLOG", "RESET"],
    ["SLOWLOG", "GET", "x"], ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "-1"], ["SLOWLOG", "GET", "1", "2"],
    ["SLOWLOG", "LEN"], ["SLOWLOG", "RESET"], ["SLOWLOG", "NOSUCH"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "10000"], ["LATENCY", "LATEST"], ["LATENCY", "HISTORY", "x"],
    ["LATENCY", "RESET"], ["LATENCY", "RESET", "a", "b"], ["LATENCY", "GRAPH", "x"], ["LATENCY", "HISTOGRAM", "nosuch"],
    ["LATENCY", "HISTORY"], ["MEMORY", "USAGE", "nokey"], ["SET", "s", "v"], ["MEMORY", "USAGE", "s", "SAMPLES"],
    ["MEMORY", "USAGE", "s", "SAMPLES", "x"], ["MEMORY", "USAGE", "s", "FOO", "1"], ["MEMORY", "USAGE", "s", "samples", "-1"],
    ["MEMORY", "PURGE"], ["MEMORY", "NOSUCH"], ["LOLWUT", "VERSION", "x"], ["LOLWUT", "foo"],
]  # fmt: skip

CONFIG = [
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "MAXMEMORY"], ["CONFIG", "GET", "maxmemory", "MAXMEMORY"],
    ["CONFIG", "GET", "slaveof"], ["CONFIG", "GET", "replicaof"], ["CONFIG", "GET", "key-load-delay"],
    ["CONFIG", "GET", "key-load*"], ["CONFIG", "GET", "nosuch"], ["CONFIG", "GET", "hash-max-ziplist-entries"],
    ["CONFIG", "GET"], ["CONFIG"], ["CONFIG", "FOO"],
    ["CONFIG", "GET", "client-output-buffer-limit"], ["CONFIG", "GET", "notify-keyspace-events"],
    ["CONFIG", "GET", "oom-score-adj-values"], ["CONFIG", "GET", "latency-tracking-info-percentiles"],
    ["CONFIG", "GET", "maxmemory-clients"], ["CONFIG", "GET", "unixsocketperm"],
    ["CONFIG", "SET", "foo", "bar"], ["CONFIG", "SET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "1", "foo"],
    ["CONFIG", "SET", "maxmemory", "abc"], ["CONFIG", "SET", "maxmemory", "-1"], ["CONFIG", "SET", "maxmemory", "1.5"],
    ["CONFIG", "SET", "maxmemory", "1gb"], ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "1KB"],
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "0"],
    ["CONFIG", "SET", "daemonize", "yes"], ["CONFIG", "SET", "dir", "/tmp"], ["CONFIG", "SET", "dbfilename", "x.rdb"],
    ["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"], ["CONFIG", "SET", "maxmemory", "1", "MAXMEMORY", "2"],
    ["CONFIG", "SET", "maxmemory", "7", "loglevel", "foo"], ["CONFIG", "GET", "maxmemory"],
    ["CONFIG", "SET", "loglevel", "foo"], ["CONFIG", "SET", "loglevel", "WARNING"], ["CONFIG", "GET", "loglevel"],
    ["CONFIG", "SET", "loglevel", "notice"], ["CONFIG", "SET", "appendonly", "maybe"], ["CONFIG", "SET", "appendfsync", "x"],
    ["CONFIG", "SET", "port", "abc"], ["CONFIG", "SET", "port", "99999"], ["CONFIG", "SET", "save", "1 2 3"],
    ["CONFIG", "SET", "save", "100 10 200 20"], ["CONFIG", "GET", "save"], ["CONFIG", "SET", "save", ""],
    ["CONFIG", "GET", "save"], ["CONFIG", "SET", "save", "  "], ["CONFIG", "SET", "save", "a b"],
    ["CONFIG", "SET", "notify-keyspace-events", "Q"], ["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "notify-keyspace-events", "gx$"],
    ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "notify-keyspace-events", "Km"],
    ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "notify-keyspace-events", "AKEmn"],
    ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "notify-keyspace-events", "Elsn"],
    ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "notify-keyspace-events", ""],
    ["CONFIG", "SET", "maxclients", "0"], ["CONFIG", "SET", "maxclients", "4294967296"], ["CONFIG", "SET", "hz", "-1"],
    ["CONFIG", "SET", "hz", "1000"], ["CONFIG", "GET", "hz"], ["CONFIG", "SET", "hz", "0"], ["CONFIG", "GET", "hz"],
    ["CONFIG", "SET", "hz", "10"], ["CONFIG", "SET", "maxmemory-clients", "200%"], ["CONFIG", "SET", "maxmemory-clients", "-1"],
    ["CONFIG", "SET", "maxmemory-clients", "10%"], ["CONFIG", "GET", "maxmemory-clients"],
    ["CONFIG", "SET", "maxmemory-clients", "0"], ["CONFIG", "SET", "timeout", "-1"], ["CONFIG", "SET", "timeout", " 5"],
    ["CONFIG", "SET", "timeout", "+5"], ["CONFIG", "SET", "timeout", "05"], ["CONFIG", "SET", "timeout", "0"],
    ["CONFIG", "SET", "list-max-listpack-size", "-6"], ["CONFIG", "GET", "list-max-ziplist-size"],
    ["CONFIG", "SET", "list-max-ziplist-size", "-2"], ["CONFIG", "SET", "active-expire-effort", "11"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "-2"], ["CONFIG", "SET", "replicaof", "127.0.0.1 1"],
    ["CONFIG", "SET", "slaveof", "a b"], ["CONFIG", "SET", "unixsocketperm", "777"], ["CONFIG", "SET", "databases", "3"],
    ["CONFIG", "SET", "client-output-buffer-limit", "foo 1 2 3"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal a 2 3"],
    ["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 2mb 3"], ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"],
    ["CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0"],
    ["CONFIG", "GET", "latency-tracking-info-percentiles"], ["CONFIG", "SET", "latency-tracking-info-percentiles", "10 a"],
    ["CONFIG", "SET", "latency-tracking-info-percentiles", "101"], ["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
    ["CONFIG", "GET", "latency-tracking-info-percentiles"], ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9"],
    ["CONFIG", "SET", "shutdown-on-sigint", "now nosave force"], ["CONFIG", "GET", "shutdown-on-sigint"],
    ["CONFIG", "SET", "shutdown-on-sigint", "save nosave"], ["CONFIG", "SET", "shutdown-on-sigint", "default now"],
    ["CONFIG", "SET", "shutdown-on-sigint", ""], ["CONFIG", "SET", "shutdown-on-sigint", "default"],
    ["CONFIG", "SET", "oom-score-adj-values", "1 2"], ["CONFIG", "SET", "oom-score-adj-values", "1 2 x"],
    ["CONFIG", "SET", "oom-score-adj-values", "-2001 0 0"], ["CONFIG", "SET", "oom-score-adj-values", "0 200 800"],
    ["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"], ["CONFIG", "GET", "maxmemory-policy"],
    ["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["CONFIG", "SET", "activerehashing", "YES"],
    ["CONFIG", "GET", "activerehashing"], ["CONFIG", "SET", "proc-title-template", "{foo}"],
    ["CONFIG", "SET", "hash-max-listpack-entries", "1", "hash-max-ziplist-entries", "2"],
    ["CONFIG", "GET", "hash-max-listpack-entries"], ["CONFIG", "SET", "hash-max-listpack-entries", "512"],
    ["CONFIG", "RESETSTAT", "x"], ["CONFIG", "REWRITE", "x"], ["CONFIG", "HELP", "x"],
]  # fmt: skip

CLIENT = [
    ["CLIENT", "ID", "x"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "my-name"], ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", "a b"], ["CLIENT", "SETNAME", "a\nb"], ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME"], ["CLIENT", "KILL"], ["CLIENT", "KILL", "1.2.3.4:5"], ["CLIENT", "KILL", "addr"],
    ["CLIENT", "KILL", "id", "str"], ["CLIENT", "KILL", "id", "-1"], ["CLIENT", "KILL", "id", "0"],
    ["CLIENT", "KILL", "id", "10", "wrong"], ["CLIENT", "KILL", "type", "foo"], ["CLIENT", "KILL", "user", "bob"],
    ["CLIENT", "KILL", "skipme", "x"], ["CLIENT", "KILL", "id", "999999"], ["CLIENT", "KILL", "type", "pubsub"],
    ["CLIENT", "KILL", "addr", "1.1.1.1:1", "skipme", "no"], ["CLIENT", "KILL", "foo", "bar"],
    ["CLIENT", "KILL", "laddr", "1.1.1.1:1"], ["CLIENT", "KILL", "user", "default", "id", "999999"],
    ["CLIENT", "LIST", "type", "foo"], ["CLIENT", "LIST", "id", "abc"], ["CLIENT", "LIST", "id", "0"],
    ["CLIENT", "LIST", "id", "999999"], ["CLIENT", "LIST", "foo"], ["CLIENT", "LIST", "type"], ["CLIENT", "LIST", "type", "pubsub"],
    ["CLIENT", "LIST", "type", "master"], ["CLIENT", "LIST", "id"], ["CLIENT", "LIST", "type", "normal", "x"],
    ["CLIENT", "SETINFO", "lib-name", "x"], ["CLIENT", "NO-TOUCH", "on"], ["CLIENT", "NO-EVICT", "maybe"],
    ["CLIENT", "NO-EVICT", "on"], ["CLIENT", "NO-EVICT", "OFF"], ["CLIENT", "PAUSE", "abc"], ["CLIENT", "PAUSE", "-1"],
    ["CLIENT", "PAUSE", "10", "foo"], ["CLIENT", "PAUSE", "10", "write", "x"], ["CLIENT", "UNPAUSE", "x"],
    ["CLIENT", "REPLY", "foo"], ["CLIENT", "REPLY", "ON"], ["CLIENT", "UNBLOCK", "abc"], ["CLIENT", "UNBLOCK", "1", "foo"],
    ["CLIENT", "UNBLOCK", "999999"], ["CLIENT", "UNBLOCK", "999999", "ERROR"], ["CLIENT", "UNBLOCK", "1", "timeout", "x"],
    ["CLIENT", "CACHING", "yes"], ["CLIENT", "CACHING", "no"], ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "TRACKING", "off"], ["CLIENT", "TRACKING", "maybe"], ["CLIENT", "FOO"], ["CLIENT"],
]  # fmt: skip

COMMAND = [
    ["COMMAND", "COUNT", "x"], ["COMMAND", "FOO"], ["COMMAND", "INFO", "get", "nosuch", "GET", "config|get", "CONFIG|GET",
    "get|x", "config|nosuch", "config|get|x"], ["COMMAND", "DOCS", "nosuch"],
    ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"], ["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
    ["COMMAND", "LIST", "FILTERBY", "foo", "x"], ["COMMAND", "LIST", "foo"], ["COMMAND", "LIST", "FILTERBY", "PATTERN"],
    ["COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuchcommand*"], ["COMMAND", "GETKEYS"], ["COMMAND", "GETKEYS", "nosuch", "a"],
    ["COMMAND", "GETKEYS", "get"], ["COMMAND", "GETKEYS", "get", "a", "b"], ["COMMAND", "GETKEYS", "ping", "a"],
    ["COMMAND", "GETKEYS", "config", "get", "x"], ["COMMAND", "GETKEYS", "get", "k"], ["COMMAND", "GETKEYS", "GET", "k"],
    ["COMMAND", "GETKEYS", "set", "a", "b", "get"], ["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "get"],
    ["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"], ["COMMAND", "GETKEYSANDFLAGS", "get", "k"],
    ["COMMAND", "GETKEYSANDFLAGS", "nosuch", "k"], ["COMMAND", "HELP", "x"],
]  # fmt: skip


@pytest.mark.parametrize(
    "script",
    [FLUSH_AND_DBSIZE, SWAPDB, FUNCTION, MISC, CONFIG, CLIENT, COMMAND],
    ids=["flush", "swapdb", "function", "misc", "config", "client", "command"],
)
def test_same_replies_as_redis(our_port: int, real_redis_port: int, script: list[list[str]]) -> None:
    assert_same(our_port, real_redis_port, script)


def _info_shape(text: str) -> list[tuple[str, str]]:
    """(field name, value format) for each line: digits, decimals and hex become placeholders."""
    shape = []
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            shape.append((line, ""))
            continue
        value = re.sub(r"^\d+(\.\d+)?[BKMGTP]$", "<human>", value)
        value = re.sub(r"^-?\d+\.\d+", "<float>", value)
        value = re.sub(r"^-?\d+$", "<int>", value)
        value = re.sub(r"^[0-9a-f]{40}$", "<hex40>", value)
        shape.append((name, value))
    return shape


#: Fields whose values are free text that legitimately differs.
_FREE_TEXT = {"os", "executable", "mem_allocator", "gcc_version", "redis_build_id", "multiplexing_api", "config_file"}


@pytest.mark.parametrize("section", ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                                     "modules", "cluster", "default"])  # fmt: skip
def test_info_sections_have_redis_fields_and_formats(our_port: int, real_redis_port: int, section: str) -> None:
    def shape(port: int) -> list[tuple[str, str]]:
        with RawClient(port) as conn:
            text = conn.call("INFO", section).decode()
        return [(name, "" if name in _FREE_TEXT else fmt) for name, fmt in _info_shape(text)
                if not re.match(r"errorstat_|db\d+$", name)]  # these lines depend on each server's history

    assert shape(our_port) == shape(real_redis_port)


@pytest.mark.parametrize("args", [[], ["all"], ["everything"], ["default"], ["cpu", "all"], ["CPU", "Keyspace"],
                                  ["commandstats"], ["errorstats", "latencystats"], ["nosuch"], ["server", "server"]])  # fmt: skip
def test_info_section_selection_matches_redis(our_port: int, real_redis_port: int, args: list[str]) -> None:
    def headers(port: int) -> list[str]:
        with RawClient(port) as conn:
            conn.call("CONFIG", "RESETSTAT")
            conn.call("SET", "k", "v")
            conn.call("GET", "k")
            text = conn.call("INFO", *args).decode()
            conn.call("FLUSHALL")
        return [line for line in text.split("\r\n") if line.startswith("#")]

    assert headers(our_port) == headers(real_redis_port)


def test_info_stats_lines_match_redis_format(our_port: int, real_redis_port: int) -> None:
    def lines(port: int) -> dict[str, list[str]]:
        with RawClient(port) as conn:
            conn.call("CONFIG", "RESETSTAT")
            conn.call("SET", "k", "v")
            conn.call("SET", "k")
            conn.call("NOSUCHCOMMAND")
            conn.call("LPUSH", "k", "x")
            conn.call("EXPIRE", "k", "100")
            text = conn.call("INFO", "commandstats", "errorstats", "keyspace").decode()
            conn.call("FLUSHALL")
        result: dict[str, list[str]] = {}
        for line in text.split("\r\n"):
            if ":" in line:
                name, _, value = line.partition(":")
                result[name] = re.sub(r"usec=\d+,usec_per_call=[\d.]+", "usec=<t>", value).split(",")
        return result

    ours, theirs = lines(our_port), lines(real_redis_port)
    ours.pop("cmdstat_config|resetstat", None)
    theirs.pop("cmdstat_config|resetstat", None)
    assert ours == theirs


@pytest.mark.parametrize("patterns", [["appendfsync", "maxmemory-policy", "loglevel"], ["list-max-*"], ["zset-max-*"],
                                      ["tls-*"], ["cluster-*"], ["repl*"], ["*max*", "maxmemory", "MAXMEMORY"], ["*"],
                                      ["*of"], ["[a-c]*"], ["?ort"], ["MAXMEM*"]])  # fmt: skip
def test_config_get_patterns_select_the_same_options(our_port: int, real_redis_port: int, patterns: list[str]) -> None:
    """Redis lists matches in hash-table order: compare them as dicts."""
    variable = {"port", "dir", "bind", "enable-debug-command", "save", "appendonly"}

    def found(port: int) -> dict[bytes, bytes]:
        with RawClient(port) as conn:
            reply = conn.call("CONFIG", "GET", *patterns)
        pairs = dict(zip(reply[::2], reply[1::2]))
        assert len(pairs) * 2 == len(reply), "duplicate names in the reply"
        return {name: value for name, value in pairs.items() if name.decode() not in variable}

    assert found(our_port) == found(real_redis_port)


def _client_list_shape(line: str) -> list[str]:
    return [field.split("=", 1)[0] for field in line.split(" ")]


def test_client_list_fields_match_redis(our_port: int, real_redis_port: int) -> None:
    def fields(port: int) -> tuple[list[str], dict[str, str]]:
        with RawClient(port) as conn:
            conn.call("CLIENT", "SETNAME", "probe")
            line = conn.call("CLIENT", "LIST", "ID", conn.call("CLIENT", "ID")).decode().rstrip("\n")
        values = dict(field.split("=", 1) for field in line.split(" "))
        stable = {key: values[key] for key in ("name", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf",
                                                "argv-mem", "multi-mem", "cmd", "user", "redir", "resp", "events")}  # fmt: skip
        return _client_list_shape(line), stable

    assert fields(our_port) == fields(real_redis_port)


# -- redis-py drives the node like a real server ---------------------------------------------------


def _text(value: object) -> object:
    """redis-py returns str or bytes depending on the protocol and the command: compare as str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(item) for item in value]
    return value


def _sync_workload(client: redis.Redis) -> dict[str, object]:
    client.flushall()
    with client.pipeline(transaction=False) as pipe:
        for i in range(50):
            pipe.set(f"key:{i}", i)
        pipe.dbsize()
        results = pipe.execute()
    assert results[-1] == 50
    with client.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").get("a").dbsize()
        assert pipe.execute() == [True, b"1", 51]
    client.config_set("maxmemory-policy", "allkeys-lru")
    assert client.config_get("maxmemory*")["maxmemory-policy"] == "allkeys-lru"
    client.config_set("maxmemory-policy", "noeviction")
    info = client.info()
    assert info["redis_version"] == "7.0.15" and info["db0"]["keys"] == 51
    assert client.info("commandstats")["cmdstat_set"]["calls"] >= 51
    client.client_setname("worker")
    assert _text(client.client_getname()) == "worker"  # redis-py decodes it in RESP2 only
    assert any(entry["name"] == "worker" for entry in client.client_list())
    assert client.client_info()["name"] == "worker"
    assert isinstance(client.client_id(), int)
    assert client.command_count() > 100
    assert "get" in client.command()
    assert _text(client.command_getkeys("SET", "a", "1")) == ["a"]
    assert isinstance(client.time()[0], int) and client.lastsave() is not None
    client.swapdb(0, 1)
    assert client.dbsize() == 0
    client.flushdb()
    assert client.execute_command("SELECT", 1) and client.dbsize() == 51
    client.flushall()
    return info


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sync_workload(our_port: int, protocol: int) -> None:
    client = redis.Redis(port=our_port, protocol=protocol)
    try:
        _sync_workload(client)
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_asyncio_workload(our_port: int, protocol: int) -> None:
    client = redis.asyncio.Redis(port=our_port, protocol=protocol)
    try:
        await client.flushall()
        async with client.pipeline(transaction=True) as pipe:
            pipe.set("x", "1").incr("x").get("x")
            assert await pipe.execute() == [True, 2, b"2"]
        assert (await client.config_get("timeout")) == {"timeout": "0"}
        assert (await client.info("server"))["redis_mode"] == "standalone"
        assert (await client.info("keyspace"))["db0"]["keys"] == 1
        await client.client_setname("async-worker")
        assert any(entry["name"] == "async-worker" for entry in await client.client_list())
        assert await client.dbsize() == 1
        await client.flushall()
    finally:
        await client.aclose()


CONNECTION = [
    ["PING"], ["PING", "hello"], ["PING", "a", "b"], ["ECHO"], ["ECHO", "x"], ["ECHO", "a", "b"], ["ECHO", ""],
    ["SELECT", "abc"], ["SELECT", "-1"], ["SELECT", "16"], ["SELECT", "1.5"], ["SELECT", "15"], ["SELECT", "0"],
    ["SELECT"], ["AUTH"], ["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH", "a", "b", "c"], ["AUTH", "nouser", "x"],
    ["HELLO", "4"], ["HELLO", "abc"], ["HELLO", "1"], ["HELLO", "-1"], ["HELLO", "3", "FOO"],
    ["HELLO", "3", "SETNAME", "a b"], ["HELLO", "3", "AUTH", "default"], ["HELLO", "3", "AUTH", "nouser", "x"],
    ["RESET", "x"], ["RESET"], ["CLIENT", "GETNAME"], ["QUIT", "x"],
]  # fmt: skip


def test_connection_commands_match_redis(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, CONNECTION)


def test_hello_replies_match_redis_except_id(our_port: int, real_redis_port: int) -> None:
    def hello(port: int, *args: str) -> object:
        with RawClient(port) as conn:
            reply = conn.call("HELLO", *args)
        pairs = reply.items if hasattr(reply, "items") else list(zip(reply[::2], reply[1::2]))
        reply = [item for pair in (pairs() if callable(pairs) else pairs) for item in pair]
        return [b"<id>" if i > 0 and reply[i - 1] in (b"id", "id") else item for i, item in enumerate(reply)]

    for args in ([], ["2"], ["3"], ["3", "SETNAME", "x"], ["2", "AUTH", "default", "", "SETNAME", "y"],
                 ["3", "AUTH", "default", "any-password-without-requirepass"]):
        assert hello(our_port, *args) == hello(real_redis_port, *args), args
