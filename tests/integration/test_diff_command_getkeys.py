"""COMMAND GETKEYS / GETKEYSANDFLAGS for commands whose keys a function finds (SORT),
compared with a real redis-server 7.0 byte for byte."""

from __future__ import annotations

from tests.differential import assert_same


def test_sort_keys_and_flags(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, [
        ["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "STORE", "k2"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "BY", "w_*", "GET", "#", "LIMIT", 0, 1, "STORE", "d"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "GET", "store", "STORE", "a", "STORE", "b"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "k1", "BY", "nosort"],
        ["COMMAND", "GETKEYS", "SORT", "k1", "STORE", "k2"],
    ])  # fmt: skip
