"""Hash slots: which of the 16384 slots a key lives in, and how sets of slots travel.

Theory of operation
-------------------
A Redis Cluster splits the key space into ``SLOT_COUNT`` = 16384 hash slots. Every
key maps to exactly one slot, and every slot is served by exactly one primary.

* **Client side.** A client (or our own dispatch pipeline, when it decides between
  serving a command and replying ``-MOVED``) computes ``key_hash_slot(key)``: the
  CRC16 of the key (the XMODEM variant, which is what ``binascii.crc_hqx(key, 0)``
  computes, at C speed) masked to 14 bits. When the key holds a *hash tag*, only
  the tag is hashed, so that ``{user1000}.following`` and ``{user1000}.followers``
  land in the same slot and multi-key commands may touch both. The tag is the part
  between the first ``{`` and the first ``}`` after it, and only if it is
  non-empty; otherwise the whole key is hashed. (Spec: "Hash tags".)
* **Bus side.** Every cluster bus header carries the sender's slots as a
  2048-byte bitmap (``myslots``), and UPDATE messages carry one too. Slot *s* is
  bit ``s & 7`` of byte ``s >> 3``, least significant bit first.
  ``SlotBitmap`` is that bitmap. Internally it is one Python ``int`` whose bit
  *s* is slot *s*: with the LSB-first bit order the wire bytes are exactly the
  little-endian encoding of that integer, so conversion both ways is a single
  ``int.from_bytes`` / ``int.to_bytes`` call, equality is one integer compare (the
  receiver compares ``myslots`` with its own view on every PING), and a full
  bitmap costs ~2 KiB instead of a 16384-element set.
* **Text side.** ``CLUSTER NODES`` and ``nodes.conf`` print slots as maximal
  ranges ``a-b``, and a lone slot as ``N`` (never ``N-N``). ``slot_ranges`` and
  ``format_slot_ranges`` produce exactly that.

Deliberately weak
-----------------
``SlotBitmap`` is immutable (like ``frozenset``): every change makes a new object.
That keeps the pure cluster core free of aliasing bugs. The price is a 2 KiB
allocation per change, which is negligible next to a bus round trip; a caller who
assigns thousands of slots one by one should build the set first and convert once.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator

SLOT_COUNT = 16384
"""Number of hash slots (``CLUSTER_SLOTS``)."""

SLOT_MASK = SLOT_COUNT - 1
"""Mask applied to the CRC16 (16383, i.e. 14 bits)."""

SLOT_BITMAP_BYTES = SLOT_COUNT // 8
"""Size of a slot bitmap on the wire: 2048 bytes."""

_ALL_SLOTS_MASK = (1 << SLOT_COUNT) - 1


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis uses for key slots."""
    return binascii.crc_hqx(data, 0)


def key_hash_slot(key: bytes) -> int:
    """Return the hash slot (0..16383) of ``key``, honouring ``{hash tags}``.

    Rules (as in Redis): find the first ``{``; if there is none, hash the whole key.
    Find the first ``}`` after it; if there is none, or the braces are adjacent
    (an empty tag), hash the whole key. Otherwise hash only what is between them.
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end != -1 and end != start + 1:
            return binascii.crc_hqx(key[start + 1 : end], 0) & SLOT_MASK
    return binascii.crc_hqx(key, 0) & SLOT_MASK


def check_slot(slot: int) -> int:
    """Return ``slot`` if it is a valid slot number, else raise ``ValueError``."""
    if not 0 <= slot < SLOT_COUNT:
        raise ValueError(f"slot {slot} out of range 0..{SLOT_COUNT - 1}")
    return slot


# A run of set bits in the reversed binary string of the mask is a run of slots.
_RUN = re.compile("1+")


def _mask_ranges(mask: int) -> list[tuple[int, int]]:
    if not mask:
        return []
    # bin() gives the most significant bit first; reversing puts slot 0 first.
    bits = bin(mask)[:1:-1]
    return [(m.start(), m.end() - 1) for m in _RUN.finditer(bits)]


def slot_ranges(slots: Iterable[int] | SlotBitmap) -> list[tuple[int, int]]:
    """Turn slots into maximal, sorted, inclusive ranges ``[(start, end), ...]``."""
    if isinstance(slots, SlotBitmap):
        return _mask_ranges(slots.mask)
    return _mask_ranges(SlotBitmap.from_slots(slots).mask)


def format_slot_range(start: int, end: int) -> str:
    """One range as Redis prints it: ``"a-b"``, or ``"a"`` when ``start == end``."""
    return str(start) if start == end else f"{start}-{end}"


def format_slot_ranges(slots: Iterable[int] | SlotBitmap) -> str:
    """Space-separated ranges as in CLUSTER NODES, e.g. ``"0-5460 5462"``."""
    return " ".join(format_slot_range(a, b) for a, b in slot_ranges(slots))


class SlotBitmap:
    """An immutable set of hash slots, convertible to/from the 2048-byte wire bitmap.

    Behaves like a small ``frozenset[int]``: ``in``, ``len``, iteration in slot
    order, ``|``, ``&``, ``-``, ``^``, equality and hashing.
    """

    __slots__ = ("_mask",)

    def __init__(self, mask: int = 0) -> None:
        if mask < 0 or mask > _ALL_SLOTS_MASK:
            raise ValueError("slot mask out of range")
        self._mask = mask

    # -- construction -------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> SlotBitmap:
        """Decode the 2048-byte bus bitmap (slot s = bit s&7 of byte s>>3)."""
        if len(data) != SLOT_BITMAP_BYTES:
            raise ValueError(f"slot bitmap must be {SLOT_BITMAP_BYTES} bytes, got {len(data)}")
        return cls(int.from_bytes(data, "little"))

    @classmethod
    def from_slots(cls, slots: Iterable[int]) -> SlotBitmap:
        mask = 0
        for s in slots:
            mask |= 1 << check_slot(s)
        return cls(mask)

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int]]) -> SlotBitmap:
        """Build from inclusive ranges; an empty range (start > end) adds nothing."""
        mask = 0
        for start, end in ranges:
            check_slot(start)
            check_slot(end)
            if start <= end:
                mask |= ((1 << (end - start + 1)) - 1) << start
        return cls(mask)

    @classmethod
    def all(cls) -> SlotBitmap:
        return cls(_ALL_SLOTS_MASK)

    # -- conversion ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The 2048-byte bus bitmap."""
        return self._mask.to_bytes(SLOT_BITMAP_BYTES, "little")

    @property
    def mask(self) -> int:
        """The bitmap as an integer: bit s set means slot s is in the set."""
        return self._mask

    def ranges(self) -> list[tuple[int, int]]:
        return _mask_ranges(self._mask)

    def format(self) -> str:
        """Ranges as printed by CLUSTER NODES (``"0-5460 5462"``)."""
        return format_slot_ranges(self)

    # -- set-like behaviour -------------------------------------------------
    def __contains__(self, slot: object) -> bool:
        return isinstance(slot, int) and 0 <= slot < SLOT_COUNT and bool(self._mask >> slot & 1)

    def __len__(self) -> int:
        return self._mask.bit_count()

    def __bool__(self) -> bool:
        return self._mask != 0

    def __iter__(self) -> Iterator[int]:
        for start, end in _mask_ranges(self._mask):
            yield from range(start, end + 1)

    def with_slots(self, *slots: int) -> SlotBitmap:
        return SlotBitmap(self._mask | SlotBitmap.from_slots(slots)._mask)

    def without_slots(self, *slots: int) -> SlotBitmap:
        return SlotBitmap(self._mask & ~SlotBitmap.from_slots(slots)._mask)

    def __or__(self, other: SlotBitmap) -> SlotBitmap:
        return SlotBitmap(self._mask | other._mask)

    def __and__(self, other: SlotBitmap) -> SlotBitmap:
        return SlotBitmap(self._mask & other._mask)

    def __sub__(self, other: SlotBitmap) -> SlotBitmap:
        return SlotBitmap(self._mask & ~other._mask)

    def __xor__(self, other: SlotBitmap) -> SlotBitmap:
        return SlotBitmap(self._mask ^ other._mask)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SlotBitmap):
            return self._mask == other._mask
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._mask)

    def __repr__(self) -> str:
        text = self.format()
        return f"SlotBitmap({text!r})" if text else "SlotBitmap()"


EMPTY_SLOTS = SlotBitmap()
"""The empty slot set (what a primary without slots, or a fresh node, announces)."""
