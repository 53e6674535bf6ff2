"""Generic key commands: DEL, EXISTS, TYPE, the EXPIRE family, RENAME, KEYS, SCAN,
RANDOMKEY, TOUCH, COPY, MOVE and OBJECT, with Redis 7.0's replies and errors.

Theory of operation
-------------------
These commands work on keys whatever their type, through the :class:`~..keyspace.Database`
API only. How they look keys up matters, because Redis's lookups have side effects
that clients can observe:

* read lookups (``lookup_read``) count keyspace hits/misses and record the access time
  (OBJECT IDLETIME); TYPE, EXISTS, TTL and OBJECT look keys up with Redis's
  ``LOOKUP_NOTOUCH`` (:meth:`Database.peek_read`): stats but no access time;
* write lookups (``db.get``) delete an expired key first, without counting stats;
* every lookup expires lazily, so a key past its TTL is deleted (and its "expired"
  event fired) before the command sees it. KEYS is the exception: like Redis it skips
  expired keys without deleting them.

Expire times are absolute unix milliseconds internally. EXPIRE/PEXPIRE add the
current time (the clock, like Redis's mstime(), not the command's frozen time); the seconds forms multiply by 1000; Redis's overflow checks
("invalid expire time") are done in that order. A time already in the past deletes the
key, fires "del" and still answers 1 (on a replica the time is stored instead and the
primary's DEL removes the key). TTL rounds to the nearest second, as Redis does.

SCAN is served by :meth:`Database.scan` (see keyspace.py for the cursor design): a
cursor is a position in a stable hash order, so keys present for a whole iteration are
returned even when the keyspace grows or shrinks between calls. The MATCH/TYPE filters
and lazy expiry apply after a page is taken, as in Redis, so a page may be short or
empty while the cursor is not 0.

COPY duplicates values with each type's own ``copy()`` (strings are immutable bytes
and are shared). OBJECT ENCODING asks the data-type modules (``strings.string_encoding``,
``lists.list_encoding``...), so each type keeps its encoding rules in one place.
"""

from __future__ import annotations

import copy as _copy
import importlib
import time
from collections.abc import Callable
from typing import Any

from ...protocol.encoder import OK, Status
from ...protocol.parser import strict_int
from .. import errors
from ..args import ArgCursor, parse_int
from ..client import Client
from ..command_table import KeySpec, command, container
from ..errors import CommandError
from ..keyspace import Database, type_name
from ..pubsub import glob_match

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1
ULONG_MAX = 2**64 - 1

#: Redis shares the string objects of the integers 0..9999 (OBJ_SHARED_INTEGERS).
SHARED_INTEGERS = 10000
#: The refcount Redis reports for a shared object (OBJ_SHARED_REFCOUNT).
SHARED_REFCOUNT = 2**31 - 1


# -- helpers ----------------------------------------------------------------------------


def _wall_ms() -> int:
    """The current time, not the command's frozen one.

    Redis 7.0 freezes time only to decide whether keys are expired (also for a whole
    MULTI/EXEC); the EXPIRE family's base time, "already in the past" and TTL's
    remaining time read the clock, so a TTL read late in a transaction can be 0 while
    the key is still visible.
    """
    return int(time.time() * 1000)


def _parse_db_index(c: Client, arg: bytes) -> Database:
    """A database number argument (MOVE, COPY DB): an int, then an existing database."""
    index = parse_int(arg)
    if not INT_MIN <= index <= INT_MAX:  # Redis's getIntFromObjectOrReply
        raise CommandError(errors.value_not_between(INT_MIN, INT_MAX))
    if not 0 <= index < len(c.node.keyspace):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    return c.node.keyspace[index]


def copy_value(value: Any) -> Any:
    """A deep copy of a stored value: strings are immutable, other types copy themselves."""
    if type(value) is bytes:
        return value
    duplicate = getattr(value, "copy", None)
    if duplicate is not None:
        return duplicate()
    return _copy.deepcopy(value)


def _notify(c: Client, db: Database, event: str, key: bytes) -> None:
    """A generic-class keyspace event on ``db`` (which may not be the selected one)."""
    c.node.notify_keyspace_event("g", event, key, db.index)


# -- DEL, UNLINK, EXISTS, TOUCH, TYPE -------------------------------------------------------


def _delete_keys(c: Client, args: list[bytes]) -> int:
    db = c.db
    deleted = 0
    for key in args[1:]:
        if key in db.expires:
            db.peek(key)  # an expired key is deleted as expired (its "expired" event), not by us
        if db.delete(key):
            c.modified(key)
            c.notify("g", "del", key)
            deleted += 1
    return deleted


@command("del", -2, "write", "@keyspace",
    keys=[KeySpec("RM delete", index=1, lastkey=-1)],
    group="generic", since="1.0.0",
    tips="request_policy:multi_shard response_policy:agg_sum",
    summary="Delete keys", complexity="O(N) for N keys; freeing a collection is linear in its size",
)  # fmt: skip
def del_(c: Client, args: list[bytes]) -> Any:
    return _delete_keys(c, args)


@command("unlink", -2, "write fast", "@keyspace",
    keys=[KeySpec("RM delete", index=1, lastkey=-1)],
    group="generic", since="4.0.0",
    tips="request_policy:multi_shard response_policy:agg_sum",
    summary="Delete keys, reclaiming their memory in the background",
    complexity="O(1) per key; the memory is reclaimed later",
)  # fmt: skip
def unlink(c: Client, args: list[bytes]) -> Any:
    return _delete_keys(c, args)


@command("exists", -2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO", index=1, lastkey=-1)],
    group="generic", since="1.0.0",
    tips="request_policy:multi_shard response_policy:agg_sum",
    summary="Count how many of the given keys exist (a repeated key counts each time)",
    complexity="O(N) for N keys",
)  # fmt: skip
def exists(c: Client, args: list[bytes]) -> Any:
    db = c.db
    return sum(1 for key in args[1:] if db.peek_read(key) is not None)


@command("touch", -2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO", index=1, lastkey=-1)],
    group="generic", since="3.2.1",
    tips="request_policy:multi_shard response_policy:agg_sum",
    summary="Update the last access time of keys; reply how many exist",
    complexity="O(N) for N keys",
)  # fmt: skip
def touch(c: Client, args: list[bytes]) -> Any:
    db = c.db
    return sum(1 for key in args[1:] if db.lookup_read(key) is not None)


@command("type", 2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO", index=1)],
    group="generic", since="1.0.0",
    summary="Name the type of the value stored at a key", complexity="O(1)",
)  # fmt: skip
def type_(c: Client, args: list[bytes]) -> Any:
    value = c.db.peek_read(args[1])
    return Status("none" if value is None else type_name(value))


# -- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST ---------------------------------------------

_EXPIRE_NX, _EXPIRE_XX, _EXPIRE_GT, _EXPIRE_LT = "NX", "XX", "GT", "LT"


def _expire_flags(args: list[bytes]) -> set[str]:
    """The NX/XX/GT/LT options after the time, checked for conflicts as Redis does."""
    flags: set[str] = set()
    for arg in args[3:]:
        word = arg.upper()
        if word not in (b"NX", b"XX", b"GT", b"LT"):
            raise CommandError(errors.unsupported_option(arg))
        flags.add(word.decode())
    if _EXPIRE_NX in flags and flags & {_EXPIRE_XX, _EXPIRE_GT, _EXPIRE_LT}:
        raise CommandError(errors.EXPIRE_NX_CONFLICT)
    if _EXPIRE_GT in flags and _EXPIRE_LT in flags:
        raise CommandError(errors.EXPIRE_GT_LT_CONFLICT)
    return flags


def _expire_allowed(flags: set[str], when: int, current: int | None) -> bool:
    """Whether NX/XX/GT/LT let the new expire time replace ``current`` (None: no TTL).

    A key without a TTL counts as an infinite TTL: GT never beats it, LT always does.
    """
    if _EXPIRE_NX in flags and current is not None:
        return False
    if _EXPIRE_XX in flags and current is None:
        return False
    if _EXPIRE_GT in flags and (current is None or when <= current):
        return False
    return not (_EXPIRE_LT in flags and current is not None and when >= current)


def _expire_generic(c: Client, args: list[bytes], relative: bool, seconds: bool) -> int:
    """EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (Redis's expireGenericCommand)."""
    flags = _expire_flags(args) if len(args) > 3 else set()
    when = parse_int(args[2])
    invalid = errors.EXPIRE_INVALID.format(args[0].decode("utf-8", "replace").lower())
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise CommandError(invalid)
        when *= 1000
    now = _wall_ms()
    base = now if relative else 0
    if when > LLONG_MAX - base:
        raise CommandError(invalid)
    when += base
    db, key = c.db, args[1]
    if db.get(key) is None:
        return 0
    if flags and not _expire_allowed(flags, when, db.get_expire(key)):
        return 0
    if when <= now and not c.node.keyspace.is_replica:
        # A time in the past: the key goes at once (replicated as a DEL in Redis).
        db.delete(key)
        c.modified(key)
        c.notify("g", "del", key)
        return 1
    db.set_expire(key, when)
    c.modified(key)
    c.notify("g", "expire", key)
    return 1


@command("expire", -3, "write fast", "@keyspace",
    keys=[KeySpec("RW update", index=1)],
    group="generic", since="1.0.0",
    summary="Give a key a time to live, in seconds", complexity="O(1)",
)  # fmt: skip
def expire(c: Client, args: list[bytes]) -> Any:
    return _expire_generic(c, args, relative=True, seconds=True)


@command("pexpire", -3, "write fast", "@keyspace",
    keys=[KeySpec("RW update", index=1)],
    group="generic", since="2.6.0",
    summary="Give a key a time to live, in milliseconds", complexity="O(1)",
)  # fmt: skip
def pexpire(c: Client, args: list[bytes]) -> Any:
    return _expire_generic(c, args, relative=True, seconds=False)


@command("expireat", -3, "write fast", "@keyspace",
    keys=[KeySpec("RW update", index=1)],
    group="generic", since="1.2.0",
    summary="Make a key expire at a unix time in seconds", complexity="O(1)",
)  # fmt: skip
def expireat(c: Client, args: list[bytes]) -> Any:
    return _expire_generic(c, args, relative=False, seconds=True)


@command("pexpireat", -3, "write fast", "@keyspace",
    keys=[KeySpec("RW update", index=1)],
    group="generic", since="2.6.0",
    summary="Make a key expire at a unix time in milliseconds", complexity="O(1)",
)  # fmt: skip
def pexpireat(c: Client, args: list[bytes]) -> Any:
    return _expire_generic(c, args, relative=False, seconds=False)


@command("persist", 2, "write fast", "@keyspace",
    keys=[KeySpec("RW update", index=1)],
    group="generic", since="2.2.0",
    summary="Remove the time to live of a key", complexity="O(1)",
)  # fmt: skip
def persist(c: Client, args: list[bytes]) -> Any:
    db, key = c.db, args[1]
    if db.get(key) is None or not db.remove_expire(key):
        return 0
    c.modified(key)
    c.notify("g", "persist", key)
    return 1


# -- TTL, PTTL, EXPIRETIME, PEXPIRETIME ---------------------------------------------------------


def _ttl_generic(c: Client, key: bytes, in_ms: bool, absolute: bool) -> int:
    """-2 for a missing key, -1 without a TTL, else the TTL or the expire time."""
    db = c.db
    if db.peek_read(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    ttl = max(0, when if absolute else when - _wall_ms())
    return ttl if in_ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO access", index=1)],
    group="generic", since="1.0.0", tips="nondeterministic_output",
    summary="The remaining time to live of a key, in seconds", complexity="O(1)",
)  # fmt: skip
def ttl(c: Client, args: list[bytes]) -> Any:
    return _ttl_generic(c, args[1], in_ms=False, absolute=False)


@command("pttl", 2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO access", index=1)],
    group="generic", since="2.6.0", tips="nondeterministic_output",
    summary="The remaining time to live of a key, in milliseconds", complexity="O(1)",
)  # fmt: skip
def pttl(c: Client, args: list[bytes]) -> Any:
    return _ttl_generic(c, args[1], in_ms=True, absolute=False)


@command("expiretime", 2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO access", index=1)],
    group="generic", since="7.0.0",
    summary="The unix time in seconds at which a key will expire", complexity="O(1)",
)  # fmt: skip
def expiretime(c: Client, args: list[bytes]) -> Any:
    return _ttl_generic(c, args[1], in_ms=False, absolute=True)


@command("pexpiretime", 2, "readonly fast", "@keyspace",
    keys=[KeySpec("RO access", index=1)],
    group="generic", since="7.0.0",
    summary="The unix time in milliseconds at which a key will expire", complexity="O(1)",
)  # fmt: skip
def pexpiretime(c: Client, args: list[bytes]) -> Any:
    return _ttl_generic(c, args[1], in_ms=True, absolute=True)


# -- RENAME, RENAMENX, MOVE, COPY ------------------------------------------------------------


def _rename_generic(c: Client, args: list[bytes], nx: bool) -> Any:
    db, source, dest = c.db, args[1], args[2]
    value = db.get(source)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if source == dest:
        return 0 if nx else OK
    when = db.get_expire(source)
    if db.get(dest) is not None:
        if nx:
            return 0
        db.delete(dest)  # overwritten without a "del" event, as in Redis
    db.add(dest, value)
    if when is not None:
        db.set_expire(dest, when)
    db.delete(source)
    db.touch(source)
    db.touch(dest)
    c.notify("g", "rename_from", source)
    c.notify("g", "rename_to", dest)
    c.node.dirty += 1
    return 1 if nx else OK


@command("rename", 3, "write", "@keyspace",
    keys=[KeySpec("RW access delete", index=1), KeySpec("OW update", index=2)],
    group="generic", since="1.0.0",
    summary="Rename a key, replacing the destination if it exists",
    complexity="O(1); replacing a collection is linear in its size",
)  # fmt: skip
def rename(c: Client, args: list[bytes]) -> Any:
    return _rename_generic(c, args, nx=False)


@command("renamenx", 3, "write fast", "@keyspace",
    keys=[KeySpec("RW access delete", index=1), KeySpec("OW insert", index=2)],
    group="generic", since="1.0.0",
    summary="Rename a key only if the new name is free", complexity="O(1)",
)  # fmt: skip
def renamenx(c: Client, args: list[bytes]) -> Any:
    return _rename_generic(c, args, nx=True)


@command("move", 3, "write fast", "@keyspace",
    keys=[KeySpec("RW access update", index=1)],
    group="generic", since="1.0.0",
    summary="Move a key to another database", complexity="O(1)",
)  # fmt: skip
def move(c: Client, args: list[bytes]) -> Any:
    if c.node.config.cluster_enabled:
        raise CommandError(errors.MOVE_IN_CLUSTER)
    source_db, key = c.db, args[1]
    target_db = _parse_db_index(c, args[2])
    if target_db is source_db:
        raise CommandError(errors.SAME_OBJECT)
    value = source_db.get(key)
    if value is None:
        return 0
    when = source_db.get_expire(key)
    if target_db.get(key) is not None:
        return 0
    target_db.add(key, value)
    if when is not None:
        target_db.set_expire(key, when)
    source_db.delete(key)
    source_db.touch(key)
    target_db.touch(key)
    _notify(c, source_db, "move_from", key)
    _notify(c, target_db, "move_to", key)
    c.node.dirty += 1
    return 1


@command("copy", -3, "write denyoom", "@keyspace",
    keys=[KeySpec("RO access", index=1), KeySpec("OW update", index=2)],
    group="generic", since="6.2.0",
    summary="Copy a key's value (and TTL) to another key, possibly in another database",
    complexity="O(N) for a value of N elements",
)  # fmt: skip
def copy(c: Client, args: list[bytes]) -> Any:
    source_db = target_db = c.db
    replace = False
    options = ArgCursor(args, 3)
    while options:
        word = options.keyword()
        if word == "REPLACE":
            replace = True
        elif word == "DB" and options.remaining >= 1:
            target_db = _parse_db_index(c, options.take())
        else:
            raise CommandError(errors.SYNTAX)
    if c.node.config.cluster_enabled and (source_db.index != 0 or target_db.index != 0):
        raise CommandError(errors.COPY_DB_IN_CLUSTER)
    key, new_key = args[1], args[2]
    if source_db is target_db and key == new_key:
        raise CommandError(errors.SAME_OBJECT)
    value = source_db.lookup_read(key)
    if value is None:
        return 0
    when = source_db.get_expire(key)
    if target_db.get(new_key) is not None:
        if not replace:
            return 0
        target_db.delete(new_key)
    target_db.add(new_key, copy_value(value))
    if when is not None:
        target_db.set_expire(new_key, when)
    target_db.touch(new_key)
    _notify(c, target_db, "copy_to", new_key)
    c.node.dirty += 1
    return 1


# -- KEYS, SCAN, RANDOMKEY -----------------------------------------------------------------------


@command("keys", 2, "readonly", "@keyspace @dangerous",
    group="generic", since="1.0.0",
    tips="request_policy:all_shards nondeterministic_output_order",
    summary="List the keys matching a glob-style pattern",
    complexity="O(N) for N keys in the database",
)  # fmt: skip
def keys(c: Client, args: list[bytes]) -> Any:
    db, pattern = c.db, args[1]
    expires = db.expires
    if pattern == b"*":
        candidates: Any = db.data
    else:
        candidates = (key for key in db.data if glob_match(pattern, key))
    # KEYS skips expired keys but leaves their deletion to lookups and the expiry cycle.
    return [key for key in candidates if not (expires and key in expires and db.is_expired(key))]


def parse_scan_cursor(arg: bytes) -> int:
    """A SCAN cursor, read like C's strtoul: an unsigned 64-bit decimal.

    As with strtoul, a sign is accepted (``-1`` wraps to 2**64-1), parsing stops at
    a NUL byte, and an empty string is 0; leading spaces and trailing junk are not.
    """
    text = arg.split(b"\x00", 1)[0]
    if arg[:1].isspace():
        raise CommandError(errors.INVALID_CURSOR)
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    if not text:
        if arg[:1] in (b"+", b"-"):  # strtoul read nothing: the whole argument is junk
            raise CommandError(errors.INVALID_CURSOR)
        return 0
    if not (text.isdigit() and text.isascii()):
        raise CommandError(errors.INVALID_CURSOR)
    value = int(text)
    if value > ULONG_MAX:
        raise CommandError(errors.INVALID_CURSOR)
    return value if sign > 0 else (-value) & ULONG_MAX


@command("scan", -2, "readonly", "@keyspace",
    group="generic", since="2.8.0",
    tips="nondeterministic_output request_policy:special",
    summary="Iterate over the keys with a cursor",
    complexity="O(1) per call; O(N) for a whole iteration over N keys",
)  # fmt: skip
def scan(c: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[1])
    count, pattern, wanted_type = 10, None, None
    options = ArgCursor(args, 2)
    while options:
        word = options.keyword()
        if options.remaining < 1:
            raise CommandError(errors.SYNTAX)
        if word == "COUNT":
            count = parse_int(options.take())
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif word == "MATCH":
            pattern = options.take()
            if pattern == b"*":
                pattern = None
        elif word == "TYPE":
            wanted_type = options.take().decode("utf-8", "replace").lower()
        else:
            raise CommandError(errors.SYNTAX)
    db = c.db
    next_cursor, page = db.scan(cursor, count)
    found = []
    for key in page:
        if pattern is not None and not glob_match(pattern, key):
            continue
        if wanted_type is not None:
            value = db.peek_read(key)
            if (type_name(value) if value is not None else "none") != wanted_type:
                continue
        if db.peek(key) is None:  # lazily expire the keys we were about to return
            continue
        found.append(key)
    return [str(next_cursor).encode(), found]


@command("randomkey", 1, "readonly", "@keyspace",
    group="generic", since="1.0.0",
    tips="request_policy:all_shards nondeterministic_output",
    summary="Return a random key of the database", complexity="O(1)",
)  # fmt: skip
def randomkey(c: Client, args: list[bytes]) -> Any:
    return c.db.random_key()


# -- OBJECT ----------------------------------------------------------------------------------

container("object", group="generic", since="2.2.3",
          summary="Inspect the internals of a key's value", complexity="Depends on the subcommand.")  # fmt: skip

#: The module and helper that know each type's encoding, e.g. strings.string_encoding.
_ENCODING_HELPERS = {
    "string": ("strings", "string_encoding"),
    "list": ("lists", "list_encoding"),
    "set": ("sets", "set_encoding"),
    "hash": ("hashes", "hash_encoding"),
    "zset": ("sorted_sets", "zset_encoding"),
    "stream": ("streams", "stream_encoding"),
}
#: What to say for a type whose module has no helper (yet).
_DEFAULT_ENCODINGS = {"string": "raw", "list": "quicklist", "set": "hashtable", "hash": "hashtable",
                      "zset": "skiplist", "stream": "stream"}  # fmt: skip


def _encoding_helper(type_: str) -> Callable[[Any], str] | None:
    module_name, helper_name = _ENCODING_HELPERS.get(type_, ("", ""))
    if not module_name:
        return None
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ImportError:
        return None
    return getattr(module, helper_name, None)


def value_encoding(value: Any) -> str:
    """OBJECT ENCODING of a stored value, from its type module's helper when there is one."""
    type_ = type_name(value)
    helper = _encoding_helper(type_)
    if helper is not None:
        return helper(value)
    own = getattr(value, "encoding", None)
    if own is not None:
        return own() if callable(own) else str(own)
    return _DEFAULT_ENCODINGS.get(type_, "unknown")


def _object_lookup(c: Client, key: bytes) -> Any:
    """OBJECT's lookup: no access-time update, no keymiss event; None replies null."""
    return c.db.peek_read(key, notify=False)


def _lfu_policy(c: Client) -> bool:
    lfu = "lfu" in str(c.node.config.maxmemory_policy)
    c.node.keyspace.lfu_enabled = lfu
    return lfu


def _shared_integers_enabled(c: Client) -> bool:
    """Redis stops sharing small integers when maxmemory is set with an LRU/LFU policy."""
    config = c.node.config
    policy = str(config.maxmemory_policy)
    return not config.maxmemory or not ("lru" in policy or "lfu" in policy)


@command("object|encoding", 3, "readonly", "@keyspace",
    keys=[KeySpec("RO", index=2)],
    group="generic", since="2.2.3", tips="nondeterministic_output",
    summary="Name the internal representation of a key's value", complexity="O(1)",
)  # fmt: skip
def object_encoding(c: Client, args: list[bytes]) -> Any:
    value = _object_lookup(c, args[2])
    return None if value is None else value_encoding(value).encode()


@command("object|refcount", 3, "readonly", "@keyspace",
    keys=[KeySpec("RO", index=2)],
    group="generic", since="2.2.3", tips="nondeterministic_output",
    summary="How many references the value of a key has", complexity="O(1)",
)  # fmt: skip
def object_refcount(c: Client, args: list[bytes]) -> Any:
    value = _object_lookup(c, args[2])
    if value is None:
        return None
    if type(value) is bytes and value_encoding(value) == "int" and _shared_integers_enabled(c):
        number = strict_int(value)
        if number is not None and 0 <= number < SHARED_INTEGERS:
            return SHARED_REFCOUNT
    return 1


@command("object|idletime", 3, "readonly", "@keyspace",
    keys=[KeySpec("RO", index=2)],
    group="generic", since="2.2.3", tips="nondeterministic_output",
    summary="Seconds since a key was last read or written", complexity="O(1)",
)  # fmt: skip
def object_idletime(c: Client, args: list[bytes]) -> Any:
    value = _object_lookup(c, args[2])
    if value is None:
        return None
    if _lfu_policy(c):
        raise CommandError(errors.OBJECT_IDLETIME_UNDER_LFU)
    return c.db.idle_ms(args[2]) // 1000


@command("object|freq", 3, "readonly", "@keyspace",
    keys=[KeySpec("RO", index=2)],
    group="generic", since="4.0.0", tips="nondeterministic_output",
    summary="The logarithmic access frequency counter of a key (LFU policies)", complexity="O(1)",
)  # fmt: skip
def object_freq(c: Client, args: list[bytes]) -> Any:
    value = _object_lookup(c, args[2])
    if value is None:
        return None
    if not _lfu_policy(c):
        raise CommandError(errors.OBJECT_FREQ_WITHOUT_LFU)
    return c.db.lfu_counter(args[2])


@command("object|help", 2, "loading stale", "@keyspace",
    group="generic", since="6.2.0",
    summary="Describe the OBJECT subcommands", complexity="O(1)",
)  # fmt: skip
def object_help(c: Client, args: list[bytes]) -> Any:
    from .server import help_reply

    return help_reply("OBJECT", [
        ("ENCODING <key>", "Name the internal representation of the value stored at <key>."),
        ("FREQ <key>", "The logarithmic access frequency counter of <key> (LFU maxmemory policies only)."),
        ("IDLETIME <key>", "Seconds since <key> was last read or written (not under LFU policies)."),
        ("REFCOUNT <key>", "How many references the value of <key> has."),
    ])  # fmt: skip
