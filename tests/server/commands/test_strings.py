"""String command handlers, tested without sockets: a Node, a Client, the dispatch pipeline.

Expected values are facts of Redis's documented behaviour (TTL rules, event names,
encodings) or come from an independent computation (a plain dynamic-programming LCS);
byte-exact replies are checked against the real server in tests/integration.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import OK, ErrorReply, Map
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands import strings
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node

NOW_MS = 1_700_000_000_000


class FakeList:
    """A stand-in for another data type's value: only its TYPE_NAME matters here."""

    TYPE_NAME = "list"


@pytest.fixture
def env() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)
    events: list[tuple[str, str, bytes]] = []
    node.notify_keyspace_event = lambda cls, event, key, dbid: events.append((cls, event, key))  # type: ignore[method-assign]

    def run(*words: str | bytes) -> Any:
        node.keyspace.now_ms = NOW_MS
        args = [w if isinstance(w, bytes) else w.encode() for w in words]
        client.in_exec = True  # keep our frozen clock: call() only sets the time outside EXEC
        try:
            return process_command(client, args)
        finally:
            client.in_exec = False

    run.node = node  # type: ignore[attr-defined]
    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


def test_string_encoding_rule():
    assert strings.string_encoding(b"0") == "int"
    assert strings.string_encoding(b"-42") == "int"
    assert strings.string_encoding(b"9223372036854775807") == "int"
    assert strings.string_encoding(b"-9223372036854775808") == "int"
    assert strings.string_encoding(b"9223372036854775808") == "embstr"  # does not fit in a long
    assert strings.string_encoding(b"012") == "embstr"  # not canonical
    assert strings.string_encoding(b"+1") == "embstr"
    assert strings.string_encoding(b"1.5") == "embstr"
    assert strings.string_encoding(b"") == "embstr"
    assert strings.string_encoding(b"x" * 44) == "embstr"
    assert strings.string_encoding(b"x" * 45) == "raw"
    assert strings.string_encoding(b"1" * 45) == "raw"


def test_get_set_and_wrong_type(env):
    assert env("SET", "k", "v") is OK
    assert env("GET", "k") == b"v"
    assert env("GET", "missing") is None
    env.db.add(b"l", FakeList())
    for cmd in (["GET", "l"], ["SET", "l", "v", "GET"], ["GETSET", "l", "v"], ["GETDEL", "l"], ["GETEX", "l"],
                ["INCR", "l"], ["INCRBYFLOAT", "l", "1"], ["APPEND", "l", "x"], ["STRLEN", "l"],
                ["GETRANGE", "l", "0", "1"], ["SETRANGE", "l", "0", "x"]):  # fmt: skip
        assert env(*cmd) == ErrorReply(errors.WRONGTYPE), cmd
    assert env("MGET", "l", "k") == [None, b"v"]
    assert env("LCS", "l", "k") == ErrorReply(errors.LCS_NOT_STRINGS)
    assert env("SET", "l", "v") is OK  # a plain SET replaces any type
    assert env("GET", "l") == b"v"


def test_set_expire_options_store_absolute_times(env):
    db = env.db
    env("SET", "k", "v", "EX", "10")
    assert db.get_expire(b"k") == NOW_MS + 10_000
    env("SET", "k", "v", "PX", "1500")
    assert db.get_expire(b"k") == NOW_MS + 1500
    env("SET", "k", "v", "EXAT", "4102444800")
    assert db.get_expire(b"k") == 4102444800_000
    env("SET", "k", "v", "PXAT", "4102444800123")
    assert db.get_expire(b"k") == 4102444800123
    env("SET", "k", "w", "KEEPTTL")
    assert db.get_expire(b"k") == 4102444800123
    env("INCRBY", "n", "5")
    env("PSETEX", "n", "100", "7")
    env("INCR", "n")
    env("APPEND", "n", "0")
    env("SETRANGE", "n", "0", "9")
    env("INCRBYFLOAT", "n", "0.5")
    assert db.get_expire(b"n") == NOW_MS + 100  # modifying commands keep the TTL
    env("SET", "k", "x")
    env("GETSET", "n", "y")
    assert db.get_expire(b"k") is None and db.get_expire(b"n") is None  # overwriting ones drop it


def test_set_expire_errors_name_the_command(env):
    assert env("SET", "k", "v", "EX", "0") == ErrorReply("ERR invalid expire time in 'set' command")
    assert env("SETEX", "k", "-1", "v") == ErrorReply("ERR invalid expire time in 'setex' command")
    assert env("PSETEX", "k", "0", "v") == ErrorReply("ERR invalid expire time in 'psetex' command")
    env("SET", "k", "v")
    assert env("GETEX", "k", "PX", "-5") == ErrorReply("ERR invalid expire time in 'getex' command")
    # overflowing the absolute time is refused too
    assert env("SET", "k", "v", "PX", str(2**63 - 1)) == ErrorReply("ERR invalid expire time in 'set' command")
    assert env("SET", "k", "v", "EX", str((2**63 - 1) // 1000 + 1)) == ErrorReply("ERR invalid expire time in 'set' command")
    assert env("SET", "k", "v", "EX", "ten") == ErrorReply(errors.NOT_INTEGER)
    assert env("SET", "k", "v", "NX", "XX") == ErrorReply(errors.SYNTAX)
    assert env("SET", "k", "v", "EX") == ErrorReply(errors.SYNTAX)


def test_set_nx_xx_get(env):
    assert env("SET", "k", "1", "XX") is None
    assert env("SET", "k", "1", "NX") is OK
    assert env("SET", "k", "2", "NX") is None
    assert env("SET", "k", "3", "NX", "GET") == b"1"  # old value, and nothing set
    assert env("GET", "k") == b"1"
    assert env("SET", "k", "4", "XX", "GET") == b"1"
    assert env("GET", "k") == b"4"
    assert env("SETNX", "k", "5") == 0
    assert env("SETNX", "other", "5") == 1


def test_getex_and_getdel(env):
    db = env.db
    env("SET", "k", "v", "EX", "100")
    assert env("GETEX", "k", "PERSIST") == b"v"
    assert db.get_expire(b"k") is None
    assert env("GETEX", "k", "EX", "5") == b"v"
    assert db.get_expire(b"k") == NOW_MS + 5000
    assert env("GETEX", "k", "EXAT", "1") == b"v"  # a past absolute time deletes the key
    assert b"k" not in db.data
    assert env("GETEX", "missing", "EX", "bogus") is None  # lookup happens before validation
    env("SET", "k", "v")
    assert env("GETDEL", "k") == b"v"
    assert env("GETDEL", "k") is None


def test_keyspace_events(env):
    env("SET", "a", "1")
    env("SET", "a", "1", "EX", "10")
    env("INCR", "a")
    env("DECRBY", "a", "2")
    env("INCRBYFLOAT", "a", "1.5")
    env("APPEND", "a", "x")
    env("SETRANGE", "a", "0", "y")
    env("GETEX", "a", "PERSIST")
    env("GETEX", "a", "PX", "100")
    env("GETDEL", "a")
    env("MSET", "b", "1", "c", "2")
    env("SETRANGE", "d", "0", "")  # nothing written: no event
    assert env.events == [
        ("$", "set", b"a"), ("$", "set", b"a"), ("g", "expire", b"a"), ("$", "incrby", b"a"), ("$", "incrby", b"a"),
        ("$", "incrbyfloat", b"a"), ("$", "append", b"a"), ("$", "setrange", b"a"), ("g", "persist", b"a"),
        ("g", "expire", b"a"), ("g", "del", b"a"), ("$", "set", b"b"), ("$", "set", b"c"),
    ]  # fmt: skip


def test_writes_invalidate_watch_and_count_dirty(env):
    node = env.node
    watcher = node.new_client(lambda data: None)
    env.db.watched[b"k"] = {watcher}
    dirty = node.dirty
    env("INCR", "k")
    assert watcher.watch_dirty
    assert node.dirty == dirty + 1
    env("GET", "k")
    env("SETRANGE", "k", "0", "")
    assert node.dirty == dirty + 1  # reads and no-op writes change nothing


def test_incr_limits(env):
    env("SET", "n", str(2**63 - 1))
    assert env("INCR", "n") == ErrorReply(errors.INCR_OVERFLOW)
    assert env("DECRBY", "n", str(-(2**63))) == ErrorReply(errors.DECR_OVERFLOW)
    assert env("INCRBY", "n", str(-(2**63 - 1))) == 0
    env("SET", "n", "1.0")
    assert env("INCR", "n") == ErrorReply(errors.NOT_INTEGER)


def test_string_length_limit(env):
    env.node.config.proto_max_bulk_len = 1024
    assert env("SETRANGE", "k", "1020", "abcd") == 1024
    assert env("SETRANGE", "k", "1021", "abcd") == ErrorReply(errors.STRING_TOO_LONG)
    assert env("APPEND", "k", "x") == ErrorReply(errors.STRING_TOO_LONG)
    assert env("SETRANGE", "k", "-1", "x") == ErrorReply(errors.OFFSET_OUT_OF_RANGE)
    assert env("STRLEN", "k") == 1024


def test_mset_arity_error_names_the_command(env):
    assert env("MSET", "a", "1", "b") == ErrorReply("ERR wrong number of arguments for 'mset' command")
    assert env("MSETNX", "a", "1", "b") == ErrorReply("ERR wrong number of arguments for 'msetnx' command")


# -- INCRBYFLOAT's long double arithmetic ---------------------------------------------------


def test_incrbyfloat_documented_examples(env):
    # The examples of Redis's INCRBYFLOAT documentation.
    env("SET", "mykey", "10.50")
    assert env("INCRBYFLOAT", "mykey", "0.1") == b"10.6"
    assert env("INCRBYFLOAT", "mykey", "-5") == b"5.6"
    env("SET", "mykey", "5.0e3")
    assert env("INCRBYFLOAT", "mykey", "2.0e2") == b"5200"
    assert env("INCRBYFLOAT", "mykey", "inf") == ErrorReply(errors.INCR_NAN_OR_INF)
    assert env("INCRBYFLOAT", "mykey", "nan") == ErrorReply(errors.NOT_FLOAT)


def test_long_double_rounding_facts():
    # 2**64 + 1 needs 65 significant bits: it rounds to 2**64 (the tie goes to even).
    assert strings.parse_long_double(b"18446744073709551617") == 2**64
    assert strings.parse_long_double(b"18446744073709551619") == 2**64 + 4  # nearer to the upper neighbour
    assert strings.parse_long_double(b"0x1p-16445") == Fraction(1, 2**16445)  # smallest subnormal
    assert strings.parse_long_double(b"0x1p-16446") is None  # rounds to zero: refused like ERANGE
    assert strings.parse_long_double(b"0x1p16384") is None  # overflow
    assert strings.parse_long_double(b"-inf") == float("-inf")
    assert strings.parse_long_double(b"1p3") is None  # hex floats need their 0x
    assert strings.format_long_double(Fraction(-1, 10**18)) == b"0"  # "-0" is printed as "0"
    assert strings.format_long_double(Fraction(5, 10**18)) == b"0"  # ties to even at the 17th decimal
    assert strings.format_long_double(Fraction(15, 10**18)) == b"0.00000000000000002"
    assert strings.format_long_double(Fraction(10**4000)) == b"1" + b"0" * 4000  # past Python's int str limit


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_long_double_holds_every_double_exactly(value):
    # Every double is an x87 extended value, so parsing its exact hex text loses nothing.
    assert strings.parse_long_double(value.hex().encode()) == Fraction(value)


# -- LCS ------------------------------------------------------------------------------------


def _lcs_length_table(a: bytes, b: bytes) -> list[list[int]]:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    return table


@given(st.binary(max_size=30), st.binary(max_size=30))
def test_bit_parallel_rows_match_the_dp_table(a, b):
    table = _lcs_length_table(a, b)
    rows = strings._lcs_rows(a, b, keep_rows=True)
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            assert strings._lcs_length(rows[i], j) == table[i][j]


def test_lcs_documented_example(env):
    # The example of Redis's LCS documentation.
    env("MSET", "key1", "ohmytext", "key2", "mynewtext")
    assert env("LCS", "key1", "key2") == b"mytext"
    assert env("LCS", "key1", "key2", "LEN") == 6
    reply = env("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    assert isinstance(reply, Map)
    assert reply.items == [(b"matches", [[[4, 7], [5, 8], 4]]), (b"len", 6)]
    assert env("LCS", "key1", "key2", "LEN", "IDX") == ErrorReply(errors.LCS_LEN_AND_IDX)


def test_lcs_memory_limit(env):
    env.node.config.proto_max_bulk_len = 4 * 11 * 11 - 1
    env("MSET", "a", "x" * 10, "b", "y" * 10)
    assert env("LCS", "a", "b") == ErrorReply(errors.LCS_TOO_MUCH_MEMORY)
    env.node.config.proto_max_bulk_len = 4 * 11 * 11
    assert env("LCS", "a", "b") == b""
