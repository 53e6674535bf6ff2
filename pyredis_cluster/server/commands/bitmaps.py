"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO (Redis 7.0).

Theory of operation
-------------------
A bitmap is an ordinary string value (``bytes``): bit 0 is the most significant bit
of the first byte, as in Redis. Missing keys read as an infinite run of zero bits.
Writes that address a bit past the end grow the string with zero bytes first (Redis's
``lookupStringForBitCommand``); the value is rebuilt as new ``bytes`` because stored
strings are immutable here (a copy per write, where Redis edits in place).

Semantics follow Redis 7.0's ``bitops.c``, including the details clients can see:

* bit offsets are refused (``bit offset is not an integer or out of range``) when
  negative or when they address a byte at or past ``proto-max-bulk-len``; BITFIELD also
  takes ``#N`` offsets, multiplied by the field width with 64-bit wrap-around as in C;
* BITCOUNT and BITPOS look the key up before parsing their ranges, so a missing key
  answers 0 (BITCOUNT) or -1/0 (BITPOS) even with a bad range; ranges are in bytes, or
  in bits with ``BIT``; BITPOS looking for 0 without an explicit end treats the bits
  right of the string as zeros, with an explicit end it does not;
* BITFIELD parses every operation before touching the key, then grows the string once
  to the farthest bit written; overflow handling (WRAP/SAT/FAIL) reproduces Redis's
  64-bit arithmetic exactly, including its corner cases on out-of-range SET values;
* notifications: ``setbit`` (SETBIT, BITFIELD when something changed), ``set``/``del``
  for the BITOP destination.
"""

from __future__ import annotations

from typing import Any

from ...protocol.parser import strict_int
from .. import errors
from ..args import parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1


def _as_i64(value: int) -> int:
    """``value`` reduced to a signed 64-bit integer, as C's two's complement wrap-around."""
    return ((value + (1 << 63)) & _U64) - (1 << 63)


def _bit_offset(c: Client, arg: bytes, field_bits: int = 0) -> int:
    """Redis's getBitOffsetFromArgument; ``field_bits`` > 0 enables the ``#N`` form (BITFIELD)."""
    use_hash = field_bits > 0 and arg[:1] == b"#"
    offset = strict_int(arg[1:] if use_hash else arg)
    if offset is None:
        raise CommandError(errors.BIT_OFFSET)
    if use_hash:
        offset = _as_i64(offset * field_bits)
    if offset < 0 or (offset >> 3) >= c.node.config.proto_max_bulk_len:
        raise CommandError(errors.BIT_OFFSET)
    return offset


def _read_bitmap(c: Client, key: bytes) -> bytes | None:
    """The string at ``key`` for a read command (None if missing), else WRONGTYPE."""
    value = c.db.lookup_read(key)
    if value is None or type(value) is bytes:
        return value
    raise CommandError(errors.WRONGTYPE)


def _bitmap_for_write(c: Client, key: bytes, max_bit: int) -> tuple[bytes, bool]:
    """The string at ``key`` grown with zeros so that ``max_bit`` exists; (value, grown).

    A missing key is created (empty, then grown), as Redis's lookupStringForBitCommand;
    ``grown`` says whether the stored value changed length (or was created).
    """
    db = c.db
    value = db.get(key)
    if value is None:
        value = b""
        created = True
    elif type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    else:
        created = False
    needed = (max_bit >> 3) + 1
    if len(value) < needed:
        value += b"\0" * (needed - len(value))
        db.set(key, value, keep_ttl=True)
        return value, True
    return value, created


def _first_bit(data: bytes, bit: int) -> int:
    """Redis's redisBitpos: index of the first ``bit`` in ``data``.

    Not found: -1 when looking for a 1; ``len(data) * 8`` for a 0 (the bits right of the
    data count as zeros).
    """
    if bit:
        rest = data.lstrip(b"\0")
        if not rest:
            return -1
        return (len(data) - len(rest)) * 8 + 8 - rest[0].bit_length()
    rest = data.lstrip(b"\xff")
    if not rest:
        return len(data) * 8
    return (len(data) - len(rest)) * 8 + 8 - (rest[0] ^ 0xFF).bit_length()


def _bit_range(start: int, end: int, size: int, in_bits: bool) -> tuple[int, int, int, int]:
    """Normalize a BITCOUNT/BITPOS range: (first byte, last byte, first mask, last mask).

    The masks select the bits of the edge bytes that are *outside* a BIT range.
    """
    total = size * 8 if in_bits else size
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = min(max(end, 0), total - 1)
    first_mask = last_mask = 0
    if in_bits and start <= end:
        first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
        last_mask = (1 << (7 - (end & 7))) - 1
        start >>= 3
        end >>= 3
    return start, end, first_mask, last_mask


def _range_unit(arg: bytes) -> bool:
    """True for BIT, False for BYTE; a syntax error otherwise."""
    unit = arg.upper()
    if unit == b"BIT":
        return True
    if unit == b"BYTE":
        return False
    raise CommandError(errors.SYNTAX)


# ---------------------------------------------------------------------------------------
# SETBIT / GETBIT
# ---------------------------------------------------------------------------------------


@command("setbit", 4, "write denyoom", "@bitmap", keys=[KeySpec("RW access update", index=1)],
         group="bitmap", since="2.2.0", summary="Set or clear one bit of a string, returning its old value",
         complexity="O(1) in Redis; a copy of the string here")  # fmt: skip
def setbit(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    offset = _bit_offset(c, args[2])
    on = parse_int(args[3], errors.BIT_VALUE)
    if on not in (0, 1):
        raise CommandError(errors.BIT_VALUE)
    value, grown = _bitmap_for_write(c, key, offset)
    byte_index = offset >> 3
    shift = 7 - (offset & 7)
    byte = value[byte_index]
    old = (byte >> shift) & 1
    if grown or old != on:
        byte = (byte & ~(1 << shift)) | (on << shift)
        c.db.set(key, value[:byte_index] + bytes((byte,)) + value[byte_index + 1 :], keep_ttl=True)
        c.modified(key)
        c.notify("$", "setbit", key)
    return old


@command("getbit", 3, "readonly fast", "@bitmap", keys=[KeySpec("RO access", index=1)],
         group="bitmap", since="2.2.0", summary="Return one bit of a string",
         complexity="O(1)")  # fmt: skip
def getbit(c: Client, args: list[bytes]) -> Any:
    offset = _bit_offset(c, args[2])
    value = _read_bitmap(c, args[1])
    byte_index = offset >> 3
    if value is None or byte_index >= len(value):
        return 0
    return (value[byte_index] >> (7 - (offset & 7))) & 1


# ---------------------------------------------------------------------------------------
# BITCOUNT / BITPOS
# ---------------------------------------------------------------------------------------


def _popcount(data: bytes) -> int:
    return int.from_bytes(data, "big").bit_count()


@command("bitcount", -2, "readonly", "@bitmap", keys=[KeySpec("RO access", index=1)],
         group="bitmap", since="2.6.0", summary="Count the set bits of a string, optionally in a byte or bit range",
         complexity="O(N)")  # fmt: skip
def bitcount(c: Client, args: list[bytes]) -> Any:
    value = _read_bitmap(c, args[1])
    if value is None:
        return 0
    argc = len(args)
    first_mask = last_mask = 0
    if argc in (4, 5):
        start = parse_int(args[2])
        end = parse_int(args[3])
        if start < 0 and end < 0 and start > end:
            return 0
        in_bits = _range_unit(args[4]) if argc == 5 else False
        start, end, first_mask, last_mask = _bit_range(start, end, len(value), in_bits)
    elif argc == 2:
        start, end = 0, len(value) - 1
    else:
        raise CommandError(errors.SYNTAX)
    if start > end:
        return 0
    count = _popcount(value[start : end + 1])
    # Take back the bits of the edge bytes that lie outside a BIT range.
    if first_mask:
        count -= (value[start] & first_mask).bit_count()
    if last_mask:
        count -= (value[end] & last_mask).bit_count()
    return count


@command("bitpos", -3, "readonly", "@bitmap", keys=[KeySpec("RO access", index=1)],
         group="bitmap", since="2.8.7", summary="Find the first set or clear bit of a string, optionally in a range",
         complexity="O(N)")  # fmt: skip
def bitpos(c: Client, args: list[bytes]) -> Any:
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise CommandError(errors.BITPOS_BIT)
    value = _read_bitmap(c, args[1])
    if value is None:  # an endless run of zeros
        return -1 if bit else 0
    argc = len(args)
    end_given = False
    first_mask = last_mask = 0
    if 4 <= argc <= 6:
        start = parse_int(args[3])
        in_bits = _range_unit(args[5]) if argc == 6 else False
        if argc >= 5:
            end = parse_int(args[4])
            end_given = True
        else:
            end = len(value) * 8 + 7 if in_bits else len(value) - 1
        start, end, first_mask, last_mask = _bit_range(start, end, len(value), in_bits)
    elif argc == 3:
        start, end = 0, len(value) - 1
    else:
        raise CommandError(errors.SYNTAX)
    if start > end:  # an empty range has neither a 0 nor a 1
        return -1

    # Redis's three steps: the partial first byte, the whole bytes, the partial last byte.
    remaining = end - start + 1
    position = -1
    done = False
    if first_mask:
        edge = value[start] & ~first_mask if bit else value[start] | first_mask
        if last_mask and remaining == 1:
            edge = edge & ~last_mask if bit else edge | last_mask
        position = _first_bit(bytes((edge & 0xFF,)), bit)
        done = remaining == 1 or position not in (-1, 8)
        if not done:
            start += 1
            remaining -= 1
    if not done:
        whole = remaining - (1 if last_mask else 0)
        if whole > 0:
            position = _first_bit(value[start : start + whole], bit)
            done = remaining == whole or position not in (-1, whole * 8)
            if not done:
                start += whole
                remaining -= whole
    if not done:
        edge = value[end] & ~last_mask if bit else value[end] | last_mask
        position = _first_bit(bytes((edge & 0xFF,)), bit)
    if end_given and bit == 0 and position == remaining * 8:
        return -1  # no clear bit inside an explicit range
    return position if position == -1 else position + start * 8


# ---------------------------------------------------------------------------------------
# BITOP
# ---------------------------------------------------------------------------------------

_BITOPS = (b"AND", b"OR", b"XOR", b"NOT")


@command("bitop", -4, "write denyoom", "@bitmap",
         keys=[KeySpec("OW update", index=2), KeySpec("RO access", index=3, lastkey=-1)],
         group="bitmap", since="2.6.0", summary="Store the AND, OR, XOR or NOT of strings into a key",
         complexity="O(N)")  # fmt: skip
def bitop(c: Client, args: list[bytes]) -> Any:
    op = args[1].upper()
    if op not in _BITOPS:
        raise CommandError(errors.SYNTAX)
    if op == b"NOT" and len(args) != 4:
        raise CommandError(errors.BITOP_NOT_ONE_KEY)
    sources: list[bytes] = []
    for key in args[3:]:
        value = _read_bitmap(c, key)
        sources.append(value or b"")
    size = max(len(value) for value in sources)
    target = args[2]
    db = c.db
    if size == 0:
        if db.delete(target):
            c.modified(target)
            c.notify("g", "del", target)
        return 0
    # Whole strings as big integers, shorter ones padded with zero bytes on the right.
    numbers = [int.from_bytes(value.ljust(size, b"\0"), "big") for value in sources]
    result = numbers[0]
    if op == b"NOT":
        result = ~result & ((1 << (size * 8)) - 1)
    elif op == b"AND":
        for number in numbers[1:]:
            result &= number
    elif op == b"OR":
        for number in numbers[1:]:
            result |= number
    else:
        for number in numbers[1:]:
            result ^= number
    db.set(target, result.to_bytes(size, "big"))
    c.modified(target)
    c.notify("$", "set", target)
    return size


# ---------------------------------------------------------------------------------------
# BITFIELD / BITFIELD_RO
# ---------------------------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OPCODES = {b"GET": (_GET, 2), b"SET": (_SET, 3), b"INCRBY": (_INCRBY, 3)}
_OVERFLOWS = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}


def _field_type(arg: bytes) -> tuple[bool, int]:
    """Parse ``i<bits>`` / ``u<bits>``: (signed, bits); i1..i64, u1..u63."""
    signed = arg[:1] == b"i"
    if not signed and arg[:1] != b"u":
        raise CommandError(errors.BITFIELD_TYPE)
    bits = strict_int(arg[1:])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise CommandError(errors.BITFIELD_TYPE)
    return signed, bits


def _get_field(data: bytes | bytearray, offset: int, bits: int) -> int:
    """The unsigned integer in ``bits`` bits at bit ``offset`` (zeros past the end)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    chunk = bytes(data[first : last + 1]).ljust(last - first + 1, b"\0")
    shift = (last + 1) * 8 - (offset + bits)
    return (int.from_bytes(chunk, "big") >> shift) & ((1 << bits) - 1)


def _set_field(data: bytearray, offset: int, bits: int, value: int) -> None:
    """Write the low ``bits`` bits of ``value`` at bit ``offset`` (``data`` is long enough)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    shift = (last + 1) * 8 - (offset + bits)
    mask = ((1 << bits) - 1) << shift
    chunk = int.from_bytes(data[first : last + 1], "big")
    chunk = (chunk & ~mask) | ((value << shift) & mask)
    data[first : last + 1] = chunk.to_bytes(last - first + 1, "big")


def _to_signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _unsigned_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """Redis's checkUnsignedBitfieldOverflow: (overflowed, value to store instead)."""
    top = (1 << bits) - 1
    wrapped = (value + incr) & top
    if value > top or (incr > 0 and incr > _as_i64(top - value)):
        return True, wrapped if mode == _WRAP else top
    if incr < 0 and incr < _as_i64(-value):
        return True, wrapped if mode == _WRAP else 0
    return False, 0


def _signed_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """Redis's checkSignedBitfieldOverflow, with its int64 wrap-arounds kept as they are."""
    top = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = _as_i64(top - value)
    min_incr = _as_i64(bottom - value)
    total = (value + incr) & _U64
    if bits < 64:  # sign-extend from the field's top bit, as Redis's wrap does
        total = total | (_U64 ^ ((1 << bits) - 1)) if total >> (bits - 1) & 1 else total & ((1 << bits) - 1)
    wrapped = _as_i64(total)
    if value > top or (bits != 64 and incr > max_incr) or (value >= 0 and incr > 0 and incr > max_incr):
        return True, wrapped if mode == _WRAP else top
    if value < bottom or (bits != 64 and incr < min_incr) or (value < 0 and incr < 0 and incr < min_incr):
        return True, wrapped if mode == _WRAP else bottom
    return False, 0


def _bitfield(c: Client, args: list[bytes], read_only_command: bool) -> Any:
    # Parse every operation first: (opcode, signed, bits, offset, argument, overflow mode).
    ops: list[tuple[int, bool, int, int, int, int]] = []
    overflow = _WRAP
    writes = False
    highest_write = 0
    argc = len(args)
    pos = 2
    while pos < argc:
        remaining = argc - pos - 1
        word = args[pos].upper()
        if word == b"OVERFLOW" and remaining >= 1:
            mode = _OVERFLOWS.get(args[pos + 1].upper())
            if mode is None:
                raise CommandError(errors.BITFIELD_OVERFLOW_TYPE)
            overflow = mode
            pos += 2
            continue
        opcode, needed = _OPCODES.get(word, (-1, 0))
        if opcode < 0 or remaining < needed:
            raise CommandError(errors.SYNTAX)
        signed, bits = _field_type(args[pos + 1])
        offset = _bit_offset(c, args[pos + 2], bits)
        argument = 0
        if opcode != _GET:
            writes = True
            highest_write = max(highest_write, offset + bits - 1)
            argument = parse_int(args[pos + 3])
        ops.append((opcode, signed, bits, offset, argument, overflow))
        pos += needed + 1

    key = args[1]
    if not writes:
        source = _read_bitmap(c, key) or b""
        return [
            _to_signed(_get_field(source, offset, bits), bits) if signed else _get_field(source, offset, bits)
            for _, signed, bits, offset, _, _ in ops
        ]
    if read_only_command:
        raise CommandError(errors.BITFIELD_RO_GET_ONLY)

    value, grown = _bitmap_for_write(c, key, highest_write)
    data = bytearray(value)
    replies: list[int | None] = []
    changes = 0
    for opcode, signed, bits, offset, argument, mode in ops:
        if opcode == _GET:
            field = _get_field(data, offset, bits)
            replies.append(_to_signed(field, bits) if signed else field)
            continue
        old = _get_field(data, offset, bits)
        if signed:
            old = _to_signed(old, bits)
            if opcode == _INCRBY:
                overflowed, limit = _signed_overflow(old, argument, bits, mode)
                new = limit if overflowed else old + argument
                reply = new
            else:
                overflowed, limit = _signed_overflow(argument, 0, bits, mode)
                new = limit if overflowed else argument
                reply = old
        else:
            if opcode == _INCRBY:
                overflowed, limit = _unsigned_overflow(old, argument, bits, mode)
                new = limit if overflowed else (old + argument) & _U64
                reply = new
            else:
                new = argument & _U64  # C converts the signed argument to uint64_t
                overflowed, limit = _unsigned_overflow(new, 0, bits, mode)
                if overflowed:
                    new = limit
                reply = old
        if overflowed and mode == _FAIL:
            replies.append(None)
            continue
        replies.append(reply)
        _set_field(data, offset, bits, new)
        if grown or old != new:
            changes += 1
    if changes:
        c.db.set(key, bytes(data), keep_ttl=True)
        c.modified(key, changes)
        c.notify("$", "setbit", key)
    return replies


@command("bitfield", -2, "write denyoom", "@bitmap",
         keys=[KeySpec("RW access update variable_flags", index=1, notes="This command allows both access and modification of the key")],
         group="bitmap", since="3.2.0",
         summary="Read, write and increment integer fields of any width and offset in a string",
         complexity="O(1) for each subcommand")  # fmt: skip
def bitfield(c: Client, args: list[bytes]) -> Any:
    return _bitfield(c, args, read_only_command=False)


@command("bitfield_ro", -2, "readonly fast", "@bitmap", keys=[KeySpec("RO access", index=1)],
         group="bitmap", since="6.0.0", summary="Read integer fields of a string (BITFIELD with GET only)",
         complexity="O(1) for each subcommand")  # fmt: skip
def bitfield_ro(c: Client, args: list[bytes]) -> Any:
    return _bitfield(c, args, read_only_command=True)
