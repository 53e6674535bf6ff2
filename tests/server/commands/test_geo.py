"""Geo commands and geohash arithmetic, tested without sockets.

Expected values are facts: the examples of Redis's GEO* documentation (Palermo and
Catania), the standard geohash of a published point, the fixed-point formatting cases
of Redis's own unit tests, properties of the bit interleaving and of the haversine
formula. Byte-exact replies are checked against the real server in
tests/integration/test_diff_geo.py.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import NULL_ARRAY, ErrorReply
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands import geo
from tests.server.commands.test_sorted_sets import make_env


@pytest.fixture
def env() -> Any:
    return make_env()


def add_sicily(env: Any) -> None:
    assert (
        env("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania") == 2
    )


# -- the documented examples --------------------------------------------------------------------


def test_documented_positions_distances_and_hashes(env: Any) -> None:
    add_sicily(env)
    assert env("GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting") == [
        [b"13.36138933897018433", b"38.11555639549629859"],
        [b"15.08726745843887329", b"37.50266842333162032"],
        NULL_ARRAY,
    ]
    assert env("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert env("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert env("GEODIST", "Sicily", "Palermo", "Catania", "mi") == b"103.3182"
    assert env("GEODIST", "Sicily", "Foo", "Bar") is None
    assert env("GEOHASH", "Sicily", "Palermo", "Catania") == [b"sqc8b49rny0", b"sqdtr74hyu0"]


def test_documented_searches(env: Any) -> None:
    add_sicily(env)
    assert env("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST") == [
        [b"Palermo", b"190.4424"],
        [b"Catania", b"56.4413"],
    ]
    assert env("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD") == [
        [b"Palermo", [b"13.36138933897018433", b"38.11555639549629859"]],
        [b"Catania", [b"15.08726745843887329", b"37.50266842333162032"]],
    ]
    assert env("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "ASC") == [b"Palermo", b"Catania"]
    assert env("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC") == [
        b"Catania",
        b"Palermo",
    ]
    assert env(
        "GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHDIST"
    ) == [
        [b"Catania", b"56.4413"],
        [b"Palermo", b"190.4424"],
    ]


def test_geoadd_is_zadd_with_geohash_scores(env: Any) -> None:
    add_sicily(env)
    assert env("ZSCORE", "Sicily", "Palermo") == 3479099956230698.0  # the score in Redis's docs
    assert env("GEOADD", "Sicily", "NX", "1", "1", "Palermo") == 0
    assert env("GEOADD", "Sicily", "XX", "CH", "1", "1", "Palermo", "2", "2", "New") == 1
    assert env("ZCARD", "Sicily") == 2
    assert ("z", "zadd", b"Sicily") in env.events


def test_store_variants_write_a_sorted_set_with_redis_events(env: Any) -> None:
    add_sicily(env)
    assert env("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "near") == 2
    assert env("ZRANGE", "near", "0", "-1") == [b"Palermo", b"Catania"]
    assert ("z", "georadiusstore", b"near") in env.events
    assert (
        env("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Catania", "BYRADIUS", "100", "km", "STOREDIST")
        == 1
    )
    assert env("ZSCORE", "d", "Catania") == 0.0
    assert ("z", "geosearchstore", b"d") in env.events
    assert env("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m") == 0
    assert env("EXISTS", "d") == 0
    assert ("g", "del", b"d") in env.events


@pytest.mark.parametrize(
    ("words", "error"),
    [
        (["GEOADD", "k", "200", "100", "m"], "ERR invalid longitude,latitude pair 200.000000,100.000000"),
        (["GEOADD", "k", "NX", "XX", "1", "1", "m"], errors.SYNTAX),
        (["GEOADD", "k", "1", "1"], "ERR wrong number of arguments for 'geoadd' command"),
        (["GEOADD", "k", "1", "1", "m", "2"], errors.SYNTAX),
        (["GEOADD", "k", "x", "1", "m"], errors.NOT_FLOAT),
        (["GEODIST", "Sicily", "a", "b", "yards"], errors.GEO_UNSUPPORTED_UNIT),
        (["GEORADIUS", "Sicily", "15", "37", "-1", "km"], errors.GEO_RADIUS_NEGATIVE),
        (["GEORADIUS", "Sicily", "15", "37", "x", "km"], errors.GEO_NEED_NUMERIC_RADIUS),
        (["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"], errors.GEO_COUNT_NOT_POSITIVE),
        (["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"], errors.GEO_ANY_NEEDS_COUNT),
        (["GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "x"], errors.SYNTAX),
        (["GEORADIUSBYMEMBER", "Sicily", "Nobody", "1", "km"], errors.GEO_MEMBER_NOT_DECODABLE),
        (["GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "WITHDIST"],
         "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
        (["geosearch", "Sicily", "FROMMEMBER", "Palermo", "ASC", "WITHDIST", "WITHHASH"],
         "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch"),
        (["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "1", "-1", "km"], errors.GEO_BOX_NEGATIVE),
        (["GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", "WITHDIST"],
         "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (["GEORADIUS", "Sicily", "15", "37", "1", "km", "WITHHASH", "STORE", "d"],
         "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    ],
)  # fmt: skip
def test_errors(env: Any, words: list[str], error: str) -> None:
    add_sicily(env)
    assert env(*words) == ErrorReply(error)


def test_wrong_type(env: Any) -> None:
    env("SET", "s", "x")
    for words in (["GEOADD", "s", "1", "1", "m"], ["GEOPOS", "s", "m"], ["GEODIST", "s", "a", "b"],
                  ["GEOHASH", "s", "m"], ["GEORADIUS", "s", "500", "0", "1", "km"],
                  ["GEOSEARCH", "s", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"]):  # fmt: skip
        assert env(*words) == ErrorReply(errors.WRONGTYPE)


_WORDS = st.sampled_from(
    ["k", "g", "0", "1", "-1", "15", "37", "200", "km", "m", "x", "nan", "inf", "1e400", "500", "COUNT", "ANY",
     "ASC", "DESC", "WITHDIST", "WITHHASH", "WITHCOORD", "STORE", "STOREDIST", "FROMMEMBER", "FROMLONLAT",
     "BYRADIUS", "BYBOX", "NX", "XX", "CH", "p"]
)  # fmt: skip
_GEO_NAMES = st.sampled_from(["GEOADD", "GEOPOS", "GEODIST", "GEOHASH", "GEORADIUS", "GEORADIUS_RO",
                              "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEOSEARCH", "GEOSEARCHSTORE"])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(name=_GEO_NAMES, words=st.lists(_WORDS, max_size=12))
def test_never_crashes(name: str, words: list[str]) -> None:
    """Any argument list gets a reply or one of Redis's errors, never an exception."""
    env = make_env()
    env("GEOADD", "g", "15", "37", "p", "0", "0", "q")
    env("ZADD", "k", "inf", "i", "-1", "n")
    reply = env(name, *words)
    if isinstance(reply, ErrorReply):
        assert reply.startswith(("ERR ", "WRONGTYPE "))


# -- geohash arithmetic -------------------------------------------------------------------------


@given(st.integers(0, 2**32 - 1))
def test_interleaving_round_trips(value: int) -> None:
    spread = geo._spread(value)
    assert spread & 0xAAAAAAAAAAAAAAAA == 0
    assert geo._squash(spread) == value
    assert geo._squash(spread << 1 >> 1) == value


def test_standard_geohash_of_a_published_point() -> None:
    """Wikipedia's example: 42.6 N, 5.6 W is geohash ezs42."""
    score = float(geo.encode(-5.6, 42.6, geo.STEP_MAX))
    assert geo.geohash_string(score)[:5] == b"ezs42"


@given(st.floats(-180, 180), st.floats(geo.LAT_MIN, geo.LAT_MAX))
def test_decoding_returns_the_centre_of_the_cell_holding_the_point(longitude: float, latitude: float) -> None:
    bits = geo.encode(longitude, latitude, geo.STEP_MAX)
    lon_min, lon_max, lat_min, lat_max = geo.decode_area(bits, geo.STEP_MAX)
    # The top edges (longitude 180, latitude LAT_MAX) belong to no cell: their hash overflows
    # 52 bits and loses its low bit as a double score, in Redis as here.
    assume(longitude < 180 and latitude < geo.LAT_MAX)
    tolerance = 1e-12  # the scaling may round a point lying on a cell edge into its neighbour
    assert lon_min - tolerance <= longitude <= lon_max + tolerance
    assert lat_min - tolerance <= latitude <= lat_max + tolerance
    lon, lat = geo.decode_score(float(bits))
    assert abs(lon - longitude) <= 360 / 2**26 and abs(lat - latitude) <= 180 / 2**26


@given(st.integers(2, 26), st.floats(-170, 170), st.floats(-80, 80))
def test_neighbours_are_adjacent_cells(step: int, longitude: float, latitude: float) -> None:
    bits = geo.encode(longitude, latitude, step)
    centre = geo.decode_area(bits, step)
    east = geo.decode_area(geo._move_x(bits, step, 1), step)
    north = geo.decode_area(geo._move_y(bits, step, 1), step)
    assert geo._move_x(geo._move_x(bits, step, 1), step, -1) == bits
    assert geo._move_y(geo._move_y(bits, step, -1), step, 1) == bits
    if centre[1] < 180:
        assert east[0] == pytest.approx(centre[1]) and east[2:] == centre[2:]
    if centre[3] < geo.LAT_MAX:
        assert north[2] == pytest.approx(centre[3]) and north[:2] == centre[:2]


def test_distance_facts() -> None:
    one_degree = geo.EARTH_RADIUS_M * math.pi / 180
    assert geo.distance(0, 0, 1, 0) == pytest.approx(one_degree)
    assert geo.distance(0, 0, 0, 1) == pytest.approx(one_degree)
    assert geo.distance(10, 20, 10, 20) == 0.0
    assert geo.distance(2.3522, 48.8566, -0.1278, 51.5074) == pytest.approx(343_500, rel=0.01)  # Paris-London
    assert geo.distance(1, 2, 3, 4) == geo.distance(3, 4, 1, 2)


def test_search_precision_estimate() -> None:
    assert geo.estimate_steps(0, 0) == 26
    assert geo.estimate_steps(1, 0) == 24  # 2**25 m is the first doubling past the Mercator width
    assert geo.estimate_steps(1, 70) == 23 and geo.estimate_steps(1, -85) == 22  # wider near the poles
    assert geo.estimate_steps(10**9, 0) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, b"0.0000"), (0.0001, b"0.0001"), (6.0642951598391699e-05, b"0.0001"), (0.01, b"0.0100"),
     (-0.01, b"-0.0100"), (10.01, b"10.0100"), (123.45678, b"123.4568"), (math.nan, b"-922337203685477.5808")],
)  # fmt: skip
def test_distance_formatting(value: float, text: bytes) -> None:
    assert geo.format_distance(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, b"0.5"), (1.0, b"1"), (-0.0, b"0"), (0.0, b"0"), (-180.0, b"-180"), (0.1, b"0.10000000000000001")],
)
def test_coordinate_formatting(value: float, text: bytes) -> None:
    assert geo._human_double_text(value) == text


@given(st.lists(st.sampled_from([1.0, 2.0, 2.0, 3.0, 5.0, math.inf]), min_size=1, max_size=120), st.data())
def test_partial_quicksort_orders_the_prefix(distances: list[float], data: st.DataObject) -> None:
    last = data.draw(st.integers(0, len(distances) - 1))
    hits: list[geo.Hit] = [(d, 0.0, b"%d" % i, 0.0, 0.0) for i, d in enumerate(distances)]
    shuffled = hits[:]
    random.Random(0).shuffle(shuffled)
    geo.partial_quicksort(shuffled, geo._by_distance, last)
    assert sorted(shuffled) == sorted(hits)  # a permutation
    assert [h[0] for h in shuffled[: last + 1]] == sorted(distances)[: last + 1]
