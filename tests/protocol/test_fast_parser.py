"""The hiredis-assisted parser must behave exactly like the reference parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol import fast_parser
from pyredis_cluster.protocol.fast_parser import FastRequestParser, make_request_parser
from pyredis_cluster.protocol.parser import ProtocolError, RequestParser

pytestmark = pytest.mark.skipif(fast_parser.hiredis is None, reason="hiredis is an optional speed-up")


def parse_all(parser: RequestParser | FastRequestParser, chunks: list[bytes]) -> list[object]:
    """Commands in order, then the protocol error if one stopped the parse."""
    out: list[object] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (command := parser.next_command()) is not None:
                out.append(command)
    except ProtocolError as err:
        out.append(("error", str(err)))
    return out


def bulk_request(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


# Pieces that mix valid requests with everything hiredis reads differently from Redis.
piece = st.one_of(
    st.lists(st.binary(max_size=12), min_size=1, max_size=4).map(bulk_request),
    st.sampled_from([
        b"PING\r\n", b"*0\r\n", b"*-1\r\n", b"+OK\r\n", b":1\r\n", b"*2\r\n+GET\r\n$1\r\na\r\n",
        b"*1\r\n:5\r\n", b"~1\r\n$4\r\nPING\r\n", b"*1\r\n$04\r\nPING\r\n", b"*1\r\n$-1\r\n",
        b"*2\r\n$3\r\nGET\r\n=5\r\ntxt:a\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"\r\n", b"*1x\r\n",
    ]),  # fmt: skip
    st.binary(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(piece, min_size=1, max_size=8), st.lists(st.integers(min_value=1, max_value=400), max_size=6))
def test_same_commands_and_errors_as_reference_parser(pieces: list[bytes], cut_points: list[int]) -> None:
    data = b"".join(pieces)
    cuts = sorted({c for c in cut_points if c < len(data)})
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    assert parse_all(FastRequestParser(), chunks) == parse_all(RequestParser(), chunks)


def test_unauthenticated_clients_get_the_reference_limits() -> None:
    request = bulk_request([b"x"] * 11)
    fast = FastRequestParser(authenticated=False)
    assert parse_all(fast, [request]) == [("error", "Protocol error: unauthenticated multibulk length")]


def test_factory_prefers_hiredis() -> None:
    assert isinstance(make_request_parser(), FastRequestParser)
