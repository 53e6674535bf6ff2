"""Hash slots: key hashing with {hash tags}, slot bitmaps, range formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyredis_cluster.cluster.slots import (
    SLOT_BITMAP_BYTES,
    SLOT_COUNT,
    SlotBitmap,
    crc16,
    format_slot_ranges,
    key_hash_slot,
    slot_ranges,
)

# Expected values were checked with CLUSTER KEYSLOT on a real redis-server 7.0.15
# (test_keyslot_matches_real_redis repeats that live).
KNOWN_SLOTS = {
    b"foo": 12182,
    b"bar": 5061,
    b"hello": 866,
    b"": 0,
    b"123456789": 12739,
    b"user1000": 3443,
    b"{user1000}.following": 3443,
    b"{user1000}.followers": 3443,
    b"foo{}{bar}": 8363,  # empty first tag: the whole key is hashed
    b"foo{{bar}}zap": 4015,  # the tag is "{bar"
    b"{bar": 4015,
    b"foo{bar}{zap}": 5061,  # only the first tag counts: "bar"
    b"{}": 15257,
    b"}{": 12793,
    b"a{b}c": 3300,
    b"\xff\x00{x}": 16287,
}


@pytest.mark.parametrize(("key", "slot"), sorted(KNOWN_SLOTS.items()))
def test_known_slots(key: bytes, slot: int) -> None:
    assert key_hash_slot(key) == slot


def test_crc16_xmodem_check_value() -> None:
    assert crc16(b"123456789") == 0x31C3  # the CRC-16/XMODEM check value


def test_hash_tag_rules() -> None:
    assert key_hash_slot(b"{user1000}.following") == key_hash_slot(b"{user1000}.followers")
    assert key_hash_slot(b"foo{}{bar}") == crc16(b"foo{}{bar}") & 16383
    assert key_hash_slot(b"foo{{bar}}zap") == crc16(b"{bar") & 16383
    assert key_hash_slot(b"foo{bar}{zap}") == key_hash_slot(b"bar")
    assert key_hash_slot(b"no closing {brace") == crc16(b"no closing {brace") & 16383


@given(st.binary(max_size=64))
def test_slot_in_range_and_tagged_keys_colocate(key: bytes) -> None:
    slot = key_hash_slot(key)
    assert 0 <= slot < SLOT_COUNT
    tag = key.replace(b"{", b"").replace(b"}", b"")
    if tag:
        assert key_hash_slot(b"x{" + tag + b"}y") == key_hash_slot(tag)


def test_ranges_and_formatting() -> None:
    assert slot_ranges([]) == []
    assert slot_ranges([5, 1, 2, 3, 16383]) == [(1, 3), (5, 5), (16383, 16383)]
    assert format_slot_ranges([5, 1, 2, 3, 16383]) == "1-3 5 16383"
    assert format_slot_ranges(range(0, 5461)) == "0-5460"
    assert format_slot_ranges([0]) == "0"
    assert format_slot_ranges(SlotBitmap.all()) == "0-16383"
    assert SlotBitmap.from_ranges([(0, 5460), (5462, 5462)]).format() == "0-5460 5462"


def test_bitmap_wire_layout_is_lsb_first() -> None:
    raw = SlotBitmap.from_slots([0, 9, 16383]).to_bytes()
    assert len(raw) == SLOT_BITMAP_BYTES == 2048
    assert raw[0] == 0b0000_0001  # slot 0: bit 0 of byte 0
    assert raw[1] == 0b0000_0010  # slot 9: bit 1 of byte 1
    assert raw[2047] == 0b1000_0000  # slot 16383: bit 7 of byte 2047
    assert sum(raw) == 1 + 2 + 128


@given(st.sets(st.integers(0, SLOT_COUNT - 1), max_size=300))
def test_bitmap_round_trips(slots: set[int]) -> None:
    bitmap = SlotBitmap.from_slots(slots)
    assert set(bitmap) == slots
    assert len(bitmap) == len(slots)
    assert SlotBitmap.from_bytes(bitmap.to_bytes()) == bitmap
    assert SlotBitmap.from_ranges(bitmap.ranges()) == bitmap
    assert all(s in bitmap for s in slots)
    ranges = bitmap.ranges()
    # maximal: consecutive ranges never touch
    assert all(b[0] > a[1] + 1 for a, b in zip(ranges, ranges[1:]))


def test_bitmap_set_operations_and_validation() -> None:
    a = SlotBitmap.from_ranges([(0, 10)])
    b = SlotBitmap.from_ranges([(5, 15)])
    assert (a | b).format() == "0-15"
    assert (a & b).format() == "5-10"
    assert (a - b).format() == "0-4"
    assert (a ^ b).format() == "0-4 11-15"
    assert a.with_slots(20).without_slots(0).format() == "1-10 20"
    assert -1 not in a and 16384 not in a and "x" not in a
    assert not SlotBitmap() and bool(a)
    assert hash(a) == hash(SlotBitmap.from_slots(range(11)))
    with pytest.raises(ValueError):
        SlotBitmap.from_slots([16384])
    with pytest.raises(ValueError):
        SlotBitmap.from_bytes(b"\0" * 10)
