"""Set commands (SADD, SINTER, SSCAN...) and the set value, with Redis 7.0's semantics.

Theory of operation
-------------------
A set is a :class:`SetValue`: a Python ``set`` of ``bytes`` members plus the name of
the encoding Redis 7.0 would use for it, because the encoding is visible to clients,
not only through OBJECT ENCODING:

* **intset**: every member is the canonical spelling of a 64-bit integer
  (``string2ll``: no ``+``, no leading zeros, no spaces) and there are at most
  ``set-max-intset-entries`` of them. Redis keeps these sorted, so every reply that
  walks an intset (SMEMBERS, SINTER from an intset, SUNION/SDIFF results, SRANDMEMBER
  of the whole set) lists the members in numeric order, and SSCAN returns the whole
  set at once with cursor 0.
* **hashtable**: anything else. The order of replies is arbitrary (Redis's is the
  order of its hash table; ours is Python's set order), and SSCAN walks a cursor.

A set is born an intset when its first member is an integer, and becomes a hashtable,
never to come back, when a non-integer member arrives or it grows past the limit.
Sets made by an operation (SINTERSTORE, SUNIONSTORE, SDIFFSTORE and the temporary sets
behind SUNION/SDIFF replies) start as intsets, so their encoding (and reply order)
depends on their content, with one exception kept on purpose: when Redis's SDIFF picks
its copy-then-remove algorithm, the copy of the first set may already have turned into a
hashtable. (Redis 7.2 added listpack sets; 7.0 has only these two.)

Random members come from a tuple snapshot of the set, cached until the set changes, so
repeated SRANDMEMBERs cost O(1). SPOP changes the set every time, so on big sets
(more than 1024 members) it takes ``set.pop()``'s member instead: arbitrary (in the
order of Python's per-process salted hash) rather than uniformly random.

SSCAN over a hashtable
~~~~~~~~~~~~~~~~~~~~~~
Redis's cursor walks hash table buckets in reversed-bit order, which guarantees that
an element present during the whole scan is returned at least once, even if the table
is resized in between. We give the same guarantee as SCAN does over the keyspace
(:class:`~..keyspace.ScanIndex`): the members are ordered by a 64-bit hash of their
bytes, the cursor is the hash value to resume from, and a page never splits members
that share a hash value. An element present from the first call to the last lies in
exactly one of the hash intervals the calls covered, and the call that covered its
interval saw it. The index is built by the first SSCAN and dropped when the set
changes (so SADD pays nothing for it). ZSCAN uses the same machinery.

Keyspace events are Redis's: ``sadd``, ``srem``, ``spop``, ``sinterstore``,
``sunionstore``, ``sdiffstore`` (class ``s``) and ``del`` (class ``g``) when a set is
emptied and deleted; Redis never keeps an empty set.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from ...protocol.encoder import SetReply
from ...protocol.parser import strict_int
from .. import errors
from ..args import LONG_MAX, parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from ..keyspace import Database, ScanIndex
from ..pubsub import glob_match
from .keys import parse_scan_cursor

#: Redis caps intsets at 2**30 entries whatever set-max-intset-entries says.
_INTSET_HARD_LIMIT = 1 << 30
#: SPOP with a count rebuilds the set from the survivors when it takes most of it.
_SPOP_MOVE_STRATEGY_MUL = 5
#: Above this size, copying a Python set into a tuple to pick a random member costs too
#: much for SPOP's hot path (the copy is dropped by the pop itself): set.pop() is used
#: instead, which removes an arbitrary member (in the order of the per-process salted
#: hash), unless a copy is already cached.
_RANDOM_PICK_COPY_LIMIT = 1024


class SetValue:
    """A Redis set: members (bytes) and whether Redis would encode it as an intset."""

    TYPE_NAME = "set"
    __slots__ = ("members", "intset", "_scan_order", "_pool")

    def __init__(self, members: set[bytes] | None = None, intset: bool = True) -> None:
        self.members: set[bytes] = members if members is not None else set()
        self.intset = intset
        #: The members in SSCAN order; built by the first SSCAN, dropped by any change.
        self._scan_order: ScanIndex | None = None
        #: The members as a tuple, for random picks; built on demand, dropped by any change.
        self._pool: tuple[bytes, ...] | None = None

    @property
    def encoding(self) -> str:
        return "intset" if self.intset else "hashtable"

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Any:
        return iter(self.members)

    def changed(self) -> None:
        """Forget what was derived from the members (call after changing them)."""
        self._scan_order = None
        self._pool = None

    def copy(self) -> SetValue:
        return SetValue(set(self.members), self.intset)

    def ordered(self) -> list[bytes]:
        """The members in the order Redis walks them: numeric for an intset."""
        if self.intset:
            return sorted(self.members, key=int)
        return list(self.members)

    def random_pool(self) -> tuple[bytes, ...]:
        """The members in a sequence, for random.choice/sample (cached while the set is unchanged)."""
        if self._pool is None:
            self._pool = tuple(self.members)
        return self._pool

    def pop_random(self) -> bytes:
        """Remove and return a random member (an arbitrary one from a big set: see above)."""
        members = self.members
        if len(members) > _RANDOM_PICK_COPY_LIMIT and self._pool is None:
            member = members.pop()
        else:
            member = random.choice(self.random_pool())
            members.discard(member)
        self.changed()
        return member

    def scan_index(self) -> ScanIndex:
        if self._scan_order is None:
            self._scan_order = ScanIndex(self.members)
        return self._scan_order


def set_encoding(value: SetValue) -> str:
    """OBJECT ENCODING of a set: 'intset' or 'hashtable'."""
    return value.encoding


def max_intset_entries(c: Client) -> int:
    return min(c.node.config.get("set-max-intset-entries"), _INTSET_HARD_LIMIT)


def intset_compatible(members: set[bytes], c: Client) -> bool:
    """True if Redis would hold these members in an intset."""
    return len(members) <= max_intset_entries(c) and all(strict_int(m) is not None for m in members)


def new_set(members: set[bytes], c: Client) -> SetValue:
    """A set built by an operation: an intset if its content allows, as Redis's result sets."""
    return SetValue(members, intset_compatible(members, c))


def reply_order(members: set[bytes], c: Client) -> list[bytes]:
    """Members of a SUNION-style result in Redis's reply order (numeric when intset-able)."""
    return new_set(members, c).ordered()


def get_set(db: Database, key: bytes, read: bool = True) -> SetValue | None:
    """The set at ``key`` (None if missing); WRONGTYPE if it holds something else."""
    value = db.lookup_read(key) if read else db.get(key)
    if value is not None and type(value) is not SetValue:
        raise CommandError(errors.WRONGTYPE)
    return value


def _add_members(value: SetValue, new: Iterable[bytes], c: Client) -> int:
    """Add members, switching the encoding to hashtable when Redis would; return how many."""
    members = value.members
    before = len(members)
    if value.intset:
        for member in new:
            if value.intset and strict_int(member) is None:
                value.intset = False
            members.add(member)
        if value.intset and len(members) > max_intset_entries(c):
            value.intset = False
    else:
        members.update(new)
    return len(members) - before


def _delete_emptied(c: Client, key: bytes) -> None:
    c.db.delete(key)
    c.notify("g", "del", key)


# -- scanning (shared with ZSCAN) ---------------------------------------------------------------


def parse_scan_options(args: list[bytes], start: int) -> tuple[bytes | None, int]:
    """MATCH pattern / COUNT n after a scan's cursor: (pattern or None for all, count)."""
    pattern: bytes | None = None
    count = 10
    i = start
    argc = len(args)
    while i < argc:
        option = args[i].lower()
        if option == b"count" and argc - i >= 2:
            count = parse_int(args[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif option == b"match" and argc - i >= 2:
            pattern = args[i + 1]
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    if pattern == b"*":  # matches everything: the same as no pattern, as in Redis
        pattern = None
    return pattern, count


def filter_matching(items: list[bytes], pattern: bytes | None) -> list[bytes]:
    if pattern is None:
        return items
    return [item for item in items if glob_match(pattern, item)]


# -- commands ----------------------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", "@set", keys=[KeySpec("RW insert", index=1)],
         group="set", since="1.0.0", summary="Add members to a set, creating it if needed",
         complexity="O(1) for each member added")  # fmt: skip
def sadd(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    db = c.db
    value = db.get(key)
    if value is None:
        value = SetValue(set(), strict_int(args[2]) is not None)
        db.add(key, value)
    elif type(value) is not SetValue:
        raise CommandError(errors.WRONGTYPE)
    if value.intset:
        added = _add_members(value, args[2:], c)
    else:
        members = value.members
        before = len(members)
        members.update(args[2:])
        added = len(members) - before
    if added:
        value.changed()
        c.modified(key, added)
        c.notify("s", "sadd", key)
    return added


@command("srem", -3, "write fast", "@set", keys=[KeySpec("RW delete", index=1)],
         group="set", since="1.0.0", summary="Remove members from a set",
         complexity="O(N) where N is the number of members to remove")  # fmt: skip
def srem(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    value = get_set(c.db, key, read=False)
    if value is None:
        return 0
    members = value.members
    deleted = 0
    for member in args[2:]:
        if member in members:
            members.discard(member)
            deleted += 1
            if not members:
                break
    if deleted:
        value.changed()
        c.modified(key, deleted)
        c.notify("s", "srem", key)
        if not members:
            _delete_emptied(c, key)
    return deleted


@command("smove", 4, "write fast", "@set",
         keys=[KeySpec("RW access delete", index=1), KeySpec("RW insert", index=2)],
         group="set", since="1.0.0", summary="Move a member from one set to another",
         complexity="O(1)")  # fmt: skip
def smove(c: Client, args: list[bytes]) -> Any:
    source_key, dest_key, member = args[1], args[2], args[3]
    db = c.db
    source = db.get(source_key)
    dest = db.get(dest_key)
    if source is None:
        return 0
    if type(source) is not SetValue or (dest is not None and type(dest) is not SetValue):
        raise CommandError(errors.WRONGTYPE)
    if source is dest:
        return int(member in source.members)
    if member not in source.members:
        return 0
    source.members.discard(member)
    source.changed()
    c.notify("s", "srem", source_key)
    if not source.members:
        _delete_emptied(c, source_key)
    if dest is None:
        dest = SetValue(set(), strict_int(member) is not None)
        db.add(dest_key, dest)
    c.modified(source_key)
    if _add_members(dest, (member,), c):
        dest.changed()
        c.modified(dest_key)
        c.notify("s", "sadd", dest_key)
    return 1


@command("sismember", 3, "readonly fast", "@set", keys=[KeySpec("RO", index=1)],
         group="set", since="1.0.0", summary="Tell whether a value is a member of a set",
         complexity="O(1)")  # fmt: skip
def sismember(c: Client, args: list[bytes]) -> Any:
    value = get_set(c.db, args[1])
    return int(value is not None and args[2] in value.members)


@command("smismember", -3, "readonly fast", "@set", keys=[KeySpec("RO access", index=1)],
         group="set", since="6.2.0", summary="Tell, for each of several values, whether it is a member of a set",
         complexity="O(N) where N is the number of values asked about")  # fmt: skip
def smismember(c: Client, args: list[bytes]) -> Any:
    value = get_set(c.db, args[1])
    members = value.members if value is not None else ()
    return [int(m in members) for m in args[2:]]


@command("scard", 2, "readonly fast", "@set", keys=[KeySpec("RO", index=1)],
         group="set", since="1.0.0", summary="Count the members of a set", complexity="O(1)")  # fmt: skip
def scard(c: Client, args: list[bytes]) -> Any:
    value = get_set(c.db, args[1])
    return len(value.members) if value is not None else 0


@command("spop", -2, "write fast", "@set", keys=[KeySpec("RW access delete", index=1)],
         group="set", since="1.0.0", tips="nondeterministic_output",
         summary="Remove and return random members of a set",
         complexity="O(1) without a count, O(N) with a count of N")  # fmt: skip
def spop(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    key = args[1]
    if len(args) == 3:
        return _spop_count(c, key, args[2])
    value = get_set(c.db, key, read=False)
    if value is None:
        return None
    member = value.pop_random()
    c.notify("s", "spop", key)
    if not value.members:
        _delete_emptied(c, key)
    c.modified(key)
    return member


def _spop_count(c: Client, key: bytes, count_arg: bytes) -> Any:
    count = parse_int(count_arg, errors.VALUE_MUST_BE_POSITIVE)
    if count < 0:
        raise CommandError(errors.VALUE_MUST_BE_POSITIVE)
    value = get_set(c.db, key, read=False)
    if value is None or count == 0:
        return SetReply()
    members = value.members
    size = len(members)
    c.notify("s", "spop", key)
    if count >= size:
        # Redis answers with SUNION of the set, so an all-integer set comes out sorted.
        reply = reply_order(members, c)
        c.db.delete(key)
        c.notify("g", "del", key)
        c.modified(key, size)
        return SetReply(reply)
    popped = random.sample(value.random_pool(), count)
    members.difference_update(popped)
    remaining = size - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL <= count:
        # Redis rebuilds the survivors into a new set here, which re-chooses the encoding.
        value.intset = intset_compatible(members, c)
    value.changed()
    c.modified(key, count)
    return SetReply(popped)


@command("srandmember", -2, "readonly", "@set", keys=[KeySpec("RO access", index=1)],
         group="set", since="1.0.0", tips="nondeterministic_output",
         summary="Return random members of a set without removing them",
         complexity="O(1) without a count, O(N) with a count of N")  # fmt: skip
def srandmember(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        value = get_set(c.db, args[1])
        return None if value is None else random.choice(value.random_pool())
    count = parse_count_with_sign(args[2])
    value = get_set(c.db, args[1])
    if value is None or count == 0:
        return []
    members = value.members
    if count < 0 or count == 1:
        return random.choices(value.random_pool(), k=abs(count))
    if count >= len(members):
        return value.ordered()
    return random.sample(value.random_pool(), count)


def parse_count_with_sign(arg: bytes) -> int:
    """A count for SRANDMEMBER/ZRANDMEMBER: any long but LONG_MIN (its negation overflows)."""
    count = parse_int(arg)
    if count < -LONG_MAX:
        raise CommandError(errors.value_not_between(-LONG_MAX, LONG_MAX))
    return count


def _lookup_sets(c: Client, keys: list[bytes]) -> list[SetValue | None]:
    """Every key as a set (None when missing); WRONGTYPE if any holds something else."""
    return [get_set(c.db, key) for key in keys]


def _intersection(sets: list[SetValue | None], limit: int = 0) -> list[bytes]:
    """Members in every set, in the walk order of the smallest set (Redis walks that one)."""
    if not sets or any(s is None for s in sets):
        return []
    present: list[SetValue] = sorted(sets, key=len)  # type: ignore[arg-type]
    smallest, others = present[0], [s.members for s in present[1:] if s is not present[0]]
    result = []
    for member in smallest.ordered():
        if all(member in other for other in others):
            result.append(member)
            if limit and len(result) >= limit:
                break
    return result


def _store_result(c: Client, dest_key: bytes, result: SetValue, event: str) -> int:
    """Store an operation's result at ``dest_key`` (deleting it when empty); return the size."""
    db = c.db
    if result.members:
        db.set(dest_key, result)
        c.modified(dest_key)
        c.notify("s", event, dest_key)
        return len(result.members)
    if db.delete(dest_key):
        c.modified(dest_key)
        c.notify("g", "del", dest_key)
    return 0


@command("smembers", 2, "readonly", "@set", keys=[KeySpec("RO access", index=1)],
         group="set", since="1.0.0", tips="nondeterministic_output_order",
         summary="List the members of a set", complexity="O(N) where N is the size of the set")  # fmt: skip
def smembers(c: Client, args: list[bytes]) -> Any:
    value = get_set(c.db, args[1])
    return SetReply(value.ordered()) if value is not None else SetReply()


@command("sinter", -2, "readonly", "@set", keys=[KeySpec("RO access", index=1, lastkey=-1)],
         group="set", since="1.0.0", tips="nondeterministic_output_order",
         summary="Intersect sets",
         complexity="O(N*M) worst case, N the size of the smallest set and M the number of sets")  # fmt: skip
def sinter(c: Client, args: list[bytes]) -> Any:
    return SetReply(_intersection(_lookup_sets(c, args[1:])))


@command("sintercard", -3, "readonly", "@set", keys=[KeySpec("RO access", index=1, keynum=(0, 1, 1))],
         group="set", since="7.0.0", summary="Count the members of the intersection of sets, up to a limit",
         complexity="O(N*M) worst case, N the size of the smallest set and M the number of sets")  # fmt: skip
def sintercard(c: Client, args: list[bytes]) -> Any:
    numkeys = parse_int(args[1], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    if numkeys > len(args) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = parse_int(args[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return len(_intersection(_lookup_sets(c, args[2 : 2 + numkeys]), limit))


@command("sinterstore", -3, "write denyoom", "@set",
         keys=[KeySpec("RW update", index=1), KeySpec("RO access", index=2, lastkey=-1)],
         group="set", since="1.0.0", summary="Store the intersection of sets in a key",
         complexity="O(N*M) worst case, N the size of the smallest set and M the number of sets")  # fmt: skip
def sinterstore(c: Client, args: list[bytes]) -> Any:
    members = set(_intersection(_lookup_sets(c, args[2:])))
    return _store_result(c, args[1], new_set(members, c), "sinterstore")


def _union(sets: list[SetValue | None]) -> set[bytes]:
    result: set[bytes] = set()
    for value in sets:
        if value is not None:
            result |= value.members
    return result


def _difference(sets: list[SetValue | None], c: Client) -> SetValue:
    """The first set minus the others, encoded as Redis's SDIFF result would be.

    Redis picks one of two algorithms by estimated work. The second one copies the whole
    first set into the result before removing the others' members, so the result has
    already become a hashtable if the first set could not be an intset, even when what
    remains could.
    """
    first = sets[0]
    if first is None or any(s is first for s in sets[1:]):
        return SetValue(set())
    others = [s.members for s in sets[1:] if s is not None]
    result = set(first.members)
    for members in others:
        result -= members
        if not result:
            break
    value = new_set(result, c)
    copies_first = len(first) * (len(others) + 1) // 2 > len(first) + sum(map(len, others))
    if copies_first and value.intset and not intset_compatible(first.members, c):
        value.intset = False
    return value


@command("sunion", -2, "readonly", "@set", keys=[KeySpec("RO access", index=1, lastkey=-1)],
         group="set", since="1.0.0", tips="nondeterministic_output_order",
         summary="Union of sets", complexity="O(N) where N is the total number of members of all the sets")  # fmt: skip
def sunion(c: Client, args: list[bytes]) -> Any:
    return SetReply(reply_order(_union(_lookup_sets(c, args[1:])), c))


@command("sunionstore", -3, "write denyoom", "@set",
         keys=[KeySpec("OW update", index=1), KeySpec("RO access", index=2, lastkey=-1)],
         group="set", since="1.0.0", summary="Store the union of sets in a key",
         complexity="O(N) where N is the total number of members of all the sets")  # fmt: skip
def sunionstore(c: Client, args: list[bytes]) -> Any:
    return _store_result(c, args[1], new_set(_union(_lookup_sets(c, args[2:])), c), "sunionstore")


@command("sdiff", -2, "readonly", "@set", keys=[KeySpec("RO access", index=1, lastkey=-1)],
         group="set", since="1.0.0", tips="nondeterministic_output_order",
         summary="Subtract sets from the first one",
         complexity="O(N) where N is the total number of members of all the sets")  # fmt: skip
def sdiff(c: Client, args: list[bytes]) -> Any:
    return SetReply(_difference(_lookup_sets(c, args[1:]), c).ordered())


@command("sdiffstore", -3, "write denyoom", "@set",
         keys=[KeySpec("OW update", index=1), KeySpec("RO access", index=2, lastkey=-1)],
         group="set", since="1.0.0", summary="Store the difference of sets in a key",
         complexity="O(N) where N is the total number of members of all the sets")  # fmt: skip
def sdiffstore(c: Client, args: list[bytes]) -> Any:
    return _store_result(c, args[1], _difference(_lookup_sets(c, args[2:]), c), "sdiffstore")


@command("sscan", -3, "readonly", "@set", keys=[KeySpec("RO access", index=1)],
         group="set", since="2.8.0", tips="nondeterministic_output",
         summary="Iterate over the members of a set",
         complexity="O(1) per call, O(N) for a whole iteration")  # fmt: skip
def sscan(c: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    value = get_set(c.db, args[1])
    if value is None:
        return [b"0", []]
    pattern, count = parse_scan_options(args, 3)
    if value.intset:  # small: everything at once, as Redis does for an intset
        return [b"0", filter_matching(value.ordered(), pattern)]
    next_cursor, page = value.scan_index().page(cursor, count)
    return [b"%d" % next_cursor, filter_matching(page, pattern)]
