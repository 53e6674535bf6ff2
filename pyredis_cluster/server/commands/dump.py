"""DUMP, RESTORE and RESTORE-ASKING (Redis 7.0 ``cluster.c`` semantics).

Theory of operation
-------------------
DUMP serializes a value with :mod:`..rdb` into the payload a real 7.0 server produces
(``type byte + RDB body + RDB version 10 (2 bytes LE) + CRC64 (8 bytes LE)``); a TTL is
not part of it. RESTORE is its inverse, and RESTORE-ASKING is the same command with the
``asking`` flag, which lets MIGRATE's target accept it for a slot it is importing.

RESTORE checks things in 7.0's order, which clients see when several are wrong:

1. the options, left to right: ``REPLACE``, ``ABSTTL``, ``IDLETIME s`` (an integer,
   then ">= 0"), ``FREQ f`` (an integer, then 0..255); IDLETIME and FREQ exclude each
   other and anything else, or a missing option value, is a syntax error;
2. without REPLACE, an existing key is ``BUSYKEY`` (before the payload is looked at);
3. the TTL: an integer, then ``>= 0``;
4. the footer: version at most 10 and the CRC64 (skipped when the node's
   ``skip_checksum_validation`` is set, DEBUG SET-SKIP-CHECKSUM-VALIDATION's flag);
5. the object itself ("Bad data format" for anything malformed or unsupported).

Then REPLACE deletes the old key; a relative TTL becomes absolute (``now + ttl``); a
key already expired by then is not created (and, if REPLACE deleted one, that is a
``del``), which replies OK all the same (a replica never considers it expired). Otherwise
the key is added with its TTL, IDLETIME sets its LRU idle time (when the policy is not
LFU) and FREQ its LFU counter (under an LFU policy), and ``restore`` is notified.

IDLETIME goes through Redis's 24-bit LRU clock (seconds): an idle time longer than the
clock's current value wraps around it, as ``objectSetLRUOrLFU`` does, so OBJECT
IDLETIME afterwards shows what 7.0 shows.
"""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import OK
from .. import errors, rdb
from ..args import ArgCursor, parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError

#: Redis's LRU clock: seconds, kept in 24 bits.
_LRU_CLOCK_MAX = (1 << 24) - 1


def _limits(c: Client) -> rdb.EncodingLimits:
    return rdb.EncodingLimits.from_config(c.node.config)


@command("dump", 2, "readonly", "@keyspace", keys=[KeySpec("RO access", index=1)],
         group="generic", since="2.6.0", tips="nondeterministic_output",
         summary="Serialize a key's value into Redis's RDB payload format",
         complexity="O(1) to find the key, then O(N*M) for N elements of average size M")  # fmt: skip
def dump(c: Client, args: list[bytes]) -> Any:
    value = c.db.lookup_read(args[1])
    if value is None:
        return None
    return rdb.create_dump_payload(value, _limits(c))


@command("restore", -4, "write denyoom", "@keyspace @dangerous", keys=[KeySpec("OW update", index=1)],
         group="generic", since="2.6.0",
         summary="Create a key from a DUMP payload, with an optional TTL and access statistics",
         complexity="O(1) to create the key, then O(N*M) to decode N elements of average size M")  # fmt: skip
def restore(c: Client, args: list[bytes]) -> Any:
    return _restore(c, args)


@command("restore-asking", -4, "write denyoom asking", "@keyspace @dangerous",
         keys=[KeySpec("OW update", index=1)], group="server", since="3.0.0",
         summary="RESTORE as sent by MIGRATE: accepted for a slot being imported without ASKING",
         complexity="O(1) to create the key, then O(N*M) to decode N elements of average size M")  # fmt: skip
def restore_asking(c: Client, args: list[bytes]) -> Any:
    return _restore(c, args)


def _restore(c: Client, args: list[bytes]) -> Any:
    replace = absttl = False
    idle: int | None = None
    freq: int | None = None
    cursor = ArgCursor(args, 4)
    while cursor:
        word = cursor.take().lower()  # ASCII-only case folding, like strcasecmp
        if word == b"replace":
            replace = True
        elif word == b"absttl":
            absttl = True
        elif word == b"idletime" and cursor.remaining and freq is None:
            idle = cursor.take_int()
            if idle < 0:
                raise CommandError(errors.RESTORE_INVALID_IDLETIME)
        elif word == b"freq" and cursor.remaining and idle is None:
            freq = cursor.take_int()
            if not 0 <= freq <= 255:
                raise CommandError(errors.RESTORE_INVALID_FREQ)
        else:
            raise CommandError(errors.SYNTAX)

    db = c.db
    key = args[1]
    if not replace and db.get(key) is not None:
        raise CommandError(errors.BUSYKEY)
    ttl = parse_int(args[2])
    if ttl < 0:
        raise CommandError(errors.RESTORE_INVALID_TTL)
    payload = args[3]
    if not rdb.verify_dump_payload(payload, check_crc=not getattr(c.node, "skip_checksum_validation", False)):
        raise CommandError(errors.DUMP_PAYLOAD_INVALID)
    try:
        value = rdb.load_dump_payload(payload, _limits(c))
    except rdb.RdbError:
        raise CommandError(errors.BAD_DATA_FORMAT) from None

    deleted = replace and db.delete(key)
    keyspace = c.node.keyspace
    now_ms = keyspace.now_ms
    if ttl and not absttl:
        ttl = _wrap_int64(ttl + now_ms)  # C's overflow: a huge TTL wraps into the past
    if ttl and ttl <= now_ms and not keyspace.is_replica:
        if deleted:
            c.modified(key)
            c.notify("g", "del", key)
        return OK

    if key in db.data:  # an expired key a replica keeps until its primary deletes it
        db.delete(key)
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
    if "lfu" in str(c.node.config.get("maxmemory-policy")):  # keyspace.lfu_enabled lags CONFIG SET
        if freq is not None:
            db.set_lfu(key, freq)
    elif idle is not None:
        db.set_idle(key, _lru_idle_seconds(idle, now_ms))
    c.modified(key)
    c.notify("g", "restore", key)
    return OK


def _lru_idle_seconds(idle: int, now_ms: int) -> int:
    """The idle time OBJECT IDLETIME reports after RESTORE ... IDLETIME ``idle``.

    Redis stores an absolute access time on its 24-bit LRU clock (seconds):
    ``clock - idle``, plus one clock range when that is negative, truncated to 24 bits
    (with the C arithmetic's 64-bit wrap-around on absurd inputs); the idle time is
    then read back against the clock, wrapping once.
    """
    clock = (now_ms // 1000) & _LRU_CLOCK_MAX
    scaled = _wrap_int64(idle * 1000)
    idle_units = abs(scaled) // 1000 * (1 if scaled >= 0 else -1)  # C division truncates
    access = clock - idle_units
    if access < 0:
        access += _LRU_CLOCK_MAX
    access &= _LRU_CLOCK_MAX  # the 24-bit field keeps the low bits (two's complement)
    return clock - access if clock >= access else clock + (_LRU_CLOCK_MAX - access)


def _wrap_int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
