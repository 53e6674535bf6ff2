"""String commands: GET/SET and friends, counters, ranges, APPEND, LCS (Redis 7.0).

Theory of operation
-------------------
A string value is stored as plain ``bytes`` in the :class:`~..keyspace.Database`.
Redis keeps small integers in an ``int`` encoding and others as ``embstr``/``raw``;
clients only see that through OBJECT ENCODING, which asks :func:`string_encoding`.
We do not keep a per-key encoding: :func:`string_encoding` derives it from the bytes
with Redis's ``tryObjectEncoding`` rule (a canonical integer of at most 20 characters
is ``int``, up to 44 bytes is ``embstr``, longer is ``raw``). Redis reports ``raw``
for short values produced by APPEND/SETRANGE/SETBIT/BITOP/BITFIELD and ``embstr`` for
an integer-looking INCRBYFLOAT result; we report what the rule gives (a documented gap:
it only shows in OBJECT ENCODING, never in a value).

The semantics follow Redis 7.0's ``t_string.c``, including its order of checks, which
clients observe when several things are wrong at once:

* SET parses all options first (syntax errors, then the expire value: not an integer,
  then "invalid expire time"), then with GET reads the old value (WRONGTYPE), then
  applies NX/XX. GETEX looks the key up *before* validating its expire value, so a
  missing key answers nil even with a bad expire. Options may repeat (``EX 1 EX 2``);
  only conflicting ones are refused, exactly as Redis's flag checks do.
* Overwriting commands (SET, GETSET, MSET...) drop the TTL; modifying ones (INCR*,
  APPEND, SETRANGE) keep it, as Redis's ``dbOverwrite``/in-place edits do.
* INCRBYFLOAT computes in x87 80-bit ``long double`` and prints with ``%.17Lf`` minus
  trailing zeros, like Redis on x86-64 Linux. We emulate that exactly with integers
  (see :func:`long_double_add`), so results are byte-identical (``10.5 + 0.1`` is
  ``10.6``, ``3.0e3`` gives ``3000``).
* LCS uses Redis's dynamic-programming table semantics (including its exact way of
  walking the table back and of emitting IDX ranges), but the table rows are computed
  bit-parallel (Hyyrö's bit-vector LCS): row ``i`` is one integer whose zero bits
  mark where ``LCS(i, j)`` grows, so ``LCS(i, j)`` is a popcount of a prefix.

Keyspace events use Redis's names: ``set``, ``expire`` (SET/SETEX with a TTL, GETEX),
``persist``, ``del`` (GETDEL, GETEX with a past EXAT/PXAT), ``incrby`` (INCR, DECR,
INCRBY, DECRBY), ``incrbyfloat``, ``append``, ``setrange``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from ...protocol.encoder import OK, Map
from ...protocol.parser import strict_int
from .. import errors
from ..args import LONG_MAX, LONG_MIN, parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError

# ---------------------------------------------------------------------------------------
# Helpers shared with other modules
# ---------------------------------------------------------------------------------------


def string_encoding(value: bytes) -> str:
    """OBJECT ENCODING of a string value: 'int', 'embstr' or 'raw' (Redis's rule)."""
    size = len(value)
    if size <= 20 and strict_int(value) is not None:
        return "int"
    return "embstr" if size <= 44 else "raw"


def _wrong_type() -> CommandError:
    return CommandError(errors.WRONGTYPE)


def _check_length(c: Client, size: int, extra: int) -> None:
    """Refuse a string that would grow past proto-max-bulk-len (Redis's checkStringLength)."""
    if size + extra > c.node.config.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


# ---------------------------------------------------------------------------------------
# GET / SET family
# ---------------------------------------------------------------------------------------

# SET/GETEX option flags, as Redis's OBJ_* bits.
_NX, _XX, _GET, _KEEPTTL, _PERSIST, _EX, _PX, _EXAT, _PXAT = (1 << bit for bit in range(9))
_EXPIRES = _EX | _PX | _EXAT | _PXAT
_IN_SECONDS = _EX | _EXAT
_RELATIVE = _EX | _PX

# option word -> (its flag, flags that must not be set before it, takes a value)
_EXPIRE_OPTIONS = {
    b"EX": (_EX, _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT, True),
    b"PX": (_PX, _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT, True),
    b"EXAT": (_EXAT, _KEEPTTL | _PERSIST | _EX | _PX | _PXAT, True),
    b"PXAT": (_PXAT, _KEEPTTL | _PERSIST | _EX | _EXAT | _PX, True),
}
_SET_OPTIONS = {
    b"NX": (_NX, _XX, False),
    b"XX": (_XX, _NX, False),
    b"GET": (_GET, 0, False),
    b"KEEPTTL": (_KEEPTTL, _PERSIST | _EXPIRES, False),
    **_EXPIRE_OPTIONS,
}
_GETEX_OPTIONS = {
    b"PERSIST": (_PERSIST, _EXPIRES | _KEEPTTL, False),
    **_EXPIRE_OPTIONS,
}


def _parse_options(args: list[bytes], start: int, table: dict[bytes, tuple[int, int, bool]]) -> tuple[int, bytes | None]:
    """Redis's parseExtendedStringArgumentsOrReply: (flags, expire argument or None)."""
    flags = 0
    expire = None
    j = start
    argc = len(args)
    while j < argc:
        # Redis compares C strings, so anything after a NUL byte is ignored.
        word = args[j].partition(b"\0")[0].upper()
        option = table.get(word)
        if option is None:
            raise CommandError(errors.SYNTAX)
        flag, conflicts, takes_value = option
        if flags & conflicts or (takes_value and j == argc - 1):
            raise CommandError(errors.SYNTAX)
        flags |= flag
        if takes_value:
            j += 1
            expire = args[j]
        j += 1
    return flags, expire


def _expire_at_ms(c: Client, arg: bytes, flags: int, name: str) -> int:
    """The absolute expiry (unix ms) an EX/PX/EXAT/PXAT argument asks for, checked as Redis does."""
    when = parse_int(arg)
    seconds = flags & _IN_SECONDS
    if when <= 0 or (seconds and when > LONG_MAX // 1000):
        raise CommandError(errors.EXPIRE_INVALID.format(name))
    if seconds:
        when *= 1000
    if flags & _RELATIVE:
        when += c.node.keyspace.now_ms
    if when > LONG_MAX:  # Redis's signed addition wraps to a negative time here
        raise CommandError(errors.EXPIRE_INVALID.format(name))
    return when


def _set_generic(
    c: Client, key: bytes, value: bytes, flags: int, expire: bytes | None, name: str,
    ok_reply: Any = OK, abort_reply: Any = None,
) -> Any:  # fmt: skip
    """Redis's setGenericCommand: SET with options, SETNX, SETEX, PSETEX."""
    when = _expire_at_ms(c, expire, flags, name) if expire is not None else None
    db = c.db
    if flags & _GET:
        old = db.lookup_read(key)
        if old is not None and type(old) is not bytes:
            raise _wrong_type()
        found = old is not None
    else:
        found = db.get(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    c.modified(key)
    c.notify("$", "set", key)
    if when is not None:
        db.set_expire(key, when)
        c.notify("g", "expire", key)
    return old if flags & _GET else ok_reply


@command("get", 2, "readonly fast", "@string", keys=[KeySpec("RO access", index=1)],
         group="string", since="1.0.0", summary="Return the string stored at a key",
         complexity="O(1)")  # fmt: skip
def get(c: Client, args: list[bytes]) -> Any:
    value = c.db.lookup_read(args[1])
    if value is None or type(value) is bytes:
        return value
    raise _wrong_type()


@command("set", -3, "write denyoom", "@string",
         keys=[KeySpec("RW access update variable_flags", index=1, notes="RW and ACCESS due to the optional `GET` argument")],
         group="string", since="1.0.0",
         summary="Store a string under a key, with optional conditions, TTL and old-value reply",
         complexity="O(1)")  # fmt: skip
def set_(c: Client, args: list[bytes]) -> Any:
    if len(args) == 3:  # the benchmarked common case: no option parsing at all
        key = args[1]
        c.db.set(key, args[2])
        c.modified(key)
        c.notify("$", "set", key)
        return OK
    flags, expire = _parse_options(args, 3, _SET_OPTIONS)
    return _set_generic(c, args[1], args[2], flags, expire, "set")


@command("setnx", 3, "write denyoom fast", "@string", keys=[KeySpec("OW insert", index=1)],
         group="string", since="1.0.0", summary="Store a string only if the key does not exist yet",
         complexity="O(1)")  # fmt: skip
def setnx(c: Client, args: list[bytes]) -> Any:
    return _set_generic(c, args[1], args[2], _NX, None, "setnx", 1, 0)


@command("setex", 4, "write denyoom", "@string", keys=[KeySpec("OW update", index=1)],
         group="string", since="2.0.0", summary="Store a string with a TTL in seconds",
         complexity="O(1)")  # fmt: skip
def setex(c: Client, args: list[bytes]) -> Any:
    return _set_generic(c, args[1], args[3], _EX, args[2], "setex")


@command("psetex", 4, "write denyoom", "@string", keys=[KeySpec("OW update", index=1)],
         group="string", since="2.6.0", summary="Store a string with a TTL in milliseconds",
         complexity="O(1)")  # fmt: skip
def psetex(c: Client, args: list[bytes]) -> Any:
    return _set_generic(c, args[1], args[3], _PX, args[2], "psetex")


def _read_string(c: Client, key: bytes) -> bytes | None:
    """Redis's getGenericCommand: the string at ``key`` (None if missing), else WRONGTYPE."""
    value = c.db.lookup_read(key)
    if value is None or type(value) is bytes:
        return value
    raise _wrong_type()


@command("getset", 3, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="1.0.0", summary="Store a string and return the one it replaces",
         complexity="O(1)")  # fmt: skip
def getset(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    old = _read_string(c, key)
    c.db.set(key, args[2])
    c.modified(key)
    c.notify("$", "set", key)
    return old


@command("getex", -2, "write fast", "@string",
         keys=[KeySpec("RW access update", index=1, notes="RW and UPDATE because it changes the TTL")],
         group="string", since="6.2.0", summary="Return a string and optionally change or remove its TTL",
         complexity="O(1)")  # fmt: skip
def getex(c: Client, args: list[bytes]) -> Any:
    flags, expire = _parse_options(args, 2, _GETEX_OPTIONS)
    key = args[1]
    value = _read_string(c, key)
    if value is None:
        return None
    db = c.db
    if expire is not None:
        when = _expire_at_ms(c, expire, flags, "getex")
        keyspace = db.keyspace
        if flags & (_EXAT | _PXAT) and when <= keyspace.now_ms and not keyspace.is_replica:
            # An absolute time already in the past deletes the key at once.
            db.delete(key)
            c.modified(key)
            c.notify("g", "del", key)
        else:
            db.set_expire(key, when)
            c.modified(key)
            c.notify("g", "expire", key)
    elif flags & _PERSIST and db.remove_expire(key):
        c.modified(key)
        c.notify("g", "persist", key)
    return value


@command("getdel", 2, "write fast", "@string", keys=[KeySpec("RW access delete", index=1)],
         group="string", since="6.2.0", summary="Return a string and delete its key",
         complexity="O(1)")  # fmt: skip
def getdel(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    value = _read_string(c, key)
    if value is not None and c.db.delete(key):
        c.modified(key)
        c.notify("g", "del", key)
    return value


@command("mget", -2, "readonly fast", "@string", keys=[KeySpec("RO access", index=1, lastkey=-1)],
         group="string", since="1.0.0", tips="request_policy:multi_shard",
         summary="Return the strings of several keys (nil for missing or non-string keys)",
         complexity="O(N) where N is the number of keys")  # fmt: skip
def mget(c: Client, args: list[bytes]) -> Any:
    lookup = c.db.lookup_read
    values = [lookup(key) for key in args[1:]]
    return [value if type(value) is bytes else None for value in values]


def _mset_generic(c: Client, args: list[bytes], name: str, only_new: bool) -> Any:
    if len(args) % 2 == 0:
        raise CommandError(errors.wrong_arity(name))
    db = c.db
    if only_new and any(db.get(key) is not None for key in args[1::2]):
        return 0
    for i in range(1, len(args), 2):
        key = args[i]
        db.set(key, args[i + 1])
        c.modified(key)
        c.notify("$", "set", key)
    return 1 if only_new else OK


@command("mset", -3, "write denyoom", "@string", keys=[KeySpec("OW update", index=1, lastkey=-1, keystep=2)],
         group="string", since="1.0.1", tips="request_policy:multi_shard response_policy:all_succeeded",
         summary="Store several strings at once", complexity="O(N) where N is the number of keys")  # fmt: skip
def mset(c: Client, args: list[bytes]) -> Any:
    return _mset_generic(c, args, "mset", False)


@command("msetnx", -3, "write denyoom", "@string", keys=[KeySpec("OW insert", index=1, lastkey=-1, keystep=2)],
         group="string", since="1.0.1", tips="request_policy:multi_shard response_policy:agg_min",
         summary="Store several strings at once, only if none of the keys exists",
         complexity="O(N) where N is the number of keys")  # fmt: skip
def msetnx(c: Client, args: list[bytes]) -> Any:
    return _mset_generic(c, args, "msetnx", True)


# ---------------------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------------------


def _incr_by(c: Client, key: bytes, increment: int) -> int:
    """Redis's incrDecrCommand: add to the integer in a string, keeping the TTL."""
    db = c.db
    value = db.get(key)
    if value is None:
        current = 0
    elif type(value) is not bytes:
        raise _wrong_type()
    elif value.isdigit() and len(value) < 19 and (value[0] != 48 or len(value) == 1):
        current = int(value)  # the common case, already canonical: skip strict_int's checks
    else:
        current = strict_int(value)
        if current is None:
            raise CommandError(errors.NOT_INTEGER)
    result = current + increment
    if not LONG_MIN <= result <= LONG_MAX:
        raise CommandError(errors.INCR_OVERFLOW)
    db.set(key, b"%d" % result, keep_ttl=True)
    c.modified(key)
    c.notify("$", "incrby", key)
    return result


@command("incr", 2, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="1.0.0", summary="Add one to the integer stored at a key",
         complexity="O(1)")  # fmt: skip
def incr(c: Client, args: list[bytes]) -> Any:
    return _incr_by(c, args[1], 1)


@command("decr", 2, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="1.0.0", summary="Subtract one from the integer stored at a key",
         complexity="O(1)")  # fmt: skip
def decr(c: Client, args: list[bytes]) -> Any:
    return _incr_by(c, args[1], -1)


@command("incrby", 3, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="1.0.0", summary="Add an integer to the integer stored at a key",
         complexity="O(1)")  # fmt: skip
def incrby(c: Client, args: list[bytes]) -> Any:
    return _incr_by(c, args[1], parse_int(args[2]))


@command("decrby", 3, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="1.0.0", summary="Subtract an integer from the integer stored at a key",
         complexity="O(1)")  # fmt: skip
def decrby(c: Client, args: list[bytes]) -> Any:
    decrement = parse_int(args[2])
    if decrement == LONG_MIN:  # its negation does not fit in 64 bits
        raise CommandError(errors.DECR_OVERFLOW)
    return _incr_by(c, args[1], -decrement)


# -- x87 long double emulation for INCRBYFLOAT --------------------------------------------

_LD_SIGNIFICAND_BITS = 64  # explicit integer bit included
_LD_MIN_NORMAL_EXP = -16382
_LD_MAX_EXP = 16383
_LD_LIMIT = Fraction(2) ** (_LD_MAX_EXP + 1)
_LD_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: longer texts are not numbers
#: Exponents past these make any non-zero mantissa of <= 5 KiB digits over/underflow.
_DECIMAL_EXP_CLAMP = 20_000
_BINARY_EXP_CLAMP = 100_000
_INF = float("inf")

_DECIMAL = re.compile(rb"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)

LongDouble = Fraction | float  # a float only for +-inf


def _digits_to_int(digits: bytes, base: int) -> int:
    """int(digits, base) without Python's 4300-digit conversion limit."""
    if not digits:
        return 0
    if base == 16 or len(digits) <= 4000:
        return int(digits, base)
    head, tail = digits[:-4000], digits[-4000:]
    return _digits_to_int(head, base) * 10**4000 + int(tail)


def _int_to_digits(value: int) -> bytes:
    """b"%d" for a non-negative int without Python's 4300-digit conversion limit."""
    if value < 10**4000:
        return b"%d" % value
    head, tail = divmod(value, 10**4000)
    return _int_to_digits(head) + b"%04000d" % tail


def _round_long_double(exact: Fraction) -> LongDouble:
    """Round an exact value to the nearest x87 extended double (ties to even); inf on overflow."""
    if exact == 0:
        return Fraction(0)
    magnitude = abs(exact)
    num, den = magnitude.numerator, magnitude.denominator
    exponent = num.bit_length() - den.bit_length()  # 2**exponent <= magnitude < 2**(exponent+1), or one less
    if (num < den << exponent) if exponent >= 0 else (num << -exponent < den):
        exponent -= 1
    if exponent > _LD_MAX_EXP:
        return _INF if exact > 0 else -_INF
    quantum = max(exponent, _LD_MIN_NORMAL_EXP) - (_LD_SIGNIFICAND_BITS - 1)
    if quantum >= 0:
        steps = round(Fraction(num, den << quantum))
        rounded = Fraction(steps << quantum)
    else:
        steps = round(Fraction(num << -quantum, den))
        rounded = Fraction(steps, 1 << -quantum)
    if rounded >= _LD_LIMIT:
        return _INF if exact > 0 else -_INF
    return rounded if exact > 0 else -rounded


def parse_long_double(text: bytes) -> LongDouble | None:
    """Redis's string2ld (strtold over the whole text): None if it is not a long double.

    Refused like Redis: empty or >= 5 KiB texts, surrounding spaces, trailing garbage,
    NaN, and values that overflow or underflow to zero.
    """
    if not text or len(text) >= _LD_MAX_CHARS:
        return None
    match = _DECIMAL.fullmatch(text)
    if match:
        sign, whole, frac, only_frac, exp = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        mantissa = _digits_to_int(digits, 10)
        exponent = int(exp) if exp else 0
        exponent -= len(frac or only_frac or b"")
        clamp, base = _DECIMAL_EXP_CLAMP, 10
    else:
        match = _HEX.fullmatch(text)
        if match is None:
            infinity = _INFINITY.fullmatch(text)
            if infinity is None:
                return None
            return -_INF if infinity.group(1) == b"-" else _INF
        sign, whole, frac, only_frac, exp = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        mantissa = _digits_to_int(digits, 16)
        exponent = int(exp) if exp else 0
        exponent -= 4 * len(frac or only_frac or b"")
        clamp, base = _BINARY_EXP_CLAMP, 2
    if mantissa == 0:
        return Fraction(0)
    if exponent > clamp:
        return None  # overflow (ERANGE, HUGE_VAL)
    if exponent < -clamp:
        return None  # underflow to zero (ERANGE)
    exact = Fraction(mantissa * base**exponent) if exponent >= 0 else Fraction(mantissa, base**-exponent)
    value = _round_long_double(-exact if sign == b"-" else exact)
    if isinstance(value, float) or value == 0:
        return None
    return value


def format_long_double(value: Fraction) -> bytes:
    """Redis's human-friendly long double text: ``%.17Lf`` without trailing zeros ("-0" is "0")."""
    scaled = round(abs(value) * 10**17)  # glibc rounds the exact value, ties to even
    if scaled == 0:
        return b"0"
    whole, frac = divmod(scaled, 10**17)
    text = _int_to_digits(whole)
    if frac:
        text += b"." + (b"%017d" % frac).rstrip(b"0")
    return b"-" + text if value < 0 else text


def long_double_add(current: bytes | None, increment: bytes) -> bytes:
    """The text of ``current + increment`` computed as Redis's INCRBYFLOAT/HINCRBYFLOAT do.

    ``current`` None counts as 0. Raises CommandError with Redis's messages.
    """
    base = parse_long_double(current) if current is not None else Fraction(0)
    if base is None:
        raise CommandError(errors.NOT_FLOAT)
    delta = parse_long_double(increment)
    if delta is None:
        raise CommandError(errors.NOT_FLOAT)
    if isinstance(base, float) or isinstance(delta, float):
        raise CommandError(errors.INCR_NAN_OR_INF)  # inf + x is inf, inf - inf is NaN
    total = _round_long_double(base + delta)
    if isinstance(total, float):
        raise CommandError(errors.INCR_NAN_OR_INF)
    return format_long_double(total)


@command("incrbyfloat", 3, "write denyoom fast", "@string", keys=[KeySpec("RW access update", index=1)],
         group="string", since="2.6.0", summary="Add a floating point number to the number stored at a key",
         complexity="O(1)")  # fmt: skip
def incrbyfloat(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    db = c.db
    value = db.get(key)
    if value is not None and type(value) is not bytes:
        raise _wrong_type()
    result = long_double_add(value, args[2])
    db.set(key, result, keep_ttl=True)
    c.modified(key)
    c.notify("$", "incrbyfloat", key)
    return result


# ---------------------------------------------------------------------------------------
# APPEND, ranges, length
# ---------------------------------------------------------------------------------------


@command("append", 3, "write denyoom fast", "@string", keys=[KeySpec("RW insert", index=1)],
         group="string", since="2.0.0", summary="Add bytes at the end of a string, creating it if needed",
         complexity="O(1) amortized in Redis; a copy of the string here")  # fmt: skip
def append(c: Client, args: list[bytes]) -> Any:
    key, tail = args[1], args[2]
    db = c.db
    value = db.get(key)
    if value is None:
        db.add(key, tail)
        result = tail
    elif type(value) is not bytes:
        raise _wrong_type()
    else:
        _check_length(c, len(value), len(tail))
        result = value + tail
        db.set(key, result, keep_ttl=True)
    c.modified(key)
    c.notify("$", "append", key)
    return len(result)


def _range_bounds(start: int, end: int, size: int) -> tuple[int, int] | None:
    """Redis's GETRANGE index arithmetic: inclusive (start, end), or None for an empty range."""
    if start < 0 and end < 0 and start > end:
        return None
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    end = min(max(end, 0), size - 1)
    if start > end or size == 0:
        return None
    return start, end


@command("getrange", 4, "readonly", "@string", keys=[KeySpec("RO access", index=1)],
         group="string", since="2.4.0", summary="Return a substring, by inclusive byte offsets",
         complexity="O(N) where N is the length of the returned string")  # fmt: skip
def getrange(c: Client, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    value = _read_string(c, args[1])
    if value is None:
        return b""
    bounds = _range_bounds(start, end, len(value))
    return b"" if bounds is None else value[bounds[0] : bounds[1] + 1]


@command("substr", 4, "readonly", "@string", keys=[KeySpec("RO access", index=1)],
         group="string", since="1.0.0", summary="Old name of GETRANGE",
         complexity="O(N) where N is the length of the returned string")  # fmt: skip
def substr(c: Client, args: list[bytes]) -> Any:
    return getrange(c, args)


@command("setrange", 4, "write denyoom", "@string", keys=[KeySpec("RW update", index=1)],
         group="string", since="2.2.0", summary="Overwrite part of a string at a byte offset, padding with zeros",
         complexity="O(1) plus the bytes written, in Redis; a copy of the string here")  # fmt: skip
def setrange(c: Client, args: list[bytes]) -> Any:
    key, patch = args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError(errors.OFFSET_OUT_OF_RANGE)
    db = c.db
    value = db.get(key)
    if value is None:
        if not patch:
            return 0
        _check_length(c, offset, len(patch))
        db.add(key, b"\0" * offset + patch)
    else:
        if type(value) is not bytes:
            raise _wrong_type()
        if not patch:
            return len(value)
        _check_length(c, offset, len(patch))
        if len(value) < offset:
            value += b"\0" * (offset - len(value))
        db.set(key, value[:offset] + patch + value[offset + len(patch) :], keep_ttl=True)
    c.modified(key)
    c.notify("$", "setrange", key)
    return len(db.data[key])


@command("strlen", 2, "readonly fast", "@string", keys=[KeySpec("RO", index=1)],
         group="string", since="2.2.0", summary="Return the length in bytes of a string",
         complexity="O(1)")  # fmt: skip
def strlen(c: Client, args: list[bytes]) -> Any:
    value = _read_string(c, args[1])
    return 0 if value is None else len(value)


# ---------------------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------------------


def _lcs_rows(a: bytes, b: bytes, keep_rows: bool) -> list[int]:
    """Bit-parallel LCS rows (Hyyrö): row i has a 0 at bit j-1 iff LCS(i, j) > LCS(i, j-1).

    Returns every row (0..len(a)) if ``keep_rows``, else only the last one.
    """
    full = (1 << len(b)) - 1
    masks: dict[int, int] = {}
    for position, byte in enumerate(b):
        masks[byte] = masks.get(byte, 0) | (1 << position)
    row = full
    rows = [row]
    for byte in a:
        matched = row & masks.get(byte, 0)
        row = ((row + matched) | (row - matched)) & full
        if keep_rows:
            rows.append(row)
    return rows if keep_rows else [row]


def _lcs_length(row: int, prefix: int) -> int:
    """LCS of a's row prefix and b[:prefix], from a bit-parallel row."""
    return prefix - (row & ((1 << prefix) - 1)).bit_count()


@command("lcs", -3, "readonly", "@string", keys=[KeySpec("RO access", index=1, lastkey=1)],
         group="string", since="7.0.0",
         summary="Longest common subsequence of two strings: the text, its length or the matching ranges",
         complexity="O(N*M) where N and M are the lengths of the two strings")  # fmt: skip
def lcs(c: Client, args: list[bytes]) -> Any:
    db = c.db
    a = db.lookup_read(args[1])
    b = db.lookup_read(args[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError(errors.LCS_NOT_STRINGS)
    a = a or b""
    b = b or b""
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    pos = 3
    while pos < len(args):
        word = args[pos].upper()
        if word == b"IDX":
            want_idx = True
        elif word == b"LEN":
            want_len = True
        elif word == b"WITHMATCHLEN":
            with_match_len = True
        elif word == b"MINMATCHLEN" and pos < len(args) - 1:
            min_match_len = max(parse_int(args[pos + 1]), 0)
            pos += 1
        else:
            raise CommandError(errors.SYNTAX)
        pos += 1
    if want_len and want_idx:
        raise CommandError(errors.LCS_LEN_AND_IDX)
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > c.node.config.proto_max_bulk_len:
        raise CommandError(errors.LCS_TOO_MUCH_MEMORY)

    walk = want_idx or not want_len
    rows = _lcs_rows(a, b, keep_rows=walk)
    total = _lcs_length(rows[-1], blen)
    if not walk:
        return total

    # Walk the table back from (alen, blen) exactly as Redis does, collecting the common
    # bytes (backwards) and the matching ranges.
    common: list[int] = []
    matches: list[list[Any]] = []
    unset = alen  # Redis marks "no current range" with arange_start == alen
    a_start, a_end, b_start, b_end = unset, 0, 0, 0
    i, j = alen, blen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            common.append(a[i - 1])
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            i -= 1
            j -= 1
        else:
            if _lcs_length(rows[i - 1], j) > _lcs_length(rows[i], j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if want_idx and (min_match_len == 0 or match_len >= min_match_len):
                match = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    match.append(match_len)
                matches.append(match)
            a_start = unset
    if want_idx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(reversed(common))
