"""Hash commands (Redis 7.0 ``t_hash.c`` semantics).

Theory of operation
-------------------
A hash is a :class:`HashValue`, a ``dict`` of field -> value (both ``bytes``), kept in
insertion order. That order is what Redis shows for a small hash: a ``listpack``
appends new fields at its end, replaces values in place and closes the gap on delete,
exactly like a Python dict, so HGETALL/HKEYS/HVALS/HSCAN of a small hash match Redis
byte for byte. A big hash is a ``hashtable`` in Redis, whose order depends on a random
per-process seed: clients cannot rely on it, and we keep insertion order there too.

The encoding is a flag on the value, for OBJECT ENCODING (:func:`hash_encoding`) and
for HSCAN. A hash starts as a listpack and becomes a hashtable, for good, when a field
or value longer than ``hash-max-listpack-value`` bytes is written or when it grows past
``hash-max-listpack-entries`` fields (Redis's hashTypeTryConversion/hashTypeSet rules;
HSET checks every argument before writing any, HINCRBY* check the field and the new
value). Redis never converts back, and nor do we.

HSCAN follows Redis: a listpack hash is returned whole with cursor 0 (COUNT ignored).
A hashtable hash is walked in the order of a stable 63-bit hash of each field (a
:class:`~..keyspace.ScanIndex`, built by the first HSCAN and then maintained as fields
come and go); the cursor is the hash value to resume from, and a page never splits
fields sharing a hash value. So a field present from the first call to the last is
returned at least once, whatever happens in between, which is SCAN's guarantee.

HINCRBYFLOAT computes in x87 ``long double`` and prints like Redis's ``%.17Lf`` minus
trailing zeros, with the helpers INCRBYFLOAT uses (``strings.long_double_add``), so
both commands format numbers identically.

HRANDFIELD follows Redis's cases: a negative count samples with repetition, a count at
least the size of the hash returns the whole hash in order, otherwise distinct random
fields. With WITHVALUES, RESP2 gets a flat array and RESP3 an array of pairs.

Keyspace events (class ``h``): ``hset`` (HSET, HMSET, HSETNX), ``hdel``, ``hincrby``,
``hincrbyfloat``, and ``del`` (class ``g``) when HDEL empties a hash, which is then
deleted: Redis never keeps an empty hash.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from itertools import islice
from typing import Any

from ...protocol.encoder import OK, Map
from ...protocol.parser import strict_int
from .. import errors
from ..args import LONG_MAX, parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from ..keyspace import Database, ScanIndex
from .keys import parse_scan_cursor
from .sets import filter_matching, parse_scan_options
from .strings import long_double_add, parse_long_double


class HashValue(dict):  # type: ignore[type-arg]
    """A Redis hash: field -> value, in insertion order, with its encoding flag."""

    __slots__ = ("hashtable", "scan_order")
    TYPE_NAME = "hash"

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = (), hashtable: bool = False) -> None:
        super().__init__(items)
        #: False while Redis would keep the hash in a listpack, True once converted.
        self.hashtable = hashtable
        #: The fields in HSCAN order; built by the first HSCAN of a hashtable hash.
        self.scan_order: ScanIndex | None = None

    def copy(self) -> HashValue:  # type: ignore[override]
        return HashValue(self.items(), self.hashtable)


def new_hash(items: Iterable[tuple[bytes, bytes]], c: Client) -> HashValue:
    """A hash holding ``items``, encoded as Redis would encode it after writing them."""
    value = HashValue(items)
    max_value, max_entries = _listpack_limits(c)
    if len(value) > max_entries or any(len(f) > max_value or len(v) > max_value for f, v in value.items()):
        value.hashtable = True
    return value


def hash_encoding(value: HashValue) -> str:
    """OBJECT ENCODING of a hash: 'listpack' or 'hashtable'."""
    return "hashtable" if value.hashtable else "listpack"


# -- helpers ---------------------------------------------------------------------------------


def _listpack_limits(c: Client) -> tuple[int, int]:
    """(hash-max-listpack-value, hash-max-listpack-entries)."""
    # Read on HSET's hot path: skip Config.__getattr__'s name mangling.
    options = c.node.config._values
    return options["hash-max-listpack-value"], options["hash-max-listpack-entries"]


def _check_listpack(c: Client, value: HashValue, *written_lengths: int) -> None:
    """After a write to a listpack hash: convert it to a hashtable, for good, if a field
    or value written is too long or the hash has too many fields (hashTypeSet's rule)."""
    max_value, max_entries = _listpack_limits(c)
    if len(value) > max_entries or max(written_lengths) > max_value:
        value.hashtable = True


def _get_hash(db: Database, key: bytes, read: bool = False) -> HashValue | None:
    """The hash at ``key`` or None; WRONGTYPE if the key holds another type.

    ``read`` counts a keyspace hit or miss (Redis's lookupKeyRead, for read commands).
    """
    value = db.lookup_read(key) if read else db.get(key)
    if value is not None and type(value) is not HashValue:
        raise CommandError(errors.WRONGTYPE)
    return value


def _hash_for_write(c: Client, key: bytes) -> HashValue:
    """The hash at ``key``, created empty if missing (callers always write to it)."""
    db = c.db
    value = db.get(key)
    if value is None:
        value = HashValue()
        db.add(key, value)
    elif type(value) is not HashValue:
        raise CommandError(errors.WRONGTYPE)
    return value


def _set_field(c: Client, value: HashValue, field: bytes, new: bytes) -> None:
    """Write one field as Redis's hashTypeSet: a long field or value, or one field too
    many, turns a listpack into a hashtable."""
    if value.scan_order is not None and field not in value:
        value.scan_order.add(field)
    value[field] = new
    if not value.hashtable:
        _check_listpack(c, value, len(field), len(new))


# -- writing ---------------------------------------------------------------------------------


def _hset_generic(c: Client, args: list[bytes], name: str) -> int:
    """HSET/HMSET: set the field/value pairs; return how many fields are new."""
    argc = len(args)
    if argc & 1:
        raise CommandError(errors.wrong_arity(name))
    key = args[1]
    db = c.db
    value = db.get(key)
    if value is None:
        value = HashValue()
        db.add(key, value)
    elif type(value) is not HashValue:
        raise CommandError(errors.WRONGTYPE)
    if argc == 4:  # the common single pair, kept short: HSET is a benchmarked hot path
        field = args[2]
        created = field not in value
        if created and value.scan_order is not None:
            value.scan_order.add(field)
        new = value[field] = args[3]
        if not value.hashtable:  # _check_listpack, inlined
            options = c.node.config._values
            limit = options["hash-max-listpack-value"]
            if len(field) > limit or len(new) > limit or len(value) > options["hash-max-listpack-entries"]:
                value.hashtable = True
    else:
        before = len(value)
        index = value.scan_order
        if index is None:
            value.update(zip(islice(args, 2, None, 2), islice(args, 3, None, 2)))
        else:
            for i in range(2, argc, 2):
                field = args[i]
                if field not in value:
                    index.add(field)
                value[field] = args[i + 1]
        created = len(value) - before
        if not value.hashtable:
            # Redis checks every argument before writing any; the outcome is the same.
            _check_listpack(c, value, max(map(len, islice(args, 2, None))))
    c.modified(key, (argc - 2) >> 1)
    c.notify("h", "hset", key)
    return int(created)


@command("hset", -4, "write denyoom fast", "@hash", keys=[KeySpec("RW update", index=1)],
         group="hash", since="2.0.0", summary="Set fields of a hash, creating it if needed",
         complexity="O(1) per field/value pair")  # fmt: skip
def hset(c: Client, args: list[bytes]) -> Any:
    return _hset_generic(c, args, "hset")


@command("hmset", -4, "write denyoom fast", "@hash", keys=[KeySpec("RW update", index=1)],
         group="hash", since="2.0.0", summary="Set fields of a hash (answers OK; HSET does the same and counts)",
         complexity="O(1) per field/value pair")  # fmt: skip
def hmset(c: Client, args: list[bytes]) -> Any:
    _hset_generic(c, args, "hmset")
    return OK


@command("hsetnx", 4, "write denyoom fast", "@hash", keys=[KeySpec("RW insert", index=1)],
         group="hash", since="2.0.0", summary="Set a field of a hash only if the field is missing",
         complexity="O(1)")  # fmt: skip
def hsetnx(c: Client, args: list[bytes]) -> Any:
    key, field = args[1], args[2]
    value = _hash_for_write(c, key)
    if field in value:
        return 0
    _set_field(c, value, field, args[3])
    c.modified(key)
    c.notify("h", "hset", key)
    return 1


@command("hdel", -3, "write fast", "@hash", keys=[KeySpec("RW delete", index=1)],
         group="hash", since="2.0.0", summary="Delete fields of a hash",
         complexity="O(1) per field deleted")  # fmt: skip
def hdel(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    value = _get_hash(c.db, key)
    if value is None:
        return 0
    deleted = 0
    index = value.scan_order
    for field in islice(args, 2, None):
        if value.pop(field, None) is not None:
            deleted += 1
            if index is not None:
                index.discard(field)
            if not value:
                break
    if deleted:
        if not value:
            c.db.delete(key)
        c.modified(key, deleted)
        c.notify("h", "hdel", key)
        if not value:
            c.notify("g", "del", key)
    return deleted


@command("hincrby", 4, "write denyoom fast", "@hash", keys=[KeySpec("RW access update", index=1)],
         group="hash", since="2.0.0", summary="Add an integer to the integer value of a hash field",
         complexity="O(1)")  # fmt: skip
def hincrby(c: Client, args: list[bytes]) -> Any:
    increment = parse_int(args[3])
    key, field = args[1], args[2]
    value = _hash_for_write(c, key)
    current = value.get(field)
    if current is None:
        number = 0
    else:
        parsed = strict_int(current)
        if parsed is None:
            raise CommandError(errors.HASH_VALUE_NOT_INTEGER)
        number = parsed
    result = number + increment
    if not -LONG_MAX - 1 <= result <= LONG_MAX:
        raise CommandError(errors.INCR_OVERFLOW)
    _set_field(c, value, field, b"%d" % result)
    c.modified(key)
    c.notify("h", "hincrby", key)
    return result


@command("hincrbyfloat", 4, "write denyoom fast", "@hash", keys=[KeySpec("RW access update", index=1)],
         group="hash", since="2.6.0", summary="Add a floating point number to the value of a hash field",
         complexity="O(1)")  # fmt: skip
def hincrbyfloat(c: Client, args: list[bytes]) -> Any:
    increment = parse_long_double(args[3])
    if increment is None:
        raise CommandError(errors.NOT_FLOAT)
    if isinstance(increment, float):  # the parser gives a float only for +-inf
        raise CommandError(errors.INCREMENT_NAN_OR_INF)
    key, field = args[1], args[2]
    value = _hash_for_write(c, key)
    current = value.get(field)
    if current is not None and parse_long_double(current) is None:
        raise CommandError(errors.HASH_VALUE_NOT_FLOAT)
    result = long_double_add(current, args[3])
    _set_field(c, value, field, result)
    c.modified(key)
    c.notify("h", "hincrbyfloat", key)
    return result


# -- reading ---------------------------------------------------------------------------------


@command("hget", 3, "readonly fast", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.0.0", summary="Get the value of a hash field", complexity="O(1)")  # fmt: skip
def hget(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return None if value is None else value.get(args[2])


@command("hmget", -3, "readonly fast", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.0.0", summary="Get the values of several hash fields",
         complexity="O(1) per field requested")  # fmt: skip
def hmget(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    if value is None:
        return [None] * (len(args) - 2)
    get = value.get
    return [get(field) for field in islice(args, 2, None)]


@command("hlen", 2, "readonly fast", "@hash", keys=[KeySpec("RO", index=1)],
         group="hash", since="2.0.0", summary="Get the number of fields of a hash", complexity="O(1)")  # fmt: skip
def hlen(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return 0 if value is None else len(value)


@command("hstrlen", 3, "readonly fast", "@hash", keys=[KeySpec("RO", index=1)],
         group="hash", since="3.2.0", summary="Get the length in bytes of the value of a hash field",
         complexity="O(1)")  # fmt: skip
def hstrlen(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    if value is None:
        return 0
    found = value.get(args[2])
    return 0 if found is None else len(found)


@command("hexists", 3, "readonly fast", "@hash", keys=[KeySpec("RO", index=1)],
         group="hash", since="2.0.0", summary="Tell whether a field exists in a hash", complexity="O(1)")  # fmt: skip
def hexists(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return 1 if value is not None and args[2] in value else 0


@command("hkeys", 2, "readonly", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.0.0", tips="nondeterministic_output_order",
         summary="Get every field name of a hash", complexity="O(N) with N the size of the hash")  # fmt: skip
def hkeys(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return [] if value is None else list(value)


@command("hvals", 2, "readonly", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.0.0", tips="nondeterministic_output_order",
         summary="Get every value of a hash", complexity="O(N) with N the size of the hash")  # fmt: skip
def hvals(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return [] if value is None else list(value.values())


@command("hgetall", 2, "readonly", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.0.0", tips="nondeterministic_output_order",
         summary="Get every field and value of a hash (a map in RESP3)",
         complexity="O(N) with N the size of the hash")  # fmt: skip
def hgetall(c: Client, args: list[bytes]) -> Any:
    value = _get_hash(c.db, args[1], read=True)
    return Map(() if value is None else value.items())


# -- random fields and scanning ---------------------------------------------------------------


def _field_reply(c: Client, pairs: Iterable[tuple[bytes, bytes]], with_values: bool) -> list[Any]:
    """HRANDFIELD's array: fields, or with values flat (RESP2) or as pairs (RESP3)."""
    if not with_values:
        return [field for field, _ in pairs]
    if c.resp == 2:
        return [item for pair in pairs for item in pair]
    return [list(pair) for pair in pairs]


@command("hrandfield", -2, "readonly", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="6.2.0", tips="nondeterministic_output",
         summary="Get random fields of a hash, optionally with their values",
         complexity="O(N) with N the number of fields returned")  # fmt: skip
def hrandfield(c: Client, args: list[bytes]) -> Any:
    argc = len(args)
    if argc == 2:
        value = _get_hash(c.db, args[1], read=True)
        return None if value is None else next(islice(value, random.randrange(len(value)), None))
    wanted = parse_int(args[2])
    if wanted < -LONG_MAX:
        raise CommandError(errors.value_not_between(-LONG_MAX, LONG_MAX))
    if argc > 4 or (argc == 4 and args[3].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    with_values = argc == 4
    if with_values and not -(LONG_MAX // 2) <= wanted <= LONG_MAX // 2:
        raise CommandError(errors.VALUE_OUT_OF_RANGE)
    value = _get_hash(c.db, args[1], read=True)
    if value is None or wanted == 0:
        return []
    pairs = list(value.items())
    if wanted < 0 or wanted == 1:  # with repetitions, in random order
        return _field_reply(c, random.choices(pairs, k=-wanted if wanted < 0 else 1), with_values)
    if wanted >= len(pairs):  # the whole hash, in its order
        return _field_reply(c, pairs, with_values)
    return _field_reply(c, random.sample(pairs, wanted), with_values)


@command("hscan", -3, "readonly", "@hash", keys=[KeySpec("RO access", index=1)],
         group="hash", since="2.8.0", tips="nondeterministic_output",
         summary="Iterate over the fields and values of a hash with a cursor",
         complexity="O(1) per call; O(N) for a whole iteration over N fields")  # fmt: skip
def hscan(c: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    value = _get_hash(c.db, args[1], read=True)
    if value is None:
        return [b"0", []]
    pattern, count = parse_scan_options(args, 3)
    if not value.hashtable:  # small: everything at once, as Redis does for a listpack
        next_cursor, fields = 0, list(value)
    else:
        if value.scan_order is None:
            value.scan_order = ScanIndex(value)
        next_cursor, fields = value.scan_order.page(cursor, count)
    get = value.get
    return [b"%d" % next_cursor, [item for field in filter_matching(fields, pattern) for item in (field, get(field))]]
