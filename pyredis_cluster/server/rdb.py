"""RDB version 10 (Redis 7.0): single values (DUMP/RESTORE payloads) and whole files.

Theory of operation
-------------------
This module is sans-IO: it turns values into bytes and bytes into values, and never
touches a socket or a file. Three layers:

1. **Primitives.** RDB lengths (6/14/32/64-bit forms) and RDB strings, which may be
   raw, integer-encoded (INT8/16/32, little-endian) or LZF-compressed; binary and
   legacy ASCII doubles; CRC64 (Jones polynomial, reflected, init 0, no final xor).
2. **Blobs.** Redis stores small collections as one string holding a packed
   structure: *listpacks* (7.0's small hashes, zsets and quicklist nodes), and for
   older RDB versions *ziplists*, *zipmaps*; small integer sets are *intsets*. Each has
   a strict parser here that checks every byte it reads: header totals, terminators,
   entry encodings, listpack back-lengths, ziplist prev-lengths, element counts,
   ordering (intsets), duplicates (hash fields, set and zset members).
3. **Values and files.** :func:`encode_value` / :func:`decode_value` convert one value
   to its ``type byte + body`` form; :func:`create_dump_payload` /
   :func:`load_dump_payload` add DUMP's footer (RDB version, CRC64);
   :class:`RdbWriter` and :func:`load_rdb` handle whole RDB files (header, aux fields,
   functions, SELECTDB, RESIZEDB, expire/LRU/LFU opcodes, EOF and checksum), which
   full-sync replication ships.

What we write is what a 7.0 server writes for the same value and encoding, so that a
real server that RESTOREs our payload gets the object encoding a native write gives:
strings with 7.0's integer/LZF rules; lists as QUICKLIST_2, split into listpack nodes
the way ``quicklistPushTail`` splits them under ``list-max-listpack-size``; intset sets
as SET_INTSET, other sets as SET; listpack hashes and zsets as HASH_LISTPACK and
ZSET_LISTPACK (scores as listpack integers when integral, else ``%.17g``); big hashes
as HASH; skiplist zsets as ZSET_2 from the highest score down. A DUMP of ours is then
byte-identical to 7.0's for every value whose layout is deterministic (python-lzf is
the same liblzf as Redis's, with the same output).

What we read is everything a 7.0 server loads, except streams and modules (refused
until streams exist): STRING, LIST, SET, ZSET (ASCII scores), HASH, ZSET_2,
HASH_ZIPMAP, LIST_ZIPLIST, SET_INTSET, ZSET_ZIPLIST, HASH_ZIPLIST, LIST_QUICKLIST,
HASH_LISTPACK, ZSET_LISTPACK, LIST_QUICKLIST_2. The encoding of the loaded value
follows 7.0's ``rdbLoadObject``: e.g. a HASH becomes a hashtable only if it has too many
fields or one too long, a HASH_LISTPACK only if it has too many fields, a SET an intset
if every member is an integer and there are few enough, a ZSET/ZSET_2 a listpack if
small enough after loading.

Hostile input
~~~~~~~~~~~~~
Every malformed input raises :class:`RdbError` (RESTORE answers "Bad data format").
Reads never run past the buffer, no loop runs longer than the input is long, and no
allocation is sized by a number read from the input before the bytes behind it are
known to exist (an LZF uncompressed length is checked against the most LZF can expand
its input). Redis by default (``sanitize-dump-payload no``) only checks blob headers
and trusts the entries; we always validate deeply, as ``sanitize-dump-payload yes``
does, so a payload that 7.0 would accept with corrupt entries (duplicates, unsorted
intset, bad back-lengths, an odd number of pair entries) is refused here instead. We
also refuse zset scores that are not clean numbers (Redis would read them leniently
with ``strtod``), and NaN scores everywhere.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..protocol.parser import strict_int
from .commands.hashes import HashValue
from .commands.lists import ListValue, new_list
from .commands.sets import SetValue
from .commands.sorted_sets import ZSetValue

log = logging.getLogger("pyredis_cluster")

try:
    import crcmod
except ImportError as exc:  # pragma: no cover - a broken install, reported clearly
    raise ImportError(
        "pyredis_cluster needs 'crcmod' for the CRC64 of DUMP payloads and RDB files: pip install crcmod"
    ) from exc

try:
    import lzf as _lzf
except ImportError:  # pragma: no cover - depends on the install
    _lzf = None
    log.warning("python-lzf is not installed: RDB strings are written uncompressed and "
                "LZF strings are read by a slower pure-Python decoder (pip install python-lzf)")

#: The RDB version 7.0 writes, and the highest it reads.
RDB_VERSION = 10

#: Redis's CRC64: Jones polynomial, reflected input and output, init 0, no final xor.
#: ``crc64(data, crc)`` continues a running checksum.
crc64: Callable[..., int] = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)
if not getattr(crcmod, "_usingExtension", True):  # pragma: no cover - depends on the install
    log.warning("crcmod runs without its C extension: CRC64 of DUMP/RDB data will be slow")

# -- RDB object types (rdb.h) ----------------------------------------------------------------
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

# -- RDB file opcodes ------------------------------------------------------------------------
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248
OPCODE_FREQ = 249
OPCODE_AUX = 250
OPCODE_RESIZEDB = 251
OPCODE_EXPIRETIME_MS = 252
OPCODE_EXPIRETIME = 253
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

# Special string encodings (the low 6 bits after a 0b11 length prefix).
_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3

#: quicklist node containers in QUICKLIST_2.
_CONTAINER_PLAIN, _CONTAINER_PACKED = 1, 2
#: quicklist: elements this big get a PLAIN node of their own (packed_threshold).
_PACKED_THRESHOLD = 1 << 30
#: quicklist fill rules: node byte limits for fill -1..-5, the safety limit for
#: count-based fills, and the per-entry overhead estimate of _quicklistNodeAllowInsert.
_FILL_SIZE_LIMITS = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT = 8192
_SIZE_ESTIMATE_OVERHEAD = 8

#: Listpack and ziplist header sizes; the "unknown count" marker of their headers.
_LP_HEADER, _ZL_HEADER = 6, 10
_COUNT_UNKNOWN = 0xFFFF
#: Redis caps intset-encoded sets at 2**30 members whatever set-max-intset-entries says.
_INTSET_HARD_LIMIT = 1 << 30
#: A listpack (or the total of a zset's members) must stay under 1 GB (lpSafeToAdd).
_LISTPACK_MAX_SAFETY_SIZE = 1 << 30
#: LZF output can be at most 88 times its input (a 3-byte back-reference yields 264 bytes).
_LZF_MAX_EXPANSION = 88
#: python-lzf allocates the whole expected output up front and does not check that the
#: allocation succeeded; above this size the pure-Python decoder, whose output grows
#: only as real data is decoded, is used instead.
_LZF_C_DECODE_LIMIT = 64 << 20
#: Integral doubles within +-2**62 are stored in listpacks as integers (double2ll).
_DOUBLE2LL_LIMIT = float(2**62)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class RdbError(ValueError):
    """The bytes are not a valid RDB value or file (RESTORE answers "Bad data format")."""


@dataclass(frozen=True)
class EncodingLimits:
    """The configuration that decides object encodings and how values are written.

    Loading a value picks its encoding from these (as 7.0 does from its config on
    RESTORE and on RDB load); writing uses ``list_max_listpack_size`` to split lists
    into quicklist nodes and ``rdbcompression`` to decide on LZF.
    """

    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    list_max_listpack_size: int = -2
    rdbcompression: bool = True

    @classmethod
    def from_config(cls, config: Any) -> EncodingLimits:
        """The limits of a node's :class:`~pyredis_cluster.config.Config`."""
        get = config.get
        return cls(
            hash_max_listpack_entries=get("hash-max-listpack-entries"),
            hash_max_listpack_value=get("hash-max-listpack-value"),
            set_max_intset_entries=get("set-max-intset-entries"),
            zset_max_listpack_entries=get("zset-max-listpack-entries"),
            zset_max_listpack_value=get("zset-max-listpack-value"),
            list_max_listpack_size=get("list-max-listpack-size"),
            rdbcompression=bool(get("rdbcompression")),
        )


DEFAULT_LIMITS = EncodingLimits()


# =============================================================================================
# LZF
# =============================================================================================


def lzf_decompress(data: bytes, expected_len: int) -> bytes:
    """Decompress an LZF string that must expand to exactly ``expected_len`` bytes.

    As in Redis, an expected length of 0 gives the empty string whatever the data
    (liblzf reports 0 bytes written, which equals the expected 0).
    """
    if expected_len == 0:
        return b""
    if expected_len > len(data) * _LZF_MAX_EXPANSION:
        raise RdbError("LZF length beyond what the compressed data can expand to")
    if _lzf is not None and expected_len <= _LZF_C_DECODE_LIMIT:
        try:
            out = _lzf.decompress(data, expected_len)
        except ValueError as err:
            raise RdbError("invalid LZF data") from err
    else:
        out = lzf_decompress_python(data, expected_len)
    if out is None or len(out) != expected_len:
        raise RdbError("LZF data does not expand to the expected length")
    return out


def lzf_decompress_python(data: bytes, max_len: int) -> bytes | None:
    """A pure-Python LZF decoder (the fallback when python-lzf is missing).

    Returns the output, or None if it would exceed ``max_len``; raises RdbError on
    malformed data (a run past the input, a back-reference before the output start),
    which is what liblzf's checked decoder reports as EINVAL/E2BIG.
    """
    out = bytearray()
    pos, end = 0, len(data)
    if end == 0:
        raise RdbError("empty LZF data")
    while pos < end:
        ctrl = data[pos]
        pos += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            run = ctrl + 1
            if len(out) + run > max_len:  # liblzf checks the output room first
                return None
            if pos + run > end:
                raise RdbError("LZF literal run past the input")
            out += data[pos:pos + run]
            pos += run
            continue
        length = ctrl >> 5
        if length == 7:
            if pos >= end:
                raise RdbError("LZF back-reference past the input")
            length += data[pos]
            pos += 1
        if pos >= end:
            raise RdbError("LZF back-reference past the input")
        offset = ((ctrl & 0x1F) << 8) + data[pos] + 1
        pos += 1
        length += 2
        if len(out) + length > max_len:
            return None
        if offset > len(out):
            raise RdbError("LZF back-reference before the output start")
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping copy: repeats the last `offset` bytes
            for i in range(length):
                out.append(out[start + i])
    return bytes(out)


def _lzf_compress(data: bytes) -> bytes | None:
    """LZF as rdbSaveLzfStringObject: only if it saves at least 4 bytes.

    Redis gives liblzf an output room of ``len - 4`` bytes; liblzf's end-of-buffer
    checks are conservative, so whether a string that barely compresses is written
    compressed depends on that exact room. python-lzf passes ``max_len + 1`` to
    liblzf, hence ``len - 5`` here for the same room (and the same bytes as Redis).
    """
    if _lzf is None or len(data) <= 5:
        return None
    return _lzf.compress(data, len(data) - 5) or None


# =============================================================================================
# Reading primitives
# =============================================================================================


class _Reader:
    """A bounds-checked cursor over a buffer: every read past the end raises RdbError."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def take(self, n: int) -> bytes:
        pos = self.pos
        stop = pos + n
        if stop > self.end:
            raise RdbError("unexpected end of data")
        self.pos = stop
        return self.buf[pos:stop]

    def u8(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise RdbError("unexpected end of data")
        self.pos = pos + 1
        return self.buf[pos]

    def _length_or_encoding(self) -> tuple[int, bool]:
        """rdbLoadLen: (value, is_special_encoding)."""
        first = self.u8()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.u8(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbError("unknown length encoding")

    def length(self) -> int:
        value, special = self._length_or_encoding()
        if special:
            raise RdbError("a string encoding where a length was expected")
        return value

    def string(self) -> bytes:
        """rdbGenericLoadStringObject: raw, integer-encoded or LZF."""
        value, special = self._length_or_encoding()
        if not special:
            return self.take(value)
        if value == _ENC_INT8:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if value == _ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if value == _ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if value == _ENC_LZF:
            compressed_len = self.length()
            expanded_len = self.length()
            return lzf_decompress(self.take(compressed_len), expanded_len)
        raise RdbError("unknown string encoding")

    def binary_double(self) -> float:
        return struct.unpack("<d", self.take(8))[0]

    def ascii_double(self) -> float:
        """rdbLoadDoubleValue: a length byte (253 NaN, 254 +inf, 255 -inf) and digits."""
        n = self.u8()
        if n == 255:
            return -math.inf
        if n == 254:
            return math.inf
        if n == 253:
            return math.nan
        return _scan_double(self.take(n))


# sscanf("%lg") reads the longest numeric prefix after optional white space.
_SCANF_DOUBLE = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:inf(?:inity)?|nan|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?))",
    re.IGNORECASE,
)


def _scan_double(text: bytes) -> float:
    """The double at the start of ``text`` as ``sscanf("%lg")`` reads it (up to a NUL)."""
    match = _SCANF_DOUBLE.match(text.split(b"\0", 1)[0])
    if match is None:
        raise RdbError("not a number")
    number = match.group(1)
    if b"x" in number.lower():
        try:
            return float.fromhex(number.decode("ascii"))
        except (ValueError, OverflowError) as err:
            raise RdbError("not a number") from err
    try:
        return float(number)
    except ValueError:
        # An exponent that does not parse as a whole ("1e") leaves the mantissa alone.
        mantissa = re.match(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)", number)
        if mantissa is None:
            raise RdbError("not a number") from None
        return float(mantissa.group(0))


def _strict_score(item: bytes | int) -> float:
    """A zset score stored in a listpack/ziplist: an integer entry or a clean number."""
    if type(item) is int:
        return float(item)
    try:
        text = item.decode("ascii")  # type: ignore[union-attr]
        score = float(text)
    except (UnicodeDecodeError, ValueError):
        raise RdbError("zset score is not a number") from None
    if "_" in text or text != text.strip() or math.isnan(score):
        raise RdbError("zset score is not a number")
    return score


def _as_bytes(item: bytes | int) -> bytes:
    return b"%d" % item if type(item) is int else item  # type: ignore[return-value]


# =============================================================================================
# Blob parsers: listpack, ziplist, intset, zipmap
# =============================================================================================


def _backlen_size(n: int) -> int:
    """lpEncodeBacklen's byte count for an entry part of ``n`` bytes."""
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _encode_backlen(n: int) -> bytes:
    """The back-length of an entry part of ``n`` bytes: high 7-bit group first, every
    byte after the first flagged with bit 7, so it reads backwards from the entry end."""
    size = _backlen_size(n)
    groups = [(n >> (7 * i)) & 0x7F for i in range(size - 1, -1, -1)]
    return bytes([groups[0]] + [g | 0x80 for g in groups[1:]])


def parse_listpack(blob: bytes) -> list[bytes | int]:
    """The entries of a listpack (strings as bytes, integers as int), validated deeply."""
    size = len(blob)
    if size < _LP_HEADER + 1:
        raise RdbError("listpack too short")
    total, count = struct.unpack_from("<IH", blob)
    if total != size or blob[-1] != 0xFF:
        raise RdbError("listpack header or terminator mismatch")
    items: list[bytes | int] = []
    append = items.append
    pos, last = _LP_HEADER, size - 1
    while pos < last:
        lead = blob[pos]
        if lead < 0x80:  # 7-bit unsigned integer
            append(lead)
            part = 1
        elif lead < 0xC0:  # string of up to 63 bytes
            part = 1 + (lead & 0x3F)
            if pos + part > last:
                raise RdbError("listpack entry past the end")
            append(blob[pos + 1:pos + part])
        elif lead < 0xE0:  # 13-bit signed integer
            if pos + 2 > last:
                raise RdbError("listpack entry past the end")
            value = ((lead & 0x1F) << 8) | blob[pos + 1]
            append(value - 8192 if value >= 4096 else value)
            part = 2
        elif lead < 0xF0:  # string of up to 4095 bytes
            if pos + 2 > last:
                raise RdbError("listpack entry past the end")
            part = 2 + (((lead & 0x0F) << 8) | blob[pos + 1])
            if pos + part > last:
                raise RdbError("listpack entry past the end")
            append(blob[pos + 2:pos + part])
        elif lead == 0xF0:  # string with a 32-bit length
            if pos + 5 > last:
                raise RdbError("listpack entry past the end")
            part = 5 + int.from_bytes(blob[pos + 1:pos + 5], "little")
            if pos + part > last:
                raise RdbError("listpack entry past the end")
            append(blob[pos + 5:pos + part])
        elif lead <= 0xF4:  # 16/24/32/64-bit signed integers
            width = (2, 3, 4, 8)[lead - 0xF1]
            part = 1 + width
            if pos + part > last:
                raise RdbError("listpack entry past the end")
            append(int.from_bytes(blob[pos + 1:pos + part], "little", signed=True))
        else:
            raise RdbError("invalid listpack entry encoding")
        pos += part
        back = _backlen_size(part)
        if pos + back > last or blob[pos:pos + back] != _encode_backlen(part):
            raise RdbError("listpack back-length mismatch")
        pos += back
    if pos != last:
        raise RdbError("listpack entries overrun the terminator")
    if count != _COUNT_UNKNOWN and count != len(items):
        raise RdbError("listpack count mismatch")
    return items


def parse_ziplist(blob: bytes) -> list[bytes | int]:
    """The entries of a ziplist (RDB types before listpacks), validated deeply."""
    size = len(blob)
    if size < _ZL_HEADER + 1:
        raise RdbError("ziplist too short")
    total, tail, count = struct.unpack_from("<IIH", blob)
    if total != size or blob[-1] != 0xFF or tail > size - 1:
        raise RdbError("ziplist header or terminator mismatch")
    items: list[bytes | int] = []
    pos, last = _ZL_HEADER, size - 1
    prev_size, prev_pos = 0, -1
    while blob[pos] != 0xFF:
        start = pos
        reader = _Reader(blob, pos, last)
        prevlen = reader.u8()
        if prevlen == 254:
            prevlen = int.from_bytes(reader.take(4), "little")
        if prevlen != prev_size:
            raise RdbError("ziplist prev-length mismatch")
        encoding = reader.u8()
        kind = encoding & 0xC0
        if kind == 0x00:
            items.append(reader.take(encoding & 0x3F))
        elif kind == 0x40:
            items.append(reader.take(((encoding & 0x3F) << 8) | reader.u8()))
        elif kind == 0x80:  # Redis masks 10xxxxxx down to the 32-bit length form
            items.append(reader.take(int.from_bytes(reader.take(4), "big")))
        elif encoding == 0xC0:
            items.append(int.from_bytes(reader.take(2), "little", signed=True))
        elif encoding == 0xD0:
            items.append(int.from_bytes(reader.take(4), "little", signed=True))
        elif encoding == 0xE0:
            items.append(int.from_bytes(reader.take(8), "little", signed=True))
        elif encoding == 0xF0:
            items.append(int.from_bytes(reader.take(3), "little", signed=True))
        elif encoding == 0xFE:
            items.append(int.from_bytes(reader.take(1), "little", signed=True))
        elif 0xF1 <= encoding <= 0xFD:
            items.append((encoding & 0x0F) - 1)
        else:
            raise RdbError("invalid ziplist entry encoding")
        pos = reader.pos
        prev_size, prev_pos = pos - start, start
    if pos != last:
        raise RdbError("ziplist entries overrun the terminator")
    if prev_pos != -1 and prev_pos != tail:
        raise RdbError("ziplist tail offset mismatch")
    if count != _COUNT_UNKNOWN and count != len(items):
        raise RdbError("ziplist count mismatch")
    return items


def parse_intset(blob: bytes) -> list[int]:
    """The members of an intset: strictly ascending, of width 2, 4 or 8, never empty."""
    if len(blob) < 8:
        raise RdbError("intset too short")
    width, count = struct.unpack_from("<II", blob)
    if width not in (2, 4, 8) or 8 + count * width != len(blob) or count == 0:
        raise RdbError("intset header mismatch")
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    values = list(struct.unpack_from(f"<{count}{fmt}", blob, 8))
    if any(a >= b for a, b in zip(values, values[1:])):
        raise RdbError("intset not strictly ascending")
    return values


def parse_zipmap(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The field/value pairs of a zipmap (hashes of RDB files from Redis 2.4 and before)."""
    size = len(blob)
    if size < 2 or blob[-1] != 0xFF:
        raise RdbError("zipmap header or terminator mismatch")
    reader = _Reader(blob, 1, size - 1)

    def zipmap_length() -> int:
        first = reader.u8()
        return first if first < 254 else int.from_bytes(reader.take(4), "little")

    pairs: list[tuple[bytes, bytes]] = []
    while reader.pos < size - 1 and blob[reader.pos] != 0xFF:
        key = reader.take(zipmap_length())
        value_len = zipmap_length()
        free = reader.u8()
        value = reader.take(value_len)
        reader.take(free)
        pairs.append((key, value))
    if reader.pos != size - 1 or not pairs:
        raise RdbError("zipmap entries overrun the terminator, or empty zipmap")
    if blob[0] != 254 and blob[0] != len(pairs):
        raise RdbError("zipmap count mismatch")
    return pairs


# =============================================================================================
# Building values the way 7.0's rdbLoadObject encodes them
# =============================================================================================


def _pairs(items: Sequence[bytes | int]) -> list[tuple[bytes | int, bytes | int]]:
    if len(items) & 1:
        raise RdbError("odd number of entries in a pairs blob")
    return list(zip(items[::2], items[1::2]))


def _build_hash(pairs: Iterable[tuple[bytes, bytes]], hashtable: bool) -> HashValue:
    value = HashValue()
    for name, content in pairs:
        if name in value:
            raise RdbError("duplicate hash field")
        value[name] = content
    if not value:
        raise RdbError("empty hash")
    value.hashtable = hashtable
    return value


def _hash_with_limits(pairs: list[tuple[bytes, bytes]], limits: EncodingLimits, check_lengths: bool) -> HashValue:
    """A loaded hash: a hashtable with too many fields or, when the RDB type implies the
    check (HASH, ZIPMAP), a field or value longer than hash-max-listpack-value."""
    hashtable = len(pairs) > limits.hash_max_listpack_entries
    if not hashtable and check_lengths:
        limit = limits.hash_max_listpack_value
        hashtable = any(len(f) > limit or len(v) > limit for f, v in pairs)
    return _build_hash(pairs, hashtable)


def _build_set(members: Iterable[bytes], intset: bool) -> SetValue:
    unique: set[bytes] = set()
    for member in members:
        if member in unique:
            raise RdbError("duplicate set member")
        unique.add(member)
    if not unique:
        raise RdbError("empty set")
    return SetValue(unique, intset)


def _build_zset(entries: Iterable[tuple[bytes, float]], listpack: bool) -> ZSetValue:
    value = ZSetValue(listpack)
    for member, score in entries:
        if math.isnan(score):
            raise RdbError("NaN zset score")
        if member in value.scores:
            raise RdbError("duplicate zset member")
        value.insert(member, score)
    if not value.scores:
        raise RdbError("empty zset")
    return value


def _zset_from_pairs_blob(items: list[bytes | int], limits: EncodingLimits) -> ZSetValue:
    entries = [(_as_bytes(m), _strict_score(s)) for m, s in _pairs(items)]
    return _build_zset(entries, len(entries) <= limits.zset_max_listpack_entries)


def _list_from_elements(elements: list[bytes]) -> ListValue:
    if not elements:
        raise RdbError("empty list")
    return new_list(elements)


def _load_plain_set(reader: _Reader, limits: EncodingLimits) -> SetValue:
    count = reader.length()
    members = [reader.string() for _ in _counted(count)]
    intset = len(members) <= min(limits.set_max_intset_entries, _INTSET_HARD_LIMIT) and all(
        strict_int(m) is not None for m in members
    )
    return _build_set(members, intset)


def _load_zset(reader: _Reader, limits: EncodingLimits, binary_scores: bool) -> ZSetValue:
    count = reader.length()
    read_score = reader.binary_double if binary_scores else reader.ascii_double
    entries = []
    for _ in _counted(count):
        member = reader.string()
        entries.append((member, read_score()))
    longest = max((len(m) for m, _ in entries), default=0)
    total = sum(len(m) for m, _ in entries)
    listpack = (
        len(entries) <= limits.zset_max_listpack_entries
        and longest <= limits.zset_max_listpack_value
        and total < _LISTPACK_MAX_SAFETY_SIZE
    )
    return _build_zset(entries, listpack)


def _load_plain_hash(reader: _Reader, limits: EncodingLimits) -> HashValue:
    count = reader.length()
    pairs = []
    for _ in _counted(count):
        name = reader.string()
        pairs.append((name, reader.string()))
    return _hash_with_limits(pairs, limits, check_lengths=True)


def _load_quicklist(reader: _Reader, version2: bool) -> ListValue:
    elements: list[bytes] = []
    for _ in _counted(reader.length()):
        container = reader.length() if version2 else _CONTAINER_PACKED
        if container not in (_CONTAINER_PACKED, _CONTAINER_PLAIN):
            raise RdbError("unknown quicklist container")
        node = reader.string()
        if not node:
            raise RdbError("empty quicklist node")
        if container == _CONTAINER_PLAIN:
            elements.append(node)
        else:
            entries = parse_listpack(node) if version2 else parse_ziplist(node)
            elements.extend(map(_as_bytes, entries))  # empty nodes are skipped, as in Redis
    return _list_from_elements(elements)


def _counted(count: int) -> range:
    """A loop over ``count`` elements read from the input. Every element consumes at
    least one input byte, so a hostile count ends at the first failed read; the range
    object itself costs nothing whatever its size."""
    return range(count)


def _load_body(object_type: int, reader: _Reader, limits: EncodingLimits) -> Any:
    """rdbLoadObject: the value of one object of ``object_type`` at the reader."""
    if object_type == TYPE_STRING:
        return reader.string()
    if object_type == TYPE_LIST:
        return _list_from_elements([reader.string() for _ in _counted(reader.length())])
    if object_type == TYPE_SET:
        return _load_plain_set(reader, limits)
    if object_type in (TYPE_ZSET, TYPE_ZSET_2):
        return _load_zset(reader, limits, binary_scores=object_type == TYPE_ZSET_2)
    if object_type == TYPE_HASH:
        return _load_plain_hash(reader, limits)
    if object_type in (TYPE_LIST_QUICKLIST, TYPE_LIST_QUICKLIST_2):
        return _load_quicklist(reader, version2=object_type == TYPE_LIST_QUICKLIST_2)
    if object_type in _BLOB_TYPES:
        return _BLOB_TYPES[object_type](reader.string(), limits)
    raise RdbError(f"unsupported RDB object type {object_type}")


def _intset_value(blob: bytes, limits: EncodingLimits) -> SetValue:
    members = parse_intset(blob)
    return SetValue({b"%d" % m for m in members}, len(members) <= limits.set_max_intset_entries)


def _ziplist_list(blob: bytes, limits: EncodingLimits) -> ListValue:
    return _list_from_elements([_as_bytes(e) for e in parse_ziplist(blob)])


def _pairs_hash(parse: Callable[[bytes], list[bytes | int]]) -> Callable[[bytes, EncodingLimits], HashValue]:
    def load(blob: bytes, limits: EncodingLimits) -> HashValue:
        pairs = [(_as_bytes(f), _as_bytes(v)) for f, v in _pairs(parse(blob))]
        return _hash_with_limits(pairs, limits, check_lengths=False)

    return load


def _pairs_zset(parse: Callable[[bytes], list[bytes | int]]) -> Callable[[bytes, EncodingLimits], ZSetValue]:
    return lambda blob, limits: _zset_from_pairs_blob(parse(blob), limits)


def _zipmap_hash(blob: bytes, limits: EncodingLimits) -> HashValue:
    return _hash_with_limits(parse_zipmap(blob), limits, check_lengths=True)


#: Object types whose body is one string holding a packed blob, and their loaders.
_BLOB_TYPES: dict[int, Callable[[bytes, EncodingLimits], Any]] = {
    TYPE_HASH_ZIPMAP: _zipmap_hash,
    TYPE_LIST_ZIPLIST: _ziplist_list,
    TYPE_SET_INTSET: _intset_value,
    TYPE_ZSET_ZIPLIST: _pairs_zset(parse_ziplist),
    TYPE_HASH_ZIPLIST: _pairs_hash(parse_ziplist),
    TYPE_HASH_LISTPACK: _pairs_hash(parse_listpack),
    TYPE_ZSET_LISTPACK: _pairs_zset(parse_listpack),
}


# =============================================================================================
# Writing primitives
# =============================================================================================


def encode_length(n: int) -> bytes:
    """rdbSaveLen: the shortest of the 6-bit, 14-bit, 32-bit and 64-bit forms."""
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(data: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString: integer form for a short canonical int32, LZF for a string
    over 20 bytes that compresses by at least 4 bytes, raw otherwise."""
    n = len(data)
    if 0 < n <= 11:
        value = strict_int(data)
        if value is not None:
            if -128 <= value <= 127:
                return b"\xc0" + value.to_bytes(1, "little", signed=True)
            if -32768 <= value <= 32767:
                return b"\xc1" + value.to_bytes(2, "little", signed=True)
            if -(2**31) <= value < 2**31:
                return b"\xc2" + value.to_bytes(4, "little", signed=True)
    if compress and n > 20:
        packed = _lzf_compress(data)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + data


def _lp_entry(item: bytes | int) -> bytes:
    """One listpack entry (lpAppend): integers in the smallest integer encoding,
    canonical integer strings too, other strings with a 6/12/32-bit length."""
    value = item if type(item) is int else strict_int(item)  # type: ignore[arg-type]
    if value is not None:
        if 0 <= value <= 127:
            part = bytes((value,))
        elif -4096 <= value <= 4095:
            value &= 0x1FFF
            part = bytes((0xC0 | (value >> 8), value & 0xFF))
        elif -32768 <= value <= 32767:
            part = b"\xf1" + value.to_bytes(2, "little", signed=True)
        elif -8388608 <= value <= 8388607:
            part = b"\xf2" + value.to_bytes(3, "little", signed=True)
        elif -(2**31) <= value < 2**31:
            part = b"\xf3" + value.to_bytes(4, "little", signed=True)
        else:
            part = b"\xf4" + value.to_bytes(8, "little", signed=True)
    else:
        n = len(item)  # type: ignore[arg-type]
        if n < 64:
            part = bytes((0x80 | n,)) + item  # type: ignore[operator]
        elif n < 4096:
            part = bytes((0xE0 | (n >> 8), n & 0xFF)) + item  # type: ignore[operator]
        else:
            part = b"\xf0" + n.to_bytes(4, "little") + item  # type: ignore[operator]
    return part + _encode_backlen(len(part))


def _assemble_listpack(entries: Sequence[bytes]) -> bytes:
    """A listpack from encoded entries: header (total bytes, count), entries, 0xFF."""
    body = b"".join(entries)
    count = min(len(entries), _COUNT_UNKNOWN)
    return struct.pack("<IH", _LP_HEADER + len(body) + 1, count) + body + b"\xff"


def build_listpack(items: Iterable[bytes | int]) -> bytes:
    """A listpack holding ``items`` as lpAppend would store them."""
    return _assemble_listpack([_lp_entry(item) for item in items])


def build_intset(values: Iterable[int]) -> bytes:
    """An intset: the narrowest width holding every value, values ascending."""
    ordered = sorted(values)
    low, high = (ordered[0], ordered[-1]) if ordered else (0, 0)
    if low >= -32768 and high <= 32767:
        width, fmt = 2, "h"
    elif low >= -(2**31) and high < 2**31:
        width, fmt = 4, "i"
    else:
        width, fmt = 8, "q"
    return struct.pack(f"<II{len(ordered)}{fmt}", width, len(ordered), *ordered)


def _score_item(score: float) -> bytes | int:
    """A zset score as zzlInsertAt stores it: an integer when double2ll allows, else d2string."""
    if -_DOUBLE2LL_LIMIT <= score <= _DOUBLE2LL_LIMIT and score == int(score):
        return int(score)
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def _quicklist_nodes(elements: Iterable[bytes], fill: int) -> list[tuple[int, bytes]]:
    """Split a list into quicklist nodes as quicklistPushTail does, element by element:
    (container, blob) pairs, a listpack blob for PACKED nodes, the element for PLAIN."""
    nodes: list[tuple[int, bytes]] = []
    entries: list[bytes] = []
    node_size = 0  # bytes of the current node's listpack; 0 when there is none
    size_limit = _FILL_SIZE_LIMITS[-fill - 1] if -len(_FILL_SIZE_LIMITS) <= fill < 0 else None

    def flush() -> None:
        if entries:
            nodes.append((_CONTAINER_PACKED, _assemble_listpack(entries)))
            entries.clear()

    for element in elements:
        n = len(element)
        if n >= _PACKED_THRESHOLD:
            flush()
            node_size = 0
            nodes.append((_CONTAINER_PLAIN, element))
            continue
        if node_size:
            new_size = node_size + n + _SIZE_ESTIMATE_OVERHEAD
            if size_limit is not None:
                allowed = new_size <= size_limit
            else:
                allowed = new_size <= _SIZE_SAFETY_LIMIT and len(entries) < fill
            if not allowed:
                flush()
                node_size = 0
        entry = _lp_entry(element)
        entries.append(entry)
        node_size = (node_size or _LP_HEADER + 1) + len(entry)
    flush()
    return nodes


# =============================================================================================
# Single values
# =============================================================================================


def encode_value(value: Any, limits: EncodingLimits = DEFAULT_LIMITS) -> bytes:
    """One value as RDB's ``type byte + body``, as a 7.0 server writes it."""
    compress = limits.rdbcompression

    def strings(items: Iterable[bytes]) -> bytes:
        return b"".join(encode_string(item, compress) for item in items)

    kind = type(value)
    if kind is bytes:
        return bytes((TYPE_STRING,)) + encode_string(value, compress)
    if kind is ListValue:
        nodes = _quicklist_nodes(value, limits.list_max_listpack_size)
        body = [encode_length(len(nodes))]
        for container, blob in nodes:
            body.append(encode_length(container))
            body.append(encode_string(blob, compress))
        return bytes((TYPE_LIST_QUICKLIST_2,)) + b"".join(body)
    if kind is HashValue:
        if not value.hashtable:
            items = [item for pair in value.items() for item in pair]
            return bytes((TYPE_HASH_LISTPACK,)) + encode_string(build_listpack(items), compress)
        return bytes((TYPE_HASH,)) + encode_length(len(value)) + strings(x for pair in value.items() for x in pair)
    if kind is SetValue:
        if value.intset:
            blob = build_intset(int(member) for member in value.members)
            return bytes((TYPE_SET_INTSET,)) + encode_string(blob, compress)
        return bytes((TYPE_SET,)) + encode_length(len(value)) + strings(value.members)
    if kind is ZSetValue:
        if value.listpack:
            items: list[bytes | int] = []
            for score, member in value.order:
                items.append(member)
                items.append(_score_item(score))
            return bytes((TYPE_ZSET_LISTPACK,)) + encode_string(build_listpack(items), compress)
        body = [encode_length(len(value))]
        for score, member in reversed(value.order):  # Redis walks its skiplist from the tail
            body.append(encode_string(member, compress))
            body.append(struct.pack("<d", score))
        return bytes((TYPE_ZSET_2,)) + b"".join(body)
    raise TypeError(f"cannot serialize a value of type {kind.__name__}")


def decode_value(data: bytes, limits: EncodingLimits = DEFAULT_LIMITS) -> tuple[Any, int]:
    """The value encoded at the start of ``data`` (``type byte + body``) and the number
    of bytes it took; RdbError if it is malformed or of a type we do not load."""
    reader = _Reader(data)
    value = _load_body(reader.u8(), reader, limits)
    return value, reader.pos


def seal_dump_payload(body: bytes) -> bytes:
    """``body`` followed by the RDB version (2 bytes LE) and the CRC64 (8 bytes LE).

    The footer of DUMP payloads, and of FUNCTION DUMP's payloads too.
    """
    sealed = body + RDB_VERSION.to_bytes(2, "little")
    return sealed + crc64(sealed).to_bytes(8, "little")


def create_dump_payload(value: Any, limits: EncodingLimits = DEFAULT_LIMITS) -> bytes:
    """DUMP's payload: the encoded value, sealed with the version and CRC64 footer."""
    return seal_dump_payload(encode_value(value, limits))


def verify_dump_payload(payload: bytes, check_crc: bool = True) -> bool:
    """True if the footer's RDB version is at most ours and (unless skipped) the CRC64 matches."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return not check_crc or crc64(payload[:-8]).to_bytes(8, "little") == payload[-8:]


def load_dump_payload(payload: bytes, limits: EncodingLimits = DEFAULT_LIMITS) -> Any:
    """The value of a verified DUMP payload (bytes after the object are ignored, as in
    Redis); RdbError if the object is malformed."""
    value, _ = decode_value(payload[:-10], limits)
    return value


# =============================================================================================
# Whole RDB files
# =============================================================================================


@dataclass
class RdbEntry:
    """One key of an RDB file, with what the file says about it."""

    db: int
    key: bytes
    value: Any
    #: absolute expiry time in unix ms, or None
    expire_ms: int | None = None
    #: OBJECT IDLETIME in seconds at save time (written under an LRU maxmemory policy)
    idle_s: int | None = None
    #: LFU counter (written under an LFU maxmemory policy)
    freq: int | None = None


@dataclass
class RdbFile:
    """A parsed RDB file."""

    version: int
    #: aux fields in file order: redis-ver, redis-bits, ctime, used-mem, repl-id...
    aux: dict[bytes, bytes] = field(default_factory=dict)
    #: FUNCTION2 records: the source code of each function library
    functions: list[bytes] = field(default_factory=list)
    #: RESIZEDB hints per db: (keys, keys with an expiry)
    db_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    entries: list[RdbEntry] = field(default_factory=list)


def iter_rdb(data: bytes, limits: EncodingLimits = DEFAULT_LIMITS,
             verify_checksum: bool = True) -> Iterator[tuple[str, Any]]:  # fmt: skip
    """Walk an RDB file, yielding ``(kind, payload)`` records in file order:

    * ``("version", int)`` first;
    * ``("aux", (name, value))``, ``("function", code)``,
      ``("resizedb", (db, keys, expires))``;
    * ``("key", RdbEntry)`` for each key;
    * ``("eof", None)`` last, after the checksum was checked (a zero checksum, written
      with ``rdbchecksum no``, is not checked, as in Redis).

    Bytes after the checksum are ignored. RdbError on anything malformed, including a
    key present twice in one database.
    """
    if len(data) < 9 or data[:5] != b"REDIS" or not data[5:9].isdigit():
        raise RdbError("not an RDB file (bad magic)")
    version = int(data[5:9])
    if not 1 <= version <= RDB_VERSION:
        raise RdbError(f"unsupported RDB version {version}")
    yield "version", version
    reader = _Reader(data, 9)
    db = 0
    seen: set[bytes] = set()
    expire_ms = idle_s = freq = None
    while True:
        opcode = reader.u8()
        if opcode == OPCODE_EXPIRETIME_MS:
            expire_ms = int.from_bytes(reader.take(8), "little", signed=True)
        elif opcode == OPCODE_EXPIRETIME:
            expire_ms = int.from_bytes(reader.take(4), "little", signed=True) * 1000
        elif opcode == OPCODE_IDLE:
            idle_s = reader.length()
        elif opcode == OPCODE_FREQ:
            freq = reader.u8()
        elif opcode == OPCODE_SELECTDB:
            db = reader.length()
            seen = set()
        elif opcode == OPCODE_RESIZEDB:
            keys = reader.length()
            yield "resizedb", (db, keys, reader.length())
        elif opcode == OPCODE_AUX:
            name = reader.string()
            yield "aux", (name, reader.string())
        elif opcode == OPCODE_FUNCTION2:
            yield "function", reader.string()
        elif opcode == OPCODE_EOF:
            break
        elif opcode in (OPCODE_MODULE_AUX, OPCODE_FUNCTION_PRE_GA):
            raise RdbError("module data and pre-release functions are not supported")
        else:
            key = reader.string()
            value = _load_body(opcode, reader, limits)
            if key in seen:
                raise RdbError("duplicate key in the RDB file")
            seen.add(key)
            yield "key", RdbEntry(db, key, value, expire_ms, idle_s, freq)
            expire_ms = idle_s = freq = None
    if version >= 5:
        checksum_at = reader.pos
        stored = int.from_bytes(reader.take(8), "little")
        if verify_checksum and stored and stored != crc64(data[:checksum_at]):
            raise RdbError("RDB checksum mismatch")
    yield "eof", None


def load_rdb(data: bytes, limits: EncodingLimits = DEFAULT_LIMITS, verify_checksum: bool = True) -> RdbFile:
    """Parse a whole RDB file (the payload of a full sync) into an :class:`RdbFile`."""
    rdb = RdbFile(version=0)
    for kind, payload in iter_rdb(data, limits, verify_checksum):
        if kind == "key":
            rdb.entries.append(payload)
        elif kind == "aux":
            rdb.aux[payload[0]] = payload[1]
        elif kind == "function":
            rdb.functions.append(payload)
        elif kind == "resizedb":
            rdb.db_sizes[payload[0]] = (payload[1], payload[2])
        elif kind == "version":
            rdb.version = payload
    return rdb


class RdbWriter:
    """Build an RDB file as 7.0's rdbSaveRio lays it out::

        writer = RdbWriter(limits)
        writer.aux(b"redis-ver", b"7.0.15")        # as many as wanted, first
        writer.function(library_code)             # FUNCTION2 records
        writer.select_db(0, keys=2, expires=1)    # then per non-empty db
        writer.key(b"k", b"v", expire_ms=...)     # its keys
        data = writer.finish()                    # EOF + CRC64
    """

    def __init__(self, limits: EncodingLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._chunks: list[bytes] = [b"REDIS%04d" % RDB_VERSION]

    def aux(self, name: bytes, value: bytes) -> None:
        compress = self.limits.rdbcompression
        self._chunks.append(bytes((OPCODE_AUX,)) + encode_string(name, compress) + encode_string(value, compress))

    def function(self, code: bytes) -> None:
        self._chunks.append(bytes((OPCODE_FUNCTION2,)) + encode_string(code, self.limits.rdbcompression))

    def select_db(self, index: int, keys: int, expires: int) -> None:
        self._chunks.append(
            bytes((OPCODE_SELECTDB,)) + encode_length(index)
            + bytes((OPCODE_RESIZEDB,)) + encode_length(keys) + encode_length(expires)
        )  # fmt: skip

    def key(self, key: bytes, value: Any, expire_ms: int | None = None,
            idle_s: int | None = None, freq: int | None = None) -> None:  # fmt: skip
        chunks = self._chunks
        if expire_ms is not None:
            chunks.append(bytes((OPCODE_EXPIRETIME_MS,)) + expire_ms.to_bytes(8, "little", signed=True))
        if idle_s is not None:
            chunks.append(bytes((OPCODE_IDLE,)) + encode_length(idle_s))
        if freq is not None:
            chunks.append(bytes((OPCODE_FREQ, freq)))
        encoded = encode_value(value, self.limits)
        chunks.append(encoded[:1] + encode_string(key, self.limits.rdbcompression) + encoded[1:])

    def finish(self, checksum: bool = True) -> bytes:
        """The file: everything written, EOF, and the CRC64 (0 when ``checksum`` is off)."""
        data = b"".join(self._chunks) + bytes((OPCODE_EOF,))
        return data + (crc64(data) if checksum else 0).to_bytes(8, "little")


def standard_aux(redis_version: str, ctime_s: int, used_mem: int, *, repl_stream_db: int | None = None,
                 repl_id: str | None = None, repl_offset: int | None = None,
                 aof_base: bool = False) -> list[tuple[bytes, bytes]]:  # fmt: skip
    """The aux fields 7.0 writes at the top of an RDB file, in its order (the three
    replication fields only for a file made for replication)."""
    fields = [(b"redis-ver", redis_version.encode()), (b"redis-bits", b"64"),
              (b"ctime", b"%d" % ctime_s), (b"used-mem", b"%d" % used_mem)]  # fmt: skip
    if repl_id is not None:
        fields += [(b"repl-stream-db", b"%d" % (repl_stream_db or 0)), (b"repl-id", repl_id.encode()),
                   (b"repl-offset", b"%d" % (repl_offset or 0))]  # fmt: skip
    fields.append((b"aof-base", b"1" if aof_base else b"0"))
    return fields


def save_databases(databases: Iterable[Any], aux: Sequence[tuple[bytes, bytes]] = (),
                   limits: EncodingLimits = DEFAULT_LIMITS, functions: Sequence[bytes] = ()) -> bytes:  # fmt: skip
    """An RDB file of every non-empty :class:`~.keyspace.Database` given (its ``index``,
    ``data`` and ``expires``), after the aux fields and function libraries."""
    writer = RdbWriter(limits)
    for name, value in aux:
        writer.aux(name, value)
    for code in functions:
        writer.function(code)
    for db in databases:
        if not db.data:
            continue
        expires = db.expires
        writer.select_db(db.index, len(db.data), len(expires))
        for key, value in db.data.items():
            writer.key(key, value, expires.get(key))
    return writer.finish()
