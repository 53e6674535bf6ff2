"""Geo commands, differentially: the same scripts on our node and on redis-server 7.0,
replies compared byte for byte in RESP2 and RESP3.

Known places (Sicily, European capitals, the poles' edges, the antimeridian) exercise the
geohash encoding, the printing of decoded coordinates and distances, and the choice of
search boxes; every error path is scripted too. Hypothesis then generates random point
sets and searches (radius and box, every option) compared the same way, which checks
the box scan order of unsorted replies as well.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Command, assert_same, run_script
from tests.integration.test_diff_sets import keyspace_events

SICILY = ["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]
CAPITALS = [
    "GEOADD", "eu",
    "2.352222", "48.856613", "Paris", "13.404954", "52.520008", "Berlin", "-0.127758", "51.507351", "London",
    "12.496366", "41.902782", "Rome", "-3.703790", "40.416775", "Madrid", "16.373819", "48.208176", "Vienna",
    "4.904139", "52.367573", "Amsterdam", "21.012229", "52.229676", "Warsaw", "-9.139337", "38.722252", "Lisbon",
    "23.727539", "37.983810", "Athens", "24.938379", "60.169857", "Helsinki", "-21.817439", "64.126521", "Reykjavik",
]  # fmt: skip

BASICS: list[Command] = [
    SICILY, ["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"],
    ["GEOPOS", "Sicily", "Palermo", "Catania", "nowhere"], ["GEOPOS", "Sicily"], ["GEOPOS", "nokey", "a", "b"],
    ["GEODIST", "Sicily", "Palermo", "Catania"], ["GEODIST", "Sicily", "Palermo", "Catania", "km"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "MI"], ["GEODIST", "Sicily", "Palermo", "Catania", "ft"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "m"], ["GEODIST", "Sicily", "Palermo", "Palermo"],
    ["GEODIST", "Sicily", "Palermo", "nowhere"], ["GEODIST", "nokey", "a", "b"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "yards"], ["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"],
    ["GEODIST", "nokey", "a", "b", "parsec"], ["GEODIST", "Sicily", "a"],
    ["GEOHASH", "Sicily", "Palermo", "Catania", "nowhere"], ["GEOHASH", "nokey", "x"], ["GEOHASH", "Sicily"],
    ["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"], ["TYPE", "Sicily"], ["OBJECT", "ENCODING", "Sicily"],
    # GEOADD options (ZADD's semantics) and errors
    ["GEOADD", "Sicily", "NX", "13.361389", "38.115556", "Palermo", "15", "37", "NX1"],
    ["GEOADD", "Sicily", "XX", "13", "38", "Palermo", "15", "37", "XX1"],
    ["GEOADD", "Sicily", "CH", "13.5", "38", "Palermo", "15", "37", "CH1"],
    ["GEOADD", "Sicily", "CH", "XX", "13.5", "38", "Palermo"], ["GEOADD", "Sicily", "XX", "CH", "13.6", "38", "Palermo"],
    ["GEOADD", "Sicily", "NX", "XX", "13", "38", "p"], ["GEOADD", "Sicily", "XX", "NX", "CH", "13", "38", "p"],
    ["GEOADD", "Sicily", "GT", "13", "38", "p"], ["GEOADD", "Sicily", "13", "38"], ["GEOADD", "Sicily", "13", "38", "a", "1"],
    ["GEOADD", "Sicily", "CH", "CH", "CH"], ["GEOADD", "Sicily", "NX", "NX", "NX"], ["GEOADD", "k", "1", "2"],
    ["GEOADD", "Sicily", "200", "100", "bad"], ["GEOADD", "Sicily", "-180.000001", "0", "bad"],
    ["GEOADD", "Sicily", "0", "85.05112879", "bad"], ["GEOADD", "Sicily", "0", "-85.05112879", "bad"],
    ["GEOADD", "Sicily", "180", "85.05112878", "edge1"], ["GEOADD", "Sicily", "-180", "-85.05112878", "edge2"],
    ["GEOADD", "Sicily", "0", "0", "origin"], ["GEOADD", "Sicily", "-0", "-0", "negzero"],
    ["GEOADD", "Sicily", "1e400", "0", "bad"], ["GEOADD", "Sicily", "0", "nan", "bad"], ["GEOADD", "Sicily", "x", "0", "bad"],
    ["GEOADD", "Sicily", "0", "y", "bad"], ["GEOADD", "Sicily", " 1", "0", "bad"], ["GEOADD", "Sicily", "1e3", "0", "bad"],
    ["GEOADD", "Sicily", "inf", "0", "bad"], ["GEOADD", "Sicily", "1", "-inf", "bad"], ["GEOADD", "Sicily", "0x10", "0x1p2", "hex"],
    ["GEOADD", "Sicily", "1", "1", "ok", "500", "1", "bad"], ["GEOADD", "Sicily", "1", "1", "ok", "x", "1", "bad"],
    ["GEOADD", "Sicily", "12345678901234567890", "1", "bad"],
    ["GEOPOS", "Sicily", "edge1", "edge2", "origin", "negzero", "hex", "ok", "CH1", "NX1"],
    ["GEOHASH", "Sicily", "edge1", "edge2", "origin", "negzero", "hex", "ok"],
    ["GEODIST", "Sicily", "edge1", "edge2"], ["GEODIST", "Sicily", "origin", "edge1", "km"],
    ["SET", "str", "x"], ["GEOADD", "str", "1", "1", "a"], ["GEOADD", "str", "500", "1", "a"],
    ["GEOPOS", "str", "a"], ["GEODIST", "str", "a", "b"], ["GEOHASH", "str", "a"], ["GEODIST", "str", "a", "b", "bad"],
    ["GEORADIUS", "str", "0", "0", "1", "km"], ["GEORADIUS", "str", "500", "0", "1", "km"],
    ["GEORADIUSBYMEMBER", "str", "a", "1", "km"], ["GEOSEARCH", "str", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["GEOSEARCHSTORE", "dst", "str", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["GEOSEARCHSTORE", "str", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"], ["TYPE", "str"],
    # scores that are not geohashes: decoding follows C's conversion of the double
    ["ZADD", "weird", "-1", "neg", "1e20", "huge", "inf", "pinf", "-inf", "ninf", "0.5", "half", "4503599627370496", "p52",
     "4503599627370495", "max52", "9007199254740993", "p53", "-1e30", "negbig", "1e19", "e19"],
    ["GEOPOS", "weird", "neg", "huge", "pinf", "ninf", "half", "p52", "max52", "p53", "negbig", "e19"],
    ["GEOHASH", "weird", "neg", "huge", "pinf", "ninf", "half", "p52", "max52", "p53", "negbig", "e19"],
    ["GEODIST", "weird", "neg", "huge"], ["GEODIST", "weird", "p52", "half", "km"],
    ["GEORADIUS", "weird", "0", "0", "20000", "km", "WITHHASH", "WITHCOORD", "WITHDIST"],
    ["GEOSEARCH", "weird", "FROMLONLAT", "-180", "-85", "BYBOX", "100", "100", "km", "WITHHASH", "WITHCOORD"],
]  # fmt: skip

SEARCHES: list[Command] = [
    SICILY, CAPITALS,
    ["GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHHASH"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "withdist", "withcoord", "withhash", "desc", "count", "1"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"], ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "2", "ANY", "DESC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "100"], ["GEORADIUS", "Sicily", "15", "37", "0", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "100", "m"], ["GEORADIUS", "Sicily", "15", "37", "200000", "ft", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "mi", "WITHDIST", "ASC"], ["GEORADIUS", "Sicily", "15", "37", "5000", "KM"],
    ["GEORADIUS", "Sicily", "15", "37", "50000", "km", "WITHDIST"], ["GEORADIUS", "Sicily", "-165", "-37", "20000", "km", "WITHDIST"],
    ["GEORADIUS", "eu", "10", "50", "1000", "km", "WITHDIST"], ["GEORADIUS", "eu", "10", "50", "1000", "km", "ASC", "WITHDIST"],
    ["GEORADIUS", "eu", "10", "50", "3000", "km"], ["GEORADIUS", "eu", "10", "50", "3000", "km", "COUNT", "3"],
    ["GEORADIUS", "eu", "10", "50", "3000", "km", "COUNT", "3", "ANY"], ["GEORADIUS", "eu", "10", "50", "3000", "km", "DESC", "COUNT", "4"],
    ["GEORADIUS", "eu", "0", "80", "3000", "km", "WITHCOORD"], ["GEORADIUS", "eu", "179", "0", "20000", "km"],
    ["GEORADIUS", "eu", "10", "50", "1", "km"], ["GEORADIUS", "eu", "10", "50", "1e-9", "km"],
    ["GEORADIUS_RO", "eu", "10", "50", "1500", "km", "WITHDIST", "ASC"],
    ["GEORADIUSBYMEMBER", "eu", "Paris", "1000", "km"], ["GEORADIUSBYMEMBER", "eu", "Paris", "1000", "km", "WITHDIST", "ASC"],
    ["GEORADIUSBYMEMBER", "eu", "Paris", "0", "km", "WITHDIST"], ["GEORADIUSBYMEMBER", "eu", "Helsinki", "2000", "km", "DESC", "COUNT", "2"],
    ["GEORADIUSBYMEMBER_RO", "eu", "Rome", "1500", "km", "WITHCOORD", "WITHHASH"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Berlin", "BYRADIUS", "600", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Berlin", "BYRADIUS", "600", "km", "ASC", "WITHDIST"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50", "BYBOX", "2000", "1000", "km", "WITHDIST"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50", "BYBOX", "2000", "1000", "km", "ASC", "WITHDIST", "WITHCOORD"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50", "BYBOX", "1000", "2000", "km", "DESC"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "-50", "BYBOX", "10000", "20000", "km"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50", "BYBOX", "0", "0", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "0", "0", "km", "WITHDIST"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "0", "0", "BYBOX", "40000", "40000", "km", "COUNT", "5"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "0", "0", "BYBOX", "40000", "40000", "km", "COUNT", "5", "ANY"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "0", "0", "BYRADIUS", "40000", "km", "WITHHASH"],
    ["GEOSEARCH", "eu", "BYRADIUS", "1000", "km", "FROMMEMBER", "London", "COUNT", "3", "DESC", "WITHDIST"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Madrid", "BYBOX", "2000", "2000", "mi", "WITHDIST", "WITHHASH"],
    ["GEOSEARCHSTORE", "dst", "eu", "FROMMEMBER", "Berlin", "BYRADIUS", "1000", "km"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["GEOSEARCHSTORE", "dst", "eu", "FROMMEMBER", "Berlin", "BYRADIUS", "1000", "km", "STOREDIST"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "dst"],
    ["GEOSEARCHSTORE", "dst", "eu", "FROMMEMBER", "Berlin", "BYRADIUS", "1000", "km", "STOREDIST", "COUNT", "2", "DESC"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"], ["EXISTS", "dst"],
    ["GEOSEARCHSTORE", "dst", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["GEORADIUS", "eu", "10", "50", "1000", "km", "STORE", "dst2"], ["ZRANGE", "dst2", "0", "-1", "WITHSCORES"],
    ["GEORADIUS", "eu", "10", "50", "1000", "km", "STOREDIST", "dst2", "ASC"], ["ZRANGE", "dst2", "0", "-1", "WITHSCORES"],
    ["GEORADIUS", "eu", "10", "50", "1000", "mi", "STORE", "dst2", "STOREDIST", "dst3"], ["ZRANGE", "dst3", "0", "-1", "WITHSCORES"],
    ["EXISTS", "dst2"], ["GEORADIUSBYMEMBER", "eu", "Paris", "500", "km", "STORE", "dst4"], ["ZRANGE", "dst4", "0", "-1"],
    ["GEORADIUSBYMEMBER", "eu", "Paris", "1", "m", "STORE", "dst4"], ["ZRANGE", "dst4", "0", "-1"],
    ["GEORADIUS", "nokey", "10", "50", "1000", "km", "STORE", "dst4"], ["EXISTS", "dst4"],
    ["GEORADIUS", "eu", "0", "0", "1", "m", "STORE", "dst3"], ["EXISTS", "dst3"],
    # missing keys: arguments are still checked, except a member search's radius
    ["GEORADIUS", "nokey", "10", "50", "1000", "km"], ["GEORADIUS", "nokey", "500", "50", "1000", "km"],
    ["GEORADIUS", "nokey", "10", "50", "-1", "km"], ["GEORADIUSBYMEMBER", "nokey", "m", "x", "y"],
    ["GEORADIUSBYMEMBER", "nokey", "m", "x", "y", "WITHDIST", "STORE", "d"], ["GEORADIUSBYMEMBER", "nokey", "m", "1", "km", "bad"],
    ["GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km"], ["GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYBOX", "1", "1", "km"],
    ["GEOSEARCH", "nokey", "FROMLONLAT", "500", "0", "BYRADIUS", "1", "km"],
    # errors
    ["GEORADIUS", "eu", "10", "50", "1000", "lightyears"], ["GEORADIUS", "eu", "10", "50", "x", "km"],
    ["GEORADIUS", "eu", "10", "50", "-1", "km"], ["GEORADIUS", "eu", "10", "50", "-0", "km"],
    ["GEORADIUS", "eu", "181", "50", "1", "km"], ["GEORADIUS", "eu", "x", "50", "1", "km"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "COUNT"], ["GEORADIUS", "eu", "10", "50", "1", "km", "COUNT", "0"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "COUNT", "-3"], ["GEORADIUS", "eu", "10", "50", "1", "km", "COUNT", "x"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "ANY"], ["GEORADIUS", "eu", "10", "50", "1", "km", "ANY", "COUNT", "0"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "STORE"], ["GEORADIUS", "eu", "10", "50", "1", "km", "STORE", "d", "WITHDIST"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "WITHHASH", "STOREDIST", "d"], ["GEORADIUS", "eu", "10", "50", "1", "km", "bogus"],
    ["GEORADIUS", "eu", "10", "50", "1", "km", "FROMMEMBER", "Paris"], ["GEORADIUS", "eu", "10", "50", "1"],
    ["GEORADIUS_RO", "eu", "10", "50", "1", "km", "STORE", "d"], ["GEORADIUS_RO", "eu", "10", "50", "1", "km", "STOREDIST", "d"],
    ["GEORADIUSBYMEMBER", "eu", "nobody", "1", "km"], ["GEORADIUSBYMEMBER", "eu", "Paris", "x", "km"],
    ["GEORADIUSBYMEMBER", "eu", "Paris", "1", "yd"], ["GEORADIUSBYMEMBER_RO", "eu", "Paris", "1", "km", "STORE", "x"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50"], ["GEOSEARCH", "eu", "BYRADIUS", "1", "km", "WITHDIST"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "50", "BYRADIUS", "1", "km", "FROMMEMBER", "Paris"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "FROMLONLAT", "10", "50", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "1", "1", "km", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "BYRADIUS", "2", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "FROMMEMBER", "Rome", "BYRADIUS", "2000", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "nobody", "BYRADIUS", "1", "km"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "x", "1", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "1", "x", "km"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "-1", "1", "km"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "1", "-1", "yd"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "1", "1", "yd"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYBOX", "1", "1"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1"],
    ["GEOSEARCH", "eu", "FROMLONLAT", "10", "BYRADIUS", "1", "km"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "STORE", "d"],
    ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "STOREDIST"], ["geosearch", "eu", "BYRADIUS", "1", "km", "ASC"],
    ["GeoSearch", "eu", "FROMMEMBER", "Paris", "ASC", "DESC"], ["GEOSEARCH", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "ANY"],
    ["GEOSEARCHSTORE", "d", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "WITHDIST"],
    ["GEOSEARCHSTORE", "d", "eu", "FROMMEMBER", "Paris", "BYRADIUS", "1", "km", "STORE", "x"],
    ["GEOSEARCHSTORE", "d", "eu", "BYRADIUS", "1", "km"], ["geosearchstore", "d", "eu", "FROMMEMBER", "Paris", "COUNT", "1"],
    ["GEOSEARCH", "eu"], ["GEOSEARCHSTORE", "d", "eu", "FROMMEMBER", "Paris"], ["GEORADIUSBYMEMBER", "eu", "Paris", "1"],
    ["GEOPOS"], ["GEOHASH"], ["GEODIST", "eu"],
]  # fmt: skip


def test_geo_basics_and_errors(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, BASICS)


def test_geo_searches(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, SEARCHES)


def test_geo_searches_on_a_skiplist(our_port: int, real_redis_port: int) -> None:
    """The same searches when the index is a skiplist (and the stored results too)."""
    for port in (our_port, real_redis_port):
        run_script(port, [["CONFIG", "SET", "zset-max-listpack-entries", "0"]])
    try:
        assert_same(our_port, real_redis_port, SEARCHES, resps=(2,))
    finally:
        for port in (our_port, real_redis_port):
            run_script(port, [["CONFIG", "SET", "zset-max-listpack-entries", "128"]])


def _tied_script() -> list[Command]:
    """Many members at a few identical positions, searched with COUNT: Redis's partial sort
    is not stable, so this checks that ties come out in its exact order."""
    script: list[Command] = [["GEOADD", "g", *[w for i in range(30) for w in ("10", "10", f"m{i}")],
                              "10.001", "10", "x", "9.999", "10", "y"]]  # fmt: skip
    for count in (1, 2, 3, 5, 7, 8, 10, 29, 31, 32):
        for order in ("ASC", "DESC"):
            script.append(["GEORADIUS", "g", "10", "10", "100", "km", "COUNT", str(count), order])
            script.append(
                ["GEORADIUS", "g", "10.0005", "10", "100", "km", "COUNT", str(count), order, "WITHDIST"]
            )
    positions = [("1", "1"), ("1.001", "1"), ("1.002", "1.001"), ("0.999", "1.002"), ("1", "1.002")]
    add: list[str] = ["GEOADD", "h"]
    for i in range(300):
        lon, lat = positions[(i * 7 + i // 3) % len(positions)]
        add += [lon, lat, f"n{i}"]
    script.append(add)
    for count in (1, 3, 7, 41, 50, 100, 299):
        for order in ("ASC", "DESC"):
            script.append(["GEORADIUS", "h", "1", "1", "100", "km", "COUNT", str(count), order])
            script.append(["GEOSEARCH", "h", "FROMLONLAT", "1.0005", "1.0005", "BYBOX", "500", "500", "km",
                           "COUNT", str(count), order, "WITHDIST"])  # fmt: skip
            script.append(
                [
                    "GEOSEARCHSTORE",
                    "d",
                    "h",
                    "FROMMEMBER",
                    "n0",
                    "BYRADIUS",
                    "9",
                    "km",
                    "COUNT",
                    str(count),
                    order,
                ]
            )
            script.append(["ZRANGE", "d", "0", "-1"])
    return script


def test_ties_in_partial_sort(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, _tied_script(), resps=(2,))


GEO_COMMANDS = ["geoadd", "geopos", "geodist", "geohash", "georadius", "georadius_ro", "georadiusbymember",
                "georadiusbymember_ro", "geosearch", "geosearchstore"]  # fmt: skip


def test_command_info_and_keys(our_port: int, real_redis_port: int) -> None:
    """Arity, flags, ACL categories, key specs (GEORADIUS's STORE/STOREDIST keywords) and key extraction."""
    script: list[Command] = [["COMMAND", "INFO", *GEO_COMMANDS], ["COMMAND", "COUNT"]]
    script += [
        ["COMMAND", "GETKEYS", "GEORADIUS", "src", "0", "0", "1", "km", "STORE", "dst"],
        ["COMMAND", "GETKEYS", "GEORADIUS", "src", "0", "0", "1", "km", "STOREDIST", "dst"],
        ["COMMAND", "GETKEYS", "GEORADIUS", "src", "0", "0", "1", "km"],
        ["COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "src", "m", "1", "km", "ASC", "STORE", "dst"],
        ["COMMAND", "GETKEYS", "GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
        ["COMMAND", "GETKEYS", "GEOSEARCH", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
        ["COMMAND", "GETKEYS", "GEOADD", "k", "1", "2", "m"],
    ]
    # COMMAND COUNT depends on every module of ours being complete: compare only the geo parts.
    assert_same(our_port, real_redis_port, [script[0], *script[2:]])


EVENTS_SCRIPT: list[Command] = [
    SICILY, SICILY, ["GEOADD", "Sicily", "XX", "CH", "13", "38", "Palermo"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "near"],
    ["GEORADIUSBYMEMBER", "Sicily", "Catania", "200", "km", "STOREDIST", "near"],
    ["GEOSEARCHSTORE", "box", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "STOREDIST"],
    ["GEOSEARCHSTORE", "box", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"],
    ["GEORADIUS", "Sicily", "0", "0", "1", "m", "STORE", "near"], ["GEORADIUS", "nokey", "0", "0", "1", "m", "STORE", "near"],
]  # fmt: skip


def test_keyspace_events_match_redis(our_port: int, real_redis_port: int) -> None:
    assert keyspace_events(our_port, EVENTS_SCRIPT) == keyspace_events(real_redis_port, EVENTS_SCRIPT)


# -- random point sets and searches ------------------------------------------------------------

longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
latitudes = st.floats(min_value=-85.05112878, max_value=85.05112878, allow_nan=False)
# Some points on a coarse grid, so that several members share a position (distance ties).
_OFFSETS = st.one_of(st.floats(-2, 2), st.sampled_from([0.0, 0.001, -0.5]))
_NEAR = st.tuples(_OFFSETS, _OFFSETS)
units = st.sampled_from(["m", "km", "mi", "ft"])
_SEARCH_OPTIONS = st.lists(
    st.sampled_from(
        [["WITHDIST"], ["WITHCOORD"], ["WITHHASH"], ["ASC"], ["DESC"], ["COUNT", "3"], ["COUNT", "1", "ANY"]]
    ),
    max_size=4,
)


@st.composite
def geo_scripts(draw: st.DrawFn) -> list[Command]:
    """Points around a random centre (so searches find some) and a few searches there."""
    lon0, lat0 = draw(st.floats(-175, 175)), draw(st.floats(-82, 82))
    script: list[Command] = []
    points = draw(st.lists(_NEAR, min_size=1, max_size=25))
    add: list[str] = ["GEOADD", "g"]
    for n, (dlon, dlat) in enumerate(points):
        add += [repr(lon0 + dlon), repr(max(min(lat0 + dlat, 85.05), -85.05)), f"p{n}"]
    far = draw(st.lists(st.tuples(longitudes, latitudes), max_size=5))
    for n, (lon, lat) in enumerate(far):
        add += [repr(lon), repr(lat), f"far{n}"]
    script.append(add)
    script.append(["GEOPOS", "g", "p0", f"p{len(points) - 1}", "far0"])
    script.append(["GEOHASH", "g", "p0", f"p{len(points) - 1}", "far0"])
    script.append(["GEODIST", "g", "p0", f"p{len(points) - 1}", draw(units)])
    for _ in range(draw(st.integers(1, 4))):
        options = [word for option in draw(_SEARCH_OPTIONS) for word in option]
        clon, clat = (
            repr(lon0 + draw(st.floats(-1, 1))),
            repr(max(min(lat0 + draw(st.floats(-1, 1)), 85), -85)),
        )
        radius = repr(draw(st.floats(0, 400)))
        unit = draw(units)
        kind = draw(st.sampled_from(["radius", "box", "member", "bymember"]))
        if kind == "radius":
            script.append(["GEORADIUS", "g", clon, clat, radius, unit, *options])
        elif kind == "bymember":
            script.append(["GEORADIUSBYMEMBER", "g", "p0", radius, unit, *options])
        elif kind == "member":
            script.append(["GEOSEARCH", "g", "FROMMEMBER", "p0", "BYRADIUS", radius, unit, *options])
        else:
            height = repr(draw(st.floats(0, 400)))
            script.append(
                ["GEOSEARCH", "g", "FROMLONLAT", clon, clat, "BYBOX", radius, height, unit, *options]
            )
    return script


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=geo_scripts())
def test_random_geo_searches(our_port: int, real_redis_port: int, script: list[Command]) -> None:
    assert_same(our_port, real_redis_port, script)
