"""The request parser, without sockets: shapes, limits, Redis's exact errors, and fuzzing.

Expected texts are Redis 7.0's (networking.c); the differential tests in
tests/integration/test_bad_input.py check the same inputs against a real redis-server.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.parser import (
    PROTO_INLINE_MAX_SIZE,
    ProtocolError,
    RequestParser,
    split_inline_args,
    strict_int,
)


def parse_all(data: bytes, *, authenticated: bool = True, max_bulk_len: int = 512 * 1024 * 1024) -> list[list[bytes]]:
    """Every command in ``data`` fed at once (raises ProtocolError like the parser)."""
    parser = RequestParser(max_bulk_len=max_bulk_len, authenticated=authenticated)
    parser.feed(data)
    return list(parser.commands())


def parse_chunked(data: bytes, sizes: list[int]) -> tuple[list[list[bytes]], str | None]:
    """Feed ``data`` in chunks of the given sizes (cycled), collecting commands; the error text if any."""
    parser = RequestParser()
    commands: list[list[bytes]] = []
    pos = 0
    i = 0
    try:
        while pos < len(data):
            size = max(1, sizes[i % len(sizes)]) if sizes else len(data)
            parser.feed(data[pos : pos + size])
            pos += size
            i += 1
            commands.extend(parser.commands())
    except ProtocolError as err:
        return commands, str(err)
    return commands, None


def error_of(data: bytes, **kwargs: object) -> str:
    with pytest.raises(ProtocolError) as info:
        parse_all(data, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# -- well-formed requests -----------------------------------------------------------------


def test_multibulk_and_inline_mixed():
    data = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\nset a 'b c'\n"
    assert parse_all(data) == [[b"GET", b"k"], [b"PING"], [b"PING"], [b"set", b"a", b"b c"]]


def test_empty_requests_are_skipped():
    # Blank inline lines, '*0', negative counts: Redis resets and reads on.
    assert parse_all(b"\r\n\n   \r\n*0\r\n*-10\r\n*-1\r\nPING\r\n") == [[b"PING"]]


def test_binary_safe_bulks():
    payload = bytes(range(256))
    data = b"*2\r\n$3\r\nSET\r\n$256\r\n" + payload + b"\r\n"
    assert parse_all(data) == [[b"SET", payload]]


def test_bulk_trailer_is_not_checked():
    # Redis skips the two bytes after a bulk without looking at them.
    assert parse_all(b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n") == [[b"PING"], [b"PING"]]


def test_line_end_after_cr_is_skipped_unchecked():
    # After the count's '\r' Redis skips one more byte, whatever it is.
    assert parse_all(b"*1\rX$4\rXPING\r\n") == [[b"PING"]]


def test_partial_request_state():
    parser = RequestParser()
    parser.feed(b"*2\r\n$3\r\nGET\r\n$1\r")
    assert parser.next_command() is None
    assert parser.has_partial_request()
    parser.feed(b"\nk\r\n")
    assert parser.next_command() == [b"GET", b"k"]
    assert not parser.has_partial_request()
    assert parser.buffered == 0


def test_big_bulk_in_many_pieces():
    value = b"v" * 300_000
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000\r\n" + value + b"\r\n"
    commands, error = parse_chunked(data, [4096, 1, 65536, 7])
    assert error is None and commands == [[b"SET", b"k", value]]


# -- inline splitting (sdssplitargs) --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"set a b", [b"set", b"a", b"b"]),
        (b"  set   a\tb  ", [b"set", b"a", b"b"]),
        (b'set "a b" c', [b"set", b"a b", b"c"]),
        (b"set 'a b' c", [b"set", b"a b", b"c"]),
        (b'echo "\\x41\\x4a\\n\\r\\t\\b\\a\\q\\\\\\""', [b"echo", b"AJ\n\r\t\b\aq\\\""]),
        (b'echo "\\x4"', [b"echo", b"x4"]),  # not two hex digits: \x is just x
        (b'echo "\\xZZ"', [b"echo", b"xZZ"]),
        (b"echo 'it\\'s'", [b"echo", b"it's"]),
        (b"echo 'a\\nb'", [b"echo", b"a\\nb"]),  # single quotes: only \' is special
        (b'echo a"b c"d', None),  # closing quote must be followed by a space
        (b'echo a"b c" d', [b"echo", b"ab c", b"d"]),  # a quote may open mid-word
        (b'echo ""', [b"echo", b""]),
        (b"echo ''", [b"echo", b""]),
        (b'echo "abc', None),
        (b"echo 'abc", None),
        (b'echo "abc\\"', None),
        (b"a\x0bb", [b"a\x0bb"]),  # \v separates words only before a word starts
        (b"\x0b\x0ca", [b"a"]),
        (b"", []),
        (b"   ", []),
    ],
)
def test_split_inline_args(line, words):
    assert split_inline_args(line) == words


def test_unbalanced_quotes_error():
    assert error_of(b'set """test-key""" test-value\r\nping\r\n') == "Protocol error: unbalanced quotes in request"


def test_inline_lf_without_cr_and_lone_cr():
    assert parse_all(b"PING\nECHO a\r\n") == [[b"PING"], [b"ECHO", b"a"]]
    # A '\r' not followed by '\n' is part of the line (a word separator when unquoted).
    assert parse_all(b"ECHO a\rb\r\n") == [[b"ECHO", b"a", b"b"]]


# -- numbers (string2ll) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0), (b"1", 1), (b"-1", -1), (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)), (b"9223372036854775808", None), (b"01", None),
        (b"-0", None), (b"+1", None), (b" 1", None), (b"1 ", None), (b"", None), (b"-", None),
        (b"1a", None), (b"\xd9\xa1", None), (b"1" * 21, None),
    ],
)  # fmt: skip
def test_strict_int(text, value):
    assert strict_int(text) == value


# -- Redis's errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*3000000000\r\n", "invalid multibulk length"),
        (b"*2147483648\r\n", "invalid multibulk length"),
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*\r\n", "invalid multibulk length"),
        (b"*01\r\n", "invalid multibulk length"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"),
        (b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
        (b"*1\r\n\r\n\r\n", "expected '$', got ' '"),  # CR/LF are shown as spaces
        (b"*1\r\n\n\r\n", "expected '$', got ' '"),
        (b"*1\r\n\xff\r\n", "expected '$', got '\xff'"),  # the raw byte (latin-1 in the str)
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "invalid bulk length"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "invalid bulk length"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", "invalid bulk length"),
        (b"*1\r\n$\r\n", "invalid bulk length"),
        (b"*1\r\n$-0\r\n", "invalid bulk length"),
    ],
)
def test_protocol_errors(data, message):
    assert error_of(data) == "Protocol error: " + message


def test_max_bulk_len_is_a_parameter():
    assert error_of(b"*1\r\n$11\r\n", max_bulk_len=10) == "Protocol error: invalid bulk length"
    assert parse_all(b"*1\r\n$10\r\n0123456789\r\n", max_bulk_len=10) == [[b"0123456789"]]


def test_unauthenticated_limits():
    assert error_of(b"*11\r\n", authenticated=False) == "Protocol error: unauthenticated multibulk length"
    assert error_of(b"*1\r\n$16385\r\n", authenticated=False) == "Protocol error: unauthenticated bulk length"
    # At the limit it is fine; and an invalid count is reported as invalid first.
    assert parse_all(b"*1\r\n$5\r\nhello\r\n", authenticated=False) == [[b"hello"]]
    assert error_of(b"*-x\r\n", authenticated=False) == "Protocol error: invalid multibulk length"
    assert error_of(b"*1\r\n$-1\r\n", authenticated=False) == "Protocol error: invalid bulk length"
    parser = RequestParser(authenticated=False)
    parser.feed(b"*10\r\n" + b"$16384\r\n" + b"x" * 16384 + b"\r\n")
    assert parser.next_command() is None  # 10 args and 16 KB are allowed, it waits for more


@pytest.mark.parametrize(
    ("prefix", "message"),
    [(b"", "too big inline request"), (b"*", "too big mbulk count string"), (b"*1\r\n$", "too big bulk count string")],
)
def test_line_too_big_without_end(prefix, message):
    parser = RequestParser()
    line_start = prefix.rfind(b"\n") + 1  # the limit counts from the start of the line
    parser.feed(prefix + b"1" * (PROTO_INLINE_MAX_SIZE - (len(prefix) - line_start)))
    assert parser.next_command() is None  # 64 KB exactly: still waiting
    parser.feed(b"1")
    with pytest.raises(ProtocolError, match=message):
        parser.next_command()


@pytest.mark.parametrize(
    ("seq", "message"),
    [(b"\x00", "too big inline request"), (b"*\x00", "too big mbulk count string"),
     (b"$\x00", "too big inline request"), (b"PING\x00", "too big inline request"),
     (b"*1\r\n$\x00", "too big bulk count string"), (b"*1\r\n\x00", "too big bulk count string")],
)  # fmt: skip
def test_nul_hides_the_end_of_line(seq, message):
    """Redis finds line ends with strchr, which stops at NUL: the request never ends
    (Redis's "Protocol desync regression" tests), until the 64 KB limit."""
    parser = RequestParser()
    parser.feed(seq + b"\r\n" * 100)
    assert parser.next_command() is None
    parser.feed(b"payload\n" * (PROTO_INLINE_MAX_SIZE // 8))
    with pytest.raises(ProtocolError, match=message):
        parser.next_command()


def test_nul_after_the_line_end_is_harmless():
    assert parse_all(b"PING\r\n\x00") == [[b"PING"]]
    assert parse_all(b"*1\r\n$5\r\nA\x00B\x00C\r\n") == [[b"A\x00B\x00C"]]
    # Inside an inline line, after its end was found, NUL is not in the line.
    assert parse_all(b"ECHO a\r\n") == [[b"ECHO", b"a"]]


def test_long_line_model_of_redis_reads():
    """One burst: Redis reads 16 KB at a time, so a line is refused only if a read
    ended more than 64 KB into it without its end: lines under 80 KB pass."""
    for length, refused in ((65_000, False), (70_000, False), (81_919, False), (81_920, True), (100_000, True)):
        data = b"ECHO " + b"a" * (length - 6) + b"\r\n"  # `length` bytes before the '\n'
        if refused:
            assert error_of(data) == "Protocol error: too big inline request", length
        else:
            assert parse_all(data) == [[b"ECHO", b"a" * (length - 6)]], length
    # In pieces, a read ending past 64 KB without the line end refuses it, as in Redis.
    parser = RequestParser()
    parser.feed(b"ECHO " + b"a" * 66_000)
    with pytest.raises(ProtocolError, match="too big inline request"):
        parser.next_command()
    # Count lines follow the same model.
    assert error_of(b"*" + b"1" * 90_000 + b"\r\n") == "Protocol error: too big mbulk count string"
    assert error_of(b"*" + b"1" * 70_000 + b"\r\n") == "Protocol error: invalid multibulk length"


# -- fuzzing ------------------------------------------------------------------------------------

#: Fragments that make interesting requests more likely than uniform bytes would.
_FRAGMENTS = st.sampled_from(
    [b"*", b"$", b"\r\n", b"\r", b"\n", b"\x00", b"0", b"1", b"2", b"3", b"-1", b"-", b"10", b"SET", b"PING",
     b" ", b'"', b"'", b"\\", b"\\x4", b"x", b"*2\r\n", b"$3\r\n", b"$0\r\n\r\n", b"*1\r\n$4\r\nPING\r\n",
     b"99999999999999999999", b"2147483648", b"\xff", b"\t"]
)  # fmt: skip
_REQUEST_BYTES = st.lists(st.one_of(_FRAGMENTS, st.binary(max_size=8)), max_size=40).map(b"".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_REQUEST_BYTES, sizes=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6))
def test_fuzz_chunking_never_matters(data, sizes):
    """Any bytes, in any chunks: the same commands and the same error as fed whole,
    and nothing but ProtocolError ever escapes."""
    whole = parse_chunked(data, [len(data) or 1])
    assert parse_chunked(data, sizes) == whole


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), authenticated=st.booleans())
def test_fuzz_arbitrary_bytes_terminate(data, authenticated):
    """Every call returns a command, None, or raises ProtocolError, and makes progress:
    the loop over next_command always ends."""
    parser = RequestParser(authenticated=authenticated, max_bulk_len=64)
    parser.feed(data)
    produced = 0
    try:
        while parser.next_command() is not None:
            produced += 1
            assert produced <= len(data)  # each command consumes at least one byte
    except ProtocolError as err:
        assert str(err).startswith("Protocol error: ")


@settings(max_examples=200, deadline=None)
@given(
    commands=st.lists(st.lists(st.binary(max_size=20), min_size=1, max_size=5), min_size=1, max_size=5),
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=4),
)
def test_fuzz_multibulk_round_trip(commands, sizes):
    """Whatever the arguments, a multibulk encoding parses back to them in any chunking."""
    data = b"".join(
        b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in cmd) for cmd in commands
    )
    assert parse_chunked(data, sizes) == (commands, None)


@pytest.mark.parametrize("header", [b"*1999999999\r\n", b"*1\r\n*999999\r\n", b"PING\r\n*2147483647\r\n$1\r\n"])
def test_huge_counts_allocate_nothing(header):
    """A valid but huge array count only means "wait": neither parser may allocate
    for it up front (hiredis would size a list from the count at once)."""
    import tracemalloc

    from pyredis_cluster.protocol.fast_parser import make_request_parser

    tracemalloc.start()
    try:
        parser = make_request_parser()
        try:
            parser.feed(header)
            while parser.next_command() is not None:
                pass
        except ProtocolError:
            pass  # a nested array is refused: fine too
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak
