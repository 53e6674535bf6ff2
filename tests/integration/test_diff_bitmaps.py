"""Bitmap commands, differential: the same scripts to our node and to redis-server 7.0.

Replies are compared byte for byte in RESP2 and RESP3 (error cases included), plus
random command sequences generated with hypothesis and compared the same way.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import assert_same, compare

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
MAX_BIT = 512 * 1024 * 1024 * 8  # first bit offset past proto-max-bulk-len


def test_setbit_getbit(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SETBIT", "b", "7", "1"], ["GET", "b"], ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "0"], ["GET", "b"],
        ["SETBIT", "b", "100", "1"], ["STRLEN", "b"], ["GETBIT", "b", "100"], ["GETBIT", "b", "99"], ["GETBIT", "b", "0"],
        ["GETBIT", "b", "1000000"], ["GETBIT", "nokey", "5"], ["SETBIT", "b2", "0", "0"], ["GET", "b2"],
        ["SETBIT", "b", "-1", "1"], ["SETBIT", "b", "x", "1"], ["SETBIT", "b", "1.5", "1"], ["SETBIT", "b", "+1", "1"],
        ["SETBIT", "b", str(MAX_BIT), "1"], ["SETBIT", "b", str(MAX_BIT - 1), "2"], ["SETBIT", "b", "1", "2"],
        ["SETBIT", "b", "1", "-1"], ["SETBIT", "b", "1", "x"], ["SETBIT", "b", "1", ""], ["SETBIT", "b", "1", "01"],
        ["SETBIT", "b", "#1", "1"], ["SETBIT", "b", str(LLONG_MAX), "1"], ["SETBIT", "b", str(LLONG_MAX + 1), "1"],
        ["SETBIT", "nokey", "x", "1"], ["SETBIT", "nokey", "1", "5"],
        ["GETBIT", "b", "-1"], ["GETBIT", "b", "x"], ["GETBIT", "b", str(MAX_BIT)], ["GETBIT", "b", str(MAX_BIT - 1)],
        ["GETBIT", "nokey", "-1"], ["GETBIT", "b", "#1"],
        ["SET", "n", "12"], ["GETBIT", "n", "2"], ["GETBIT", "n", "3"], ["SETBIT", "n", "6", "1"], ["GET", "n"],
        ["SET", "t", "a", "EX", "100"], ["SETBIT", "t", "100", "1"], ["TTL", "t"],
        ["SETBIT", "b"], ["SETBIT", "b", "1"], ["GETBIT", "b"], ["GETBIT", "b", "1", "2"],
    ])  # fmt: skip


BITCOUNT_RANGES = [
    ("0", "-1"), ("0", "0"), ("1", "1"), ("-1", "-1"), ("-2", "-1"), ("-1", "-2"), ("5", "2"), ("0", "100"),
    ("-100", "-1"), ("-100", "-99"), ("100", "200"), (str(LLONG_MIN), str(LLONG_MAX)), ("2", "-3"),
]  # fmt: skip


def test_bitcount(our_port, real_redis_port):
    script = [["SET", "s", "foobar"], ["BITCOUNT", "s"], ["SET", "e", ""], ["BITCOUNT", "e"], ["BITCOUNT", "nokey"]]
    for start, end in BITCOUNT_RANGES + [("0", "47"), ("5", "30"), ("1", "1"), ("7", "8"), ("-5", "-1"), ("-48", "-41"),
                                        ("3", "3"), ("9", "14"), ("46", "100"), ("-1", "-8")]:  # fmt: skip
        script += [["BITCOUNT", "s", start, end], ["BITCOUNT", "s", start, end, "BIT"],
                   ["BITCOUNT", "s", start, end, "byte"], ["BITCOUNT", "e", start, end, "BIT"]]  # fmt: skip
    script += [
        ["BITCOUNT", "s", "0"], ["BITCOUNT", "s", "0", "1", "BIT", "x"], ["BITCOUNT", "s", "0", "1", "bits"],
        ["BITCOUNT", "s", "x", "1"], ["BITCOUNT", "s", "0", "x"], ["BITCOUNT", "s", "1.5", "2"],
        ["BITCOUNT", "nokey", "0"], ["BITCOUNT", "nokey", "x", "y"], ["BITCOUNT", "nokey", "0", "1", "FOO"],
        ["BITCOUNT", "s", "-1", "-5", "FOO"], ["BITCOUNT", "s", "-1", "-5", "x"], ["BITCOUNT"],
        ["SET", "n", "1234567"], ["BITCOUNT", "n"], ["BITCOUNT", "n", "1", "3"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_bitpos(our_port, real_redis_port):
    values = {"zeros": b"\x00\x00\x00", "ones": b"\xff\xff\xff", "mixed": b"\x00\xff\xf0\x0f\x00", "one": b"\x10",
              "tail": b"\xff\xff\x00", "empty": b""}  # fmt: skip
    script: list[list[bytes | str]] = [["SET", key, value] for key, value in values.items()]
    ranges = [(), ("0",), ("1",), ("-1",), ("10",), ("0", "-1"), ("1", "2"), ("-2", "-1"), ("2", "1"), ("0", "0"),
              ("0", "100"), ("-100", "-50"), ("3", "20", "BIT"), ("0", "-1", "BIT"), ("7", "7", "BIT"), ("8", "15", "BIT"),
              ("9", "10", "bit"), ("-3", "-1", "BIT"), ("1", "2", "BYTE"), ("12", "100", "BIT"), ("16", "23", "BIT"),
              ("4", "11", "BIT"), ("1", "6", "BIT"), ("-12", "-5", "BIT"), ("5", "-1", "BIT"), ("2", "5", "BIT")]  # fmt: skip
    for key in values:
        for bit in ("0", "1"):
            for r in ranges:
                script.append(["BITPOS", key, bit, *r])
    script += [
        ["BITPOS", "nokey", "0"], ["BITPOS", "nokey", "1"], ["BITPOS", "nokey", "1", "x"], ["BITPOS", "nokey", "1", "0", "1", "BIT", "x"],
        ["BITPOS", "mixed", "2"], ["BITPOS", "mixed", "-1"], ["BITPOS", "mixed", "x"], ["BITPOS", "nokey", "2"],
        ["BITPOS", "mixed", "1", "x"], ["BITPOS", "mixed", "1", "0", "x"], ["BITPOS", "mixed", "1", "0", "1", "FOO"],
        ["BITPOS", "mixed", "1", "0", "1", "BIT", "x"], ["BITPOS", "mixed", "1", "x", "1", "FOO"],
        ["BITPOS", "mixed", "1", "0", "x", "FOO"], ["BITPOS", "mixed"], ["BITPOS"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_bitop(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SET", "a", "foobar"], ["SET", "b", "abcdef"], ["SET", "c", "\x0f"],
        ["BITOP", "AND", "d", "a", "b"], ["GET", "d"], ["BITOP", "or", "d", "a", "b", "c"], ["GET", "d"],
        ["BITOP", "XOR", "d", "a", "c"], ["GET", "d"], ["BITOP", "NOT", "d", "a"], ["GET", "d"],
        ["BITOP", "NOT", "d", "c"], ["GET", "d"], ["BITOP", "AND", "d", "a", "nokey"], ["GET", "d"],
        ["BITOP", "OR", "d", "nokey", "c"], ["GET", "d"], ["BITOP", "AND", "d", "a"], ["GET", "d"],
        ["BITOP", "AND", "d", "nokey"], ["EXISTS", "d"], ["BITOP", "NOT", "d", "nokey"], ["BITOP", "OR", "d2", "x1", "x2"],
        ["EXISTS", "d2"], ["SET", "e", ""], ["BITOP", "OR", "d", "e"], ["BITOP", "NOT", "d", "e"],
        ["SET", "t", "x", "EX", "100"], ["BITOP", "OR", "t", "a"], ["TTL", "t"],
        ["BITOP", "NOT", "d", "a", "b"], ["BITOP", "NOT", "d"], ["BITOP", "FOO", "d", "a"], ["BITOP", "ANDX", "d", "a"],
        ["BITOP", "AND", "d"], ["BITOP"], ["SET", "n", "123"], ["BITOP", "XOR", "d", "n", "a"], ["GET", "d"],
        ["SET", "long", "x" * 100], ["BITOP", "AND", "d", "long", "a"], ["GET", "d"], ["BITOP", "XOR", "d", "long", "long"],
        ["GET", "d"],
    ])  # fmt: skip


def test_bitfield(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["BITFIELD", "bf", "SET", "i8", "0", "-100"], ["BITFIELD", "bf", "GET", "i8", "0"], ["BITFIELD", "bf", "GET", "u8", "0"],
        ["BITFIELD", "bf", "SET", "u4", "#1", "15", "GET", "u4", "4", "GET", "i4", "#1"], ["GET", "bf"],
        ["BITFIELD", "bf", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"],
        ["BITFIELD", "bf", "INCRBY", "u2", "100", "1", "INCRBY", "u2", "100", "1", "INCRBY", "u2", "100", "1"],
        ["BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u2", "100", "1", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "1"],
        ["BITFIELD", "bf", "OVERFLOW", "wrap", "INCRBY", "i8", "0", "200", "INCRBY", "i8", "0", "-300"],
        ["BITFIELD", "bf", "OVERFLOW", "sat", "INCRBY", "i8", "0", "200", "INCRBY", "i8", "0", "-300"],
        ["BITFIELD", "bf", "OVERFLOW", "fail", "INCRBY", "i8", "0", "200", "INCRBY", "i8", "0", "-300", "GET", "i8", "0"],
        ["BITFIELD", "bf", "SET", "i64", "0", str(LLONG_MAX), "INCRBY", "i64", "0", "1", "GET", "i64", "0"],
        ["BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", "0", str(LLONG_MAX), "INCRBY", "i64", "0", str(LLONG_MIN)],
        ["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "1", "SET", "i64", "0", str(LLONG_MIN), "INCRBY", "i64", "0", "-1"],
        ["BITFIELD", "bf", "SET", "u63", "0", str(LLONG_MAX), "GET", "u63", "0", "INCRBY", "u63", "0", "1"],
        ["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "u8", "0", "300", "SET", "i8", "0", "200", "SET", "i8", "0", "-200"],
        ["BITFIELD", "bf", "OVERFLOW", "WRAP", "SET", "u8", "0", "-1", "SET", "u8", "0", "300", "SET", "i8", "0", "200", "SET", "i8", "0", "-200"],
        ["BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "u8", "0", "-1", "SET", "u8", "0", "300", "SET", "i8", "0", "200", "SET", "i8", "0", "-200"],
        ["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "i8", "0", str(LLONG_MIN), "SET", "i8", "0", str(LLONG_MAX), "GET", "i8", "0"],
        ["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "i3", "5", "-100", "INCRBY", "i3", "5", "-100", "INCRBY", "u3", "5", "-100"],
        ["BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u5", "3", "-100", "INCRBY", "i5", "3", "-100", "INCRBY", "i1", "0", "1"],
        ["BITFIELD", "bf", "GET", "i1", "0", "GET", "u1", "0", "INCRBY", "i1", "3", "-1", "INCRBY", "u1", "3", "1"],
        ["GET", "bf"],
        ["BITFIELD", "bf"], ["BITFIELD", "nokey"], ["EXISTS", "nokey"], ["BITFIELD", "nokey", "GET", "u8", "0"], ["EXISTS", "nokey"],
        ["BITFIELD", "nk2", "OVERFLOW", "FAIL", "INCRBY", "u2", "20", "10"], ["GET", "nk2"],
        ["BITFIELD", "nk3", "SET", "u8", "#2", "0"], ["GET", "nk3"], ["BITFIELD", "bf", "GET", "u8", "1000"],
        ["BITFIELD", "bf", "GET", "i64", "#1", "GET", "u63", "3"],
        # errors
        ["BITFIELD", "bf", "GET", "u64", "0"], ["BITFIELD", "bf", "GET", "i65", "0"], ["BITFIELD", "bf", "GET", "i0", "0"],
        ["BITFIELD", "bf", "GET", "u0", "0"], ["BITFIELD", "bf", "GET", "I8", "0"], ["BITFIELD", "bf", "GET", "x8", "0"],
        ["BITFIELD", "bf", "GET", "i08", "0"], ["BITFIELD", "bf", "GET", "i", "0"], ["BITFIELD", "bf", "GET", "", "0"],
        ["BITFIELD", "bf", "GET", "i-8", "0"], ["BITFIELD", "bf", "GET", "u8", "-1"], ["BITFIELD", "bf", "GET", "u8", "x"],
        ["BITFIELD", "bf", "GET", "u8", "#-1"], ["BITFIELD", "bf", "GET", "u8", "##1"], ["BITFIELD", "bf", "GET", "u8", "#"],
        ["BITFIELD", "bf", "GET", "u8", str(MAX_BIT)], ["BITFIELD", "bf", "GET", "u8", "#536870912"],
        ["BITFIELD", "bf", "GET", "u8", "#536870911"], ["BITFIELD", "bf", "GET", "u4", "#1152921504606846977"],
        ["BITFIELD", "bf", "SET", "u8", "0"], ["BITFIELD", "bf", "SET", "u8", "0", "x"], ["BITFIELD", "bf", "INCRBY", "u8", "0", "1.5"],
        ["BITFIELD", "bf", "INCRBY", "u8"], ["BITFIELD", "bf", "GET", "u8"], ["BITFIELD", "bf", "GET"],
        ["BITFIELD", "bf", "FOO", "u8", "0"], ["BITFIELD", "bf", "OVERFLOW"], ["BITFIELD", "bf", "OVERFLOW", "FOO"],
        ["BITFIELD", "bf", "OVERFLOW", "FOO", "GET", "x", "y"], ["BITFIELD", "bf", "GET", "x", "0", "OVERFLOW", "FOO"],
        ["BITFIELD", "bf", "GET", "u8", "0", "SET", "u8", "0"], ["BITFIELD"],
        ["BITFIELD_RO", "bf", "GET", "u8", "0", "GET", "i4", "#3"], ["BITFIELD_RO", "nokey", "GET", "u8", "0"],
        ["BITFIELD_RO", "bf"], ["BITFIELD_RO", "bf", "SET", "u8", "0", "1"], ["BITFIELD_RO", "bf", "INCRBY", "u8", "0", "1"],
        ["BITFIELD_RO", "bf", "OVERFLOW", "SAT"], ["BITFIELD_RO", "bf", "OVERFLOW", "SAT", "GET", "u8", "0"],
        ["BITFIELD_RO", "bf", "SET", "u8", "0", "x"], ["BITFIELD_RO", "bf", "FOO"], ["BITFIELD_RO"],
        ["SET", "n", "100"], ["BITFIELD", "n", "GET", "u8", "0", "SET", "u8", "8", "49"], ["GET", "n"],
        ["SET", "t", "a", "EX", "100"], ["BITFIELD", "t", "SET", "u8", "8", "1"], ["TTL", "t"],
    ])  # fmt: skip


def test_bitmaps_wrong_type(our_port, real_redis_port):
    """Bitmap commands against a set key."""
    assert_same(our_port, real_redis_port, [
        ["SADD", "l", "x"], ["SETBIT", "l", "0", "1"], ["SETBIT", "l", "-1", "1"], ["SETBIT", "l", "0", "5"],
        ["GETBIT", "l", "0"], ["GETBIT", "l", "x"], ["BITCOUNT", "l"], ["BITCOUNT", "l", "x"], ["BITPOS", "l", "1"],
        ["BITPOS", "l", "2"], ["BITPOS", "l", "1", "x"], ["SET", "s", "a"], ["BITOP", "AND", "d", "s", "l"],
        ["BITOP", "AND", "l", "s"], ["TYPE", "l"], ["BITOP", "NOT", "d", "l"], ["BITFIELD", "l", "GET", "u8", "0"],
        ["BITFIELD", "l", "SET", "u8", "0", "1"], ["BITFIELD", "l", "GET", "u99", "0"], ["BITFIELD", "l"],
        ["BITFIELD_RO", "l", "GET", "u8", "0"], ["BITFIELD_RO", "l", "SET", "u8", "0", "1"],
    ])  # fmt: skip


_small_bitmaps = st.binary(max_size=6)
_offsets = st.integers(-20, 60).map(str)


def _bitmap_commands() -> st.SearchStrategy[list[str | bytes]]:
    field = st.tuples(st.sampled_from(["i", "u"]), st.integers(1, 64)).map(lambda t: f"{t[0]}{t[1]}")
    value = st.one_of(st.integers(-300, 300), st.integers(LLONG_MIN, LLONG_MAX)).map(str)
    bf_op = st.one_of(
        st.tuples(st.just("GET"), field, _offsets),
        st.tuples(st.just("SET"), field, _offsets, value),
        st.tuples(st.just("INCRBY"), field, _offsets, value),
        st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL"])),
    )
    unit = st.sampled_from([[], ["BIT"], ["BYTE"]])
    return st.one_of(
        st.tuples(st.just("SET"), st.just("k"), _small_bitmaps).map(list),
        st.tuples(st.just("SETBIT"), st.just("k"), st.integers(0, 50).map(str), st.sampled_from(["0", "1"])).map(list),
        st.tuples(_offsets, _offsets, unit).map(lambda t: ["BITCOUNT", "k", t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["0", "1"]), _offsets, _offsets, unit).map(lambda t: ["BITPOS", "k", t[0], t[1], t[2], *t[3]]),
        st.tuples(st.sampled_from(["0", "1"]), _offsets).map(lambda t: ["BITPOS", "k", t[0], t[1]]),
        st.tuples(st.just("SET"), st.just("k2"), _small_bitmaps).map(list),
        st.sampled_from(["AND", "OR", "XOR", "NOT"]).map(lambda op: ["BITOP", op, "k", "k", *([] if op == "NOT" else ["k2"])]),
        st.lists(bf_op, min_size=1, max_size=4).map(lambda ops: ["BITFIELD", "k", *[w for op in ops for w in op]]),
        st.just(["GET", "k"]),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_bitmap_commands(), min_size=1, max_size=12))
def test_random_bitmap_sequences(our_port, real_redis_port, script):
    assert not compare(our_port, real_redis_port, [*script, ["GET", "k"]], resp=2)
