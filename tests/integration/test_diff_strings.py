"""String commands, differential: the same scripts to our node and to redis-server 7.0.

Every reply is compared byte for byte in RESP2 and RESP3, error cases included. The
expected values are whatever the real server answers.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import assert_same, compare

FUTURE_S = 4102444800  # 2100-01-01, an EXAT that is always in the future
FUTURE_MS = FUTURE_S * 1000
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


def test_get_set_basics(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["GET", "k"], ["SET", "k", "v"], ["GET", "k"], ["SET", "k", ""], ["GET", "k"], ["STRLEN", "k"],
        ["SET", "k", "\x00\xff binary\r\n"], ["GET", "k"], ["SET", "n", "123"], ["GET", "n"],
        ["GET"], ["GET", "a", "b"], ["SET"], ["SET", "k"], ["DBSIZE"],
    ])  # fmt: skip


def test_set_options(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SET", "k", "1", "NX"], ["SET", "k", "2", "NX"], ["GET", "k"],
        ["SET", "k", "3", "XX"], ["GET", "k"], ["SET", "nokey", "3", "XX"], ["GET", "nokey"],
        ["SET", "k", "4", "nx"], ["SET", "k", "5", "xX"], ["GET", "k"],
        ["SET", "k", "6", "GET"], ["SET", "new", "7", "GET"], ["GET", "new"],
        ["SET", "k", "8", "NX", "GET"], ["GET", "k"], ["SET", "k2", "9", "NX", "GET"], ["GET", "k2"],
        ["SET", "k3", "x", "XX", "GET"], ["GET", "k3"], ["SET", "k", "10", "XX", "GET"], ["GET", "k"],
        ["SET", "k", "11", "GET", "GET"], ["SET", "k", "12", "NX", "NX"], ["GET", "k"],
        ["SET", "k", "13", "EX", "100"], ["GET", "k"], ["SET", "k", "14", "PX", "100000"],
        ["SET", "k", "15", "EXAT", str(FUTURE_S)], ["SET", "k", "16", "PXAT", str(FUTURE_MS)],
        ["SET", "k", "17", "KEEPTTL"], ["GET", "k"], ["SET", "k", "18", "EX", "1", "EX", "100"],
        ["SET", "k", "19", "EX", "100", "NX"], ["SET", "k", "20", "XX", "PX", "5000", "GET"],
        ["SET", "k", "21", "KEEPTTL", "XX", "GET"], ["GET", "k"],
        # past absolute times: the key is set, then found expired
        ["SET", "gone", "v", "EXAT", "1"], ["GET", "gone"], ["SET", "gone", "v", "PXAT", "1"], ["GET", "gone"],
        ["SET", "gone", "v", "PXAT", "1", "GET"], ["GET", "gone"],
        # syntax errors and conflicts
        ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "XX", "NX"], ["SET", "k", "v", "EX", "10", "PX", "10"],
        ["SET", "k", "v", "PX", "10", "EX", "10"], ["SET", "k", "v", "EX", "10", "KEEPTTL"],
        ["SET", "k", "v", "KEEPTTL", "EX", "10"], ["SET", "k", "v", "EXAT", "10", "PXAT", "10"],
        ["SET", "k", "v", "PXAT", "10", "EXAT", "10"], ["SET", "k", "v", "EX"], ["SET", "k", "v", "PX"],
        ["SET", "k", "v", "EXAT"], ["SET", "k", "v", "PXAT"], ["SET", "k", "v", "FOO"],
        ["SET", "k", "v", "PERSIST"], ["SET", "k", "v", "EX", "10", "FOO"], ["SET", "k", "v", "KEEPTTL", "PXAT", "1"],
        ["SET", "k", "v", "NXX"], ["SET", "k", "v", "EXA", "10"], ["SET", "k", "v", ""],
        # bad expire values
        ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "PX", "0"],
        ["SET", "k", "v", "PX", "-100"], ["SET", "k", "v", "EXAT", "0"], ["SET", "k", "v", "PXAT", "-5"],
        ["SET", "k", "v", "EX", "abc"], ["SET", "k", "v", "EX", "1.5"], ["SET", "k", "v", "EX", " 1"],
        ["SET", "k", "v", "EX", "+1"], ["SET", "k", "v", "EX", "01"], ["SET", "k", "v", "EX", ""],
        ["SET", "k", "v", "EX", str(LLONG_MAX)], ["SET", "k", "v", "EX", str(LLONG_MAX // 1000)],
        ["SET", "k", "v", "EX", str(LLONG_MAX // 1000 + 1)], ["SET", "k", "v", "PX", str(LLONG_MAX)],
        ["SET", "k", "v", "PX", str(LLONG_MAX - 1000)], ["SET", "k", "v", "PXAT", str(LLONG_MAX)],
        ["SET", "k", "v", "EXAT", str(LLONG_MAX // 1000)], ["SET", "k", "v", "EX", "9223372036854775808"],
        ["SET", "k", "v", "NX", "EX", "0"], ["SET", "k", "v", "EX", "abc", "GET"],
        ["GET", "k"], ["DBSIZE"],
    ])  # fmt: skip


def test_setnx_setex_psetex_getset(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SETNX", "k", "a"], ["SETNX", "k", "b"], ["GET", "k"], ["SETNX", "k"], ["SETNX", "k", "a", "b"],
        ["SETEX", "k", "100", "c"], ["GET", "k"], ["SETEX", "k", "0", "c"], ["SETEX", "k", "-1", "c"],
        ["SETEX", "k", "x", "c"], ["SETEX", "k", str(LLONG_MAX), "c"], ["SETEX", "k", "10"], ["GET", "k"],
        ["PSETEX", "k", "100000", "d"], ["GET", "k"], ["PSETEX", "k", "0", "d"], ["PSETEX", "k", "-7", "d"],
        ["PSETEX", "k", "1.5", "d"], ["PSETEX", "k", str(LLONG_MAX), "d"], ["GET", "k"],
        ["GETSET", "k", "e"], ["GETSET", "k", "f"], ["GETSET", "nokey", "g"], ["GET", "nokey"],
        ["GETSET", "k"], ["GETSET", "k", "a", "b"],
    ])  # fmt: skip


def test_getex_getdel(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SET", "k", "v"], ["GETEX", "k"], ["GETEX", "nokey"], ["GETEX", "k", "EX", "100"],
        ["GETEX", "k", "PX", "100000"], ["GETEX", "k", "EXAT", str(FUTURE_S)], ["GETEX", "k", "PXAT", str(FUTURE_MS)],
        ["GETEX", "k", "PERSIST"], ["GETEX", "k", "persist"], ["GETEX", "k", "ex", "5", "ex", "100"],
        ["GETEX", "k", "EX", "10", "PX", "10"], ["GETEX", "k", "PERSIST", "EX", "10"], ["GETEX", "k", "EX", "10", "PERSIST"],
        ["GETEX", "k", "KEEPTTL"], ["GETEX", "k", "NX"], ["GETEX", "k", "GET"], ["GETEX", "k", "EX"],
        ["GETEX", "k", "FOO"], ["GETEX", "k", "EX", "0"], ["GETEX", "k", "EX", "-1"], ["GETEX", "k", "EX", "x"],
        ["GETEX", "k", "EX", str(LLONG_MAX)], ["GETEX", "k", "PX", str(LLONG_MAX)],
        ["GETEX", "nokey", "EX", "0"], ["GETEX", "nokey", "EX", "x"], ["GETEX", "nokey", "FOO"],
        ["GETEX", "k", "EXAT", "1"], ["GET", "k"], ["GETEX", "k"],
        ["SET", "k", "w"], ["GETEX", "k", "PXAT", "1"], ["GET", "k"], ["DBSIZE"],
        ["SET", "k", "x"], ["GETDEL", "k"], ["GETDEL", "k"], ["GET", "k"], ["GETDEL"], ["GETDEL", "a", "b"],
        ["GETEX"],
    ])  # fmt: skip


def test_mget_mset_msetnx(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["MSET", "a", "1", "b", "2", "c", "3"], ["MGET", "a", "b", "c", "d"], ["MGET", "d"],
        ["MSET", "a", "x", "a", "y"], ["GET", "a"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["MSET"],
        ["MSETNX", "a", "1", "z", "2"], ["GET", "z"], ["MSETNX", "y", "1", "z", "2"], ["MGET", "y", "z"],
        ["MSETNX", "q", "1", "q", "2"], ["GET", "q"], ["MSETNX", "a"], ["MSETNX", "a", "1", "b"],
        ["MGET"], ["DBSIZE"],
    ])  # fmt: skip


def test_incr_decr(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["INCR", "n"], ["INCR", "n"], ["DECR", "n"], ["DECR", "m"], ["INCRBY", "n", "10"], ["INCRBY", "n", "-25"],
        ["DECRBY", "n", "5"], ["DECRBY", "n", "-100"], ["GET", "n"],
        ["INCRBY", "n", "abc"], ["INCRBY", "n", "1.5"], ["INCRBY", "n", ""], ["INCRBY", "n", " 1"],
        ["INCRBY", "n", "+1"], ["INCRBY", "n", "01"], ["INCRBY", "n", "-0"], ["INCRBY", "n", "0"],
        ["INCRBY", "n", str(LLONG_MAX + 1)], ["DECRBY", "n", str(LLONG_MIN)], ["DECRBY", "n", str(LLONG_MIN + 1)],
        ["SET", "big", str(LLONG_MAX)], ["INCR", "big"], ["INCRBY", "big", "0"], ["DECR", "big"], ["INCRBY", "big", "1"],
        ["SET", "small", str(LLONG_MIN)], ["DECR", "small"], ["INCRBY", "small", "-1"], ["INCR", "small"],
        ["SET", "small", "-1"], ["INCRBY", "small", str(LLONG_MIN)], ["DECRBY", "small", str(LLONG_MAX)],
        ["SET", "s", "abc"], ["INCR", "s"], ["DECR", "s"], ["INCRBY", "s", "1"],
        ["SET", "s", " 1"], ["INCR", "s"], ["SET", "s", "1 "], ["INCR", "s"], ["SET", "s", "01"], ["INCR", "s"],
        ["SET", "s", "+1"], ["INCR", "s"], ["SET", "s", "1.0"], ["INCR", "s"], ["SET", "s", ""], ["INCR", "s"],
        ["SET", "s", "-0"], ["INCR", "s"], ["SET", "s", "9223372036854775808"], ["INCR", "s"],
        ["SET", "s", "00"], ["INCR", "s"], ["SET", "s", "0"], ["INCR", "s"], ["SET", "s", "-10"], ["INCR", "s"],
        ["SET", "s", "12345678901234567890123"], ["INCR", "s"],
        ["SET", "t", "5", "EX", "100"], ["INCR", "t"], ["GET", "t"],
        ["INCR"], ["INCR", "a", "b"], ["INCRBY", "a"], ["DECRBY", "a"], ["DECR"],
    ])  # fmt: skip


INCRBYFLOAT_CASES = [
    ("10.5", "0.1"), ("0", "3.0e3"), ("0", "1e-5"), ("0", "0.1"), ("1", "-1"), ("0", "-0"), ("5", "1e20"),
    ("0", "1.1"), ("3", "0.0000000000000000001"), ("-1", "0.9999999999999999"), ("0", "5.0e3"),
    ("0", "1.5e308"), ("0", "1e308"), ("0", "1e4000"), ("0", "1.18973149535723176502e+4932"),
    ("0", "1e-400"), ("0", "1e-4950"), ("0", "1e-5000"), ("0", "1e5000"), ("0", "0x1p3"), ("0", "0X1.8P1"),
    ("0", "0x.8"), ("0", "1p3"), ("0", "inf"), ("0", "-inf"), ("0", "+inf"), ("0", "infinity"), ("0", "nan"),
    ("0", "NaN"), ("0", "1e"), ("0", "1e+"), ("0", ".5"), ("0", "5."), ("0", "+5"), ("0", "-.5"), ("0", " 1"),
    ("0", "1 "), ("0", ""), ("0", "abc"), ("0", "1_000"), ("0", "0x"), ("0", "1.2.3"), ("0", "١"),
    ("1.5", "2"), ("abc", "1"), ("1e10", "1"), ("0x10", "1"), ("  1", "1"), ("inf", "1"), ("-inf", "1"),
    ("1e4932", "1e4932"), ("1.18973149535723176502e+4932", "1.18973149535723176502e+4932"),
    ("-1.18973149535723176502e+4932", "-1e4932"), ("123456789012345678901234567890", "1"),
    ("0.1", "0.2"), ("1.0000000000000000001", "0"), ("17179869184", "1.5"), ("2", "-2.0000000000000000001"),
    ("0.00000000000000001", "0.000000000000000005"), ("0", "0.000000000000000015"), ("0", "0.000000000000000025"),
    ("0", "3.814697265625e-06"), ("0", "1.9073486328125e-06"), ("0", "-0.000000000000000001"),
]  # fmt: skip


def test_incrbyfloat(our_port, real_redis_port):
    script: list[list[str]] = []
    for current, increment in INCRBYFLOAT_CASES:
        script += [["SET", "f", current], ["INCRBYFLOAT", "f", increment], ["GET", "f"]]
    script += [
        ["DEL", "f"], ["INCRBYFLOAT", "nokey", "1.5"], ["INCRBYFLOAT", "nokey", "1.5"], ["GET", "nokey"],
        ["SET", "t", "1", "EX", "100"], ["INCRBYFLOAT", "t", "0.5"], ["GET", "t"],
        ["INCRBYFLOAT", "x"], ["INCRBYFLOAT"], ["INCRBYFLOAT", "x", "1", "2"],
        ["SET", "long", "1" * 5119], ["INCRBYFLOAT", "long", "1"], ["SET", "long", "1" * 5120], ["INCRBYFLOAT", "long", "1"],
        ["SET", "long", "0." + "0" * 5000 + "1"], ["INCRBYFLOAT", "long", "1"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False, width=64), st.sampled_from(["r", "e", "g"])),
                min_size=1, max_size=8))  # fmt: skip
def test_incrbyfloat_random_chains(our_port, real_redis_port, steps):
    """Chains of INCRBYFLOAT with increments in several spellings keep matching the oracle."""
    script = []
    for value, style in steps:
        text = repr(value) if style == "r" else ("%.25e" % value if style == "e" else "%.17g" % value)
        script.append(["INCRBYFLOAT", "f", text])
    script.append(["GET", "f"])
    assert not compare(our_port, real_redis_port, script, resp=2)


def test_append_strlen_getrange_setrange(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["APPEND", "k", "hello"], ["APPEND", "k", " world"], ["GET", "k"], ["STRLEN", "k"], ["APPEND", "e", ""],
        ["GET", "e"], ["STRLEN", "e"], ["STRLEN", "nokey"], ["APPEND", "n", "1"], ["APPEND", "n", "2"], ["INCR", "n"],
        ["SET", "t", "a", "EX", "100"], ["APPEND", "t", "b"], ["GET", "t"],
        ["APPEND"], ["APPEND", "k"], ["STRLEN"], ["STRLEN", "a", "b"],
        *[["GETRANGE", "k", s, e] for s, e in [
            ("0", "4"), ("0", "-1"), ("-5", "-1"), ("-1", "-5"), ("5", "3"), ("0", "100"), ("-100", "2"),
            ("-100", "-100"), ("100", "200"), ("3", "3"), ("-1", "-1"), ("0", "0"), (str(LLONG_MIN), str(LLONG_MAX)),
            ("10", "-1"), ("-3", "-100"), ("-100", "-3"),
        ]],
        ["GETRANGE", "nokey", "0", "-1"], ["GETRANGE", "e", "0", "-1"], ["GETRANGE", "e", "-1", "0"],
        ["GETRANGE", "k", "a", "1"], ["GETRANGE", "k", "1", "b"], ["GETRANGE", "k", "1.5", "2"],
        ["GETRANGE", "k", "0"], ["GETRANGE", "k", str(LLONG_MAX + 1), "1"],
        ["SUBSTR", "k", "0", "4"], ["SUBSTR", "k", "-3", "-1"], ["SUBSTR", "nokey", "0", "1"], ["SUBSTR", "k", "x", "1"],
        ["SET", "num", "12345"], ["GETRANGE", "num", "1", "2"], ["SETRANGE", "num", "0", "9"], ["GET", "num"],
        ["SETRANGE", "k", "0", "J"], ["GET", "k"], ["SETRANGE", "k", "20", "X"], ["GET", "k"], ["STRLEN", "k"],
        ["SETRANGE", "k", "3", ""], ["SETRANGE", "k", "100", ""], ["GET", "k"],
        ["SETRANGE", "new", "5", "abc"], ["GET", "new"], ["SETRANGE", "new2", "0", ""], ["GET", "new2"],
        ["SETRANGE", "new3", "3", ""], ["DBSIZE"], ["SETRANGE", "k", "-1", "x"], ["SETRANGE", "k", "x", "x"],
        ["SETRANGE", "k", "1.0", "x"], ["SETRANGE", "nokey", "-1", ""], ["SETRANGE", "nokey", "abc", ""],
        ["SETRANGE", "k", "536870912", "x"], ["SETRANGE", "k", "536870911", "xy"],
        ["SETRANGE", "nokey", "536870912", "x"], ["SETRANGE", "nokey", "536870912", ""],
        ["SETRANGE", "k", str(LLONG_MAX), "x"], ["SETRANGE", "k", str(LLONG_MAX + 1), "x"], ["GET", "k"],
        ["SET", "t", "abc", "EX", "100"], ["SETRANGE", "t", "1", "X"], ["GET", "t"],
        ["SETRANGE", "k", "1"], ["SETRANGE"],
    ])  # fmt: skip


def test_append_length_limit(our_port, real_redis_port):
    """APPEND past proto-max-bulk-len, with the limit lowered on both servers."""
    script = [
        ["CONFIG", "SET", "proto-max-bulk-len", "1048576"],
        ["SETRANGE", "k", "1048570", "abc"], ["APPEND", "k", "abc"], ["APPEND", "k", "x"], ["STRLEN", "k"],
        ["SETRANGE", "k", "1048575", "x"], ["SETRANGE", "k", "1048576", "x"], ["SETRANGE", "k", "1048575", "xy"],
        ["CONFIG", "SET", "proto-max-bulk-len", "536870912"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


RNA1 = "CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGG"
RNA2 = "ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTT"


def test_lcs(our_port, real_redis_port):
    pairs = [("ohmytext", "mynewtext"), (RNA1, RNA2), ("", "abc"), ("abc", ""), ("aaaa", "aa"), ("abcabc", "cbacba"),
             ("a", "a"), ("xyz", "abc"), ("abcdefg", "xabcxdefgx"), ("ababab", "bababa")]  # fmt: skip
    script: list[list[str]] = []
    for a, b in pairs:
        script += [["MSET", "a", a, "b", b], ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"], ["LCS", "a", "b", "IDX"],
                   ["LCS", "a", "b", "IDX", "WITHMATCHLEN"], ["LCS", "a", "b", "IDX", "MINMATCHLEN", "2"],
                   ["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], ["LCS", "b", "a", "idx", "withmatchlen"],
                   ["LCS", "a", "b", "LEN", "MINMATCHLEN", "3"], ["LCS", "a", "b", "WITHMATCHLEN"]]  # fmt: skip
    script += [
        ["LCS", "nokey1", "nokey2"], ["LCS", "a", "nokey"], ["LCS", "nokey", "a", "LEN"], ["LCS", "nokey", "a", "IDX"],
        ["LCS", "a", "b", "LEN", "IDX"], ["LCS", "a", "b", "IDX", "LEN"], ["LCS", "a", "b", "FOO"],
        ["LCS", "a", "b", "MINMATCHLEN"], ["LCS", "a", "b", "MINMATCHLEN", "x"], ["LCS", "a", "b", "MINMATCHLEN", "-5", "IDX"],
        ["LCS", "a", "b", "IDX", "MINMATCHLEN", str(LLONG_MAX)], ["LCS", "a"], ["LCS"], ["LCS", "a", "b", "LEN", "LEN"],
        ["LCS", "a", "b", "MINMATCHLEN", "1.5", "LEN", "IDX"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text("abc", max_size=12), st.text("abc", max_size=12), st.integers(0, 3))
def test_lcs_random(our_port, real_redis_port, a, b, min_len):
    script = [["MSET", "a", a, "b", b], ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"],
              ["LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", str(min_len)]]  # fmt: skip
    assert not compare(our_port, real_redis_port, script, resp=3)


def test_lcs_longer_strings(our_port, real_redis_port):
    rng = random.Random(7)
    a = "".join(rng.choice("ACGT") for _ in range(700))
    b = "".join(rng.choice("ACGT") for _ in range(500))
    assert_same(our_port, real_redis_port, [
        ["MSET", "a", a, "b", b], ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"], ["LCS", "a", "b", "IDX", "MINMATCHLEN", "3"],
    ])  # fmt: skip


def test_wrong_types(our_port, real_redis_port):
    """Every string command against a set key."""
    script = [
        ["SADD", "l", "x"], ["GET", "l"], ["SET", "l", "v", "GET"], ["SET", "l", "v", "NX", "GET"],
        ["SET", "l", "v", "EX", "0", "GET"], ["SET", "l", "v", "FOO", "GET"], ["GETSET", "l", "v"], ["GETEX", "l"],
        ["GETEX", "l", "EX", "0"], ["GETEX", "l", "FOO"], ["GETDEL", "l"], ["MGET", "l", "nokey"], ["INCR", "l"],
        ["DECR", "l"], ["INCRBY", "l", "1"], ["INCRBY", "l", "x"], ["DECRBY", "l", "1"], ["INCRBYFLOAT", "l", "1"],
        ["INCRBYFLOAT", "l", "x"], ["APPEND", "l", "x"], ["GETRANGE", "l", "0", "1"], ["GETRANGE", "l", "x", "1"],
        ["SUBSTR", "l", "0", "1"], ["SETRANGE", "l", "0", "x"], ["SETRANGE", "l", "0", ""], ["SETRANGE", "l", "-1", "x"],
        ["SETRANGE", "l", str(2**40), "x"], ["STRLEN", "l"], ["LCS", "l", "nokey"], ["LCS", "nokey", "l", "FOO"],
        ["SETNX", "l", "v"], ["MSETNX", "l", "v"], ["SET", "l", "v", "NX"], ["SET", "l", "v", "XX"], ["GET", "l"],
        ["SADD", "l2", "x"], ["SETEX", "l2", "100", "v"], ["GET", "l2"], ["SADD", "l3", "x"], ["MSET", "l3", "v"],
        ["GET", "l3"], ["SADD", "l4", "x"], ["SET", "l4", "v"], ["GET", "l4"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_ttl_interplay(our_port, real_redis_port):
    """Which commands keep, set or drop a TTL (needs TTL/PERSIST/EXISTS from the keys module)."""
    script = [
        ["SET", "k", "1", "EX", "100"], ["TTL", "k"], ["SET", "k", "2"], ["TTL", "k"],
        ["SET", "k", "1", "EX", "100"], ["SET", "k", "3", "KEEPTTL"], ["TTL", "k"], ["INCR", "k"], ["TTL", "k"],
        ["INCRBYFLOAT", "k", "1.5"], ["TTL", "k"], ["APPEND", "k", "0"], ["TTL", "k"], ["SETRANGE", "k", "0", "9"],
        ["TTL", "k"], ["GETSET", "k", "x"], ["TTL", "k"], ["SETEX", "k", "100", "y"], ["TTL", "k"],
        ["GETEX", "k", "PERSIST"], ["TTL", "k"], ["GETEX", "k", "EX", "50"], ["TTL", "k"], ["GETEX", "k"], ["TTL", "k"],
        ["MSET", "k", "z"], ["TTL", "k"], ["SET", "k", "v", "EXAT", str(FUTURE_S)], ["EXPIRETIME", "k"],
        ["SET", "k", "v", "PXAT", str(FUTURE_MS)], ["PEXPIRETIME", "k"], ["GETEX", "k", "EXAT", str(FUTURE_S + 1)],
        ["EXPIRETIME", "k"], ["SET", "k", "v", "EXAT", "1"], ["EXISTS", "k"], ["SETEX", "k", "100", "v"],
        ["GETEX", "k", "PXAT", "1"], ["EXISTS", "k"], ["TTL", "nokey"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)
