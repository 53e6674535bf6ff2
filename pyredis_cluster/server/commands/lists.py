"""List commands, blocking ones included (Redis 7.0 ``t_list.c`` semantics).

Theory of operation
-------------------
A list is a :class:`ListValue`, a ``collections.deque`` of ``bytes``: pushes and pops
at both ends are O(1) in C, which keeps LPUSH/RPUSH/LPOP/RPOP (benchmarked hot paths)
lean. Positional commands (LINDEX, LSET, LRANGE...) walk from whichever end is nearer,
as Redis's quicklist does. Redis 7.0 stores every list as a ``quicklist`` (the
one-listpack ``listpack`` list encoding arrived in 7.2), so :func:`list_encoding` always
answers ``quicklist``, whatever ``list-max-listpack-size`` says.

Redis never keeps an empty list: a command that removes the last element deletes the
key and fires the ``del`` event after its own (``lpop``, ``rpop``, ``lrem``, ``ltrim``).
Checks happen in Redis's order, which clients observe when several things are wrong at
once: e.g. LRANGE parses its indexes before looking the key up, LINDEX and LSET look
the key up (nil / "no such key" / WRONGTYPE) before parsing the index, LPOS parses all
options first, and LMOVE checks the destination's type before popping the source.

Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) first try to act like
their non-blocking twin; when every key is missing they return a
:class:`~..client.Blocked` and the framework (``server/blocking.py``) parks the client.
When a push makes one of its keys exist again, the framework re-runs the handler for
that key, first blocked first served. Redis 7.0 serves such a client *from the key that
became ready* (not from the first of its keys that is non-empty) and leaves it blocked
when that key now holds another type; the handlers do the same by looking only at
``node.blocking.serving_key`` when re-run. Inside MULTI/EXEC the framework answers the
timeout reply at once (a null array); BLMOVE and BRPOPLPUSH answer a null bulk there
instead, and a null array on a real timeout, as Redis 7.0 does. A BLMOVE whose push
creates its destination makes that key ready in turn, so chains of blocked BLMOVEs
unwind within the same serving round, as in Redis.

Keyspace events (class ``l`` unless said): ``lpush``, ``rpush``, ``lpop``, ``rpop``,
``lset``, ``linsert``, ``lrem``, ``ltrim``, and ``del`` (class ``g``) when a list is
emptied. LMOVE fires the destination's push event before the source's pop event, like
Redis.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from itertools import islice
from typing import Any

from ...protocol.encoder import NULL_ARRAY, OK
from .. import errors
from ..args import LONG_MAX, LONG_MIN, ArgCursor, parse_int
from ..client import Blocked, Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from ..keyspace import Database
from .strings import parse_long_double


class ListValue(deque):  # type: ignore[type-arg]
    """A Redis list: a deque of ``bytes`` elements, head on the left."""

    __slots__ = ()
    TYPE_NAME = "list"


def new_list(elements: Iterable[bytes]) -> ListValue:
    """A list value holding ``elements`` head first (for SORT ... STORE, RESTORE...)."""
    return ListValue(elements)


def list_encoding(value: ListValue) -> str:
    """OBJECT ENCODING of a list: always 'quicklist' in Redis 7.0."""
    return "quicklist"


# -- helpers ---------------------------------------------------------------------------------


def _get_list(db: Database, key: bytes, read: bool = False) -> ListValue | None:
    """The list at ``key`` or None; WRONGTYPE if the key holds another type.

    ``read`` counts a keyspace hit or miss (Redis's lookupKeyRead, for read commands).
    """
    value = db.lookup_read(key) if read else db.get(key)
    if value is not None and type(value) is not ListValue:
        raise CommandError(errors.WRONGTYPE)
    return value


def _parse_side(arg: bytes) -> bool:
    """LEFT -> True, RIGHT -> False (any letter case); a syntax error otherwise."""
    word = arg.lower()
    if word == b"left":
        return True
    if word == b"right":
        return False
    raise CommandError(errors.SYNTAX)


def _elements_removed(c: Client, key: bytes, value: ListValue, left: bool, count: int) -> None:
    """After popping ``count`` elements: events, deletion of an emptied list, dirty."""
    c.notify("l", "lpop" if left else "rpop", key)
    if not value:
        c.db.delete(key)
        c.notify("g", "del", key)
    c.modified(key, count)


def _pop_many(value: ListValue, left: bool, count: int) -> list[bytes]:
    """Pop up to ``count`` elements from one end, in the order they were popped."""
    pop = value.popleft if left else value.pop
    return [pop() for _ in range(min(count, len(value)))]


def _push_to(c: Client, key: bytes, target: ListValue | None, element: bytes, left: bool) -> None:
    """Push one element on the destination of a move (Redis's lmoveHandlePush)."""
    if target is None:
        c.db.add(key, ListValue((element,)))  # a new list wakes clients blocked on the key
    elif left:
        target.appendleft(element)
    else:
        target.append(element)
    c.modified(key, 0)
    c.notify("l", "lpush" if left else "rpush", key)


def _move(c: Client, source_key: bytes, source: ListValue, target_key: bytes, from_left: bool, to_left: bool) -> bytes:
    """Move one element between lists (LMOVE and friends); ``source`` is non-empty."""
    target = _get_list(c.db, target_key)  # a wrong destination type stops us before the pop
    element = source.popleft() if from_left else source.pop()
    _push_to(c, target_key, target, element, to_left)
    c.notify("l", "lpop" if from_left else "rpop", source_key)
    if not source:
        c.db.delete(source_key)
        c.notify("g", "del", source_key)
    c.modified(source_key)
    return element


def _normalize_range(start: int, end: int, length: int) -> tuple[int, int] | None:
    """Redis's inclusive [start, end] with negative indexes, clamped; None if empty."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    return start, min(end, length - 1)


def _slice(value: ListValue, start: int, end: int) -> list[bytes]:
    """Elements start..end (inclusive, valid indexes), walking from the nearer end."""
    length = len(value)
    if end + 1 <= length - start:
        return list(islice(value, start, end + 1))
    tail_first = list(islice(reversed(value), length - 1 - end, length - start))
    tail_first.reverse()
    return tail_first


def parse_timeout(c: Client, arg: bytes) -> int:
    """A blocking timeout in seconds -> absolute deadline in unix ms, 0 for "forever".

    Redis reads a ``long double`` (strtold: hex floats and "inf" allowed, overflow and
    underflow refused), takes the ceiling of the milliseconds and casts it to a long
    long, which on x86-64 turns anything out of range (inf included) into a negative
    number: hence "timeout is negative" for 1e30 but "not a float" for 1e5000.
    """
    seconds = parse_long_double(arg)
    if seconds is None:
        raise CommandError(errors.TIMEOUT_NOT_FLOAT)
    if isinstance(seconds, float):  # +-inf
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    millis = math.ceil(seconds * 1000)
    if not 0 <= millis <= LONG_MAX:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    return c.node.keyspace.now_ms + millis if millis else 0


def _blocking_keys(c: Client, keys: list[bytes]) -> list[bytes]:
    """The keys a blocking pop may take from: all of them, or, when the framework re-runs
    a blocked command for a key that became ready, that key only (Redis 7.0 serves a
    blocked client from the ready key)."""
    serving = c.node.blocking.serving_key
    if serving is not None and c.blocked is not None:
        return [serving]
    return keys


def _first_list(c: Client, keys: list[bytes]) -> tuple[bytes, ListValue] | None:
    """The first of ``keys`` holding a list, for the (blocking) multi-key pops.

    A key of another type is an error, except when re-run for a ready key that turned
    out to hold another type: then the client stays blocked, as in Redis 7.0.
    """
    db = c.db
    rerun = c.blocked is not None
    for key in keys:
        value = db.get(key)
        if value is None:
            continue
        if type(value) is not ListValue:
            if rerun:
                return None
            raise CommandError(errors.WRONGTYPE)
        if value:
            return key, value
    return None


def _parse_lmpop(args: list[bytes], numkeys_index: int) -> tuple[list[bytes], bool, int]:
    """``numkeys key... LEFT|RIGHT [COUNT n]`` of LMPOP/BLMPOP -> (keys, left, count)."""
    numkeys = parse_int(args[numkeys_index], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    side_index = numkeys_index + numkeys + 1
    if side_index >= len(args):
        raise CommandError(errors.SYNTAX)
    left = _parse_side(args[side_index])
    count = -1
    options = ArgCursor(args, side_index + 1)
    while options:
        if count == -1 and options.keyword() == "COUNT" and options.remaining:
            count = parse_int(options.take(), errors.COUNT_NOT_POSITIVE)
            if count < 1:
                raise CommandError(errors.COUNT_NOT_POSITIVE)
        else:
            raise CommandError(errors.SYNTAX)
    return args[numkeys_index + 1 : side_index], left, max(count, 1)


# -- push --------------------------------------------------------------------------------------


def _push(c: Client, args: list[bytes], left: bool, only_existing: bool) -> int:
    key = args[1]
    db = c.db
    value = db.get(key)
    if value is None:
        if only_existing:
            return 0
        value = ListValue()
        if left:
            value.extendleft(islice(args, 2, None))
        else:
            value.extend(islice(args, 2, None))
        db.add(key, value)  # filled first: a new list wakes clients blocked on the key
    elif type(value) is not ListValue:
        raise CommandError(errors.WRONGTYPE)
    elif left:
        value.extendleft(islice(args, 2, None))
    else:
        value.extend(islice(args, 2, None))
    c.modified(key, len(args) - 2)
    c.notify("l", "lpush" if left else "rpush", key)
    return len(value)


@command("lpush", -3, "write denyoom fast", "@list", keys=[KeySpec("RW insert", index=1)],
         group="list", since="1.0.0", summary="Add elements at the head of a list, creating it if needed",
         complexity="O(1) per element added")  # fmt: skip
def lpush(c: Client, args: list[bytes]) -> Any:
    return _push(c, args, True, False)


@command("rpush", -3, "write denyoom fast", "@list", keys=[KeySpec("RW insert", index=1)],
         group="list", since="1.0.0", summary="Add elements at the tail of a list, creating it if needed",
         complexity="O(1) per element added")  # fmt: skip
def rpush(c: Client, args: list[bytes]) -> Any:
    return _push(c, args, False, False)


@command("lpushx", -3, "write denyoom fast", "@list", keys=[KeySpec("RW insert", index=1)],
         group="list", since="2.2.0", summary="Add elements at the head of a list only if the list exists",
         complexity="O(1) per element added")  # fmt: skip
def lpushx(c: Client, args: list[bytes]) -> Any:
    return _push(c, args, True, True)


@command("rpushx", -3, "write denyoom fast", "@list", keys=[KeySpec("RW insert", index=1)],
         group="list", since="2.2.0", summary="Add elements at the tail of a list only if the list exists",
         complexity="O(1) per element added")  # fmt: skip
def rpushx(c: Client, args: list[bytes]) -> Any:
    return _push(c, args, False, True)


# -- pop ---------------------------------------------------------------------------------------


def _pop(c: Client, args: list[bytes], left: bool) -> Any:
    argc = len(args)
    if argc > 3:
        raise CommandError(errors.wrong_arity("lpop" if left else "rpop"))
    key = args[1]
    count = -1
    if argc == 3:
        count = parse_int(args[2], errors.VALUE_MUST_BE_POSITIVE)
        if count < 0:
            raise CommandError(errors.VALUE_MUST_BE_POSITIVE)
    value = c.db.get(key)
    if value is None:
        return None if count < 0 else NULL_ARRAY
    if type(value) is not ListValue:
        raise CommandError(errors.WRONGTYPE)
    if count < 0:
        element = value.popleft() if left else value.pop()
        _elements_removed(c, key, value, left, 1)
        return element
    if count == 0:
        return []
    popped = _pop_many(value, left, count)
    _elements_removed(c, key, value, left, len(popped))
    return popped


@command("lpop", -2, "write fast", "@list", keys=[KeySpec("RW access delete", index=1)],
         group="list", since="1.0.0", summary="Remove and return elements from the head of a list",
         complexity="O(N) with N the number of elements returned")  # fmt: skip
def lpop(c: Client, args: list[bytes]) -> Any:
    return _pop(c, args, True)


@command("rpop", -2, "write fast", "@list", keys=[KeySpec("RW access delete", index=1)],
         group="list", since="1.0.0", summary="Remove and return elements from the tail of a list",
         complexity="O(N) with N the number of elements returned")  # fmt: skip
def rpop(c: Client, args: list[bytes]) -> Any:
    return _pop(c, args, False)


@command("lmpop", -4, "write", "@list", keys=[KeySpec("RW access delete", index=1, keynum=(0, 1, 1))],
         group="list", since="7.0.0", summary="Pop elements from the first non-empty list of several",
         complexity="O(N+M) with N the number of keys given and M the number of elements popped")  # fmt: skip
def lmpop(c: Client, args: list[bytes]) -> Any:
    keys, left, count = _parse_lmpop(args, 1)
    found = _first_list(c, keys)
    if found is None:
        return NULL_ARRAY
    key, value = found
    popped = _pop_many(value, left, count)
    _elements_removed(c, key, value, left, len(popped))
    return [key, popped]


# -- reading and editing by position -------------------------------------------------------------


@command("llen", 2, "readonly fast", "@list", keys=[KeySpec("RO", index=1)],
         group="list", since="1.0.0", summary="Get the number of elements of a list", complexity="O(1)")  # fmt: skip
def llen(c: Client, args: list[bytes]) -> Any:
    value = _get_list(c.db, args[1], read=True)
    return 0 if value is None else len(value)


@command("lindex", 3, "readonly", "@list", keys=[KeySpec("RO access", index=1)],
         group="list", since="1.0.0", summary="Get the element at an index of a list",
         complexity="O(N) with N the distance from the nearer end to the index")  # fmt: skip
def lindex(c: Client, args: list[bytes]) -> Any:
    value = _get_list(c.db, args[1], read=True)
    if value is None:
        return None
    index = parse_int(args[2])
    if -len(value) <= index < len(value):
        return value[index]
    return None


@command("lset", 4, "write denyoom", "@list", keys=[KeySpec("RW update", index=1)],
         group="list", since="1.0.0", summary="Replace the element at an index of a list",
         complexity="O(N) with N the distance from the nearer end to the index")  # fmt: skip
def lset(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    value = _get_list(c.db, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    index = parse_int(args[2])
    if not -len(value) <= index < len(value):
        raise CommandError(errors.OUT_OF_RANGE)
    value[index] = args[3]
    c.modified(key)
    c.notify("l", "lset", key)
    return OK


@command("lrange", 4, "readonly", "@list", keys=[KeySpec("RO access", index=1)],
         group="list", since="1.0.0", summary="Get a range of elements of a list",
         complexity="O(S+N) with S the distance from the nearer end and N the elements returned")  # fmt: skip
def lrange(c: Client, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    value = _get_list(c.db, args[1], read=True)
    if value is None:
        return []
    bounds = _normalize_range(start, end, len(value))
    return [] if bounds is None else _slice(value, *bounds)


@command("ltrim", 4, "write", "@list", keys=[KeySpec("RW delete", index=1)],
         group="list", since="1.0.0", summary="Keep only a range of elements of a list",
         complexity="O(N) with N the number of elements removed")  # fmt: skip
def ltrim(c: Client, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    key = args[1]
    value = _get_list(c.db, key)
    if value is None:
        return OK
    length = len(value)
    bounds = _normalize_range(start, end, length)
    if bounds is None:
        removed = length
        value.clear()
    else:
        start, end = bounds
        removed = length - (end - start + 1)
        if removed > end - start + 1:  # keeping the smaller part: copy it out
            kept = _slice(value, start, end)
            value.clear()
            value.extend(kept)
        else:
            for _ in range(start):
                value.popleft()
            for _ in range(length - 1 - end):
                value.pop()
    c.notify("l", "ltrim", key)
    if not value:
        c.db.delete(key)
        c.notify("g", "del", key)
    c.modified(key, removed)
    return OK


@command("lrem", 4, "write", "@list", keys=[KeySpec("RW delete", index=1)],
         group="list", since="1.0.0", summary="Remove occurrences of an element from a list",
         complexity="O(N+M) with N the length of the list and M the number of elements removed")  # fmt: skip
def lrem(c: Client, args: list[bytes]) -> Any:
    to_remove = parse_int(args[2])
    key = args[1]
    value = _get_list(c.db, key)
    if value is None:
        return 0
    element = args[3]
    if to_remove == 1 or (to_remove == 0 and value.count(element) <= 1):
        removed = 1 if element in value else 0
        if removed:
            value.remove(element)  # deque.remove takes the first occurrence
    else:
        limit = abs(to_remove) or len(value)
        survivors: list[bytes] = []
        removed = 0
        walk = reversed(value) if to_remove < 0 else iter(value)
        for item in walk:
            if removed < limit and item == element:
                removed += 1
            else:
                survivors.append(item)
        if removed:
            if to_remove < 0:
                survivors.reverse()
            value.clear()
            value.extend(survivors)
    if removed:
        c.modified(key, removed)
        c.notify("l", "lrem", key)
    if not value:
        c.db.delete(key)
        c.notify("g", "del", key)
    return removed


@command("linsert", 5, "write denyoom", "@list", keys=[KeySpec("RW insert", index=1)],
         group="list", since="2.2.0", summary="Insert an element before or after another element of a list",
         complexity="O(N) with N the number of elements before the pivot")  # fmt: skip
def linsert(c: Client, args: list[bytes]) -> Any:
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise CommandError(errors.SYNTAX)
    key = args[1]
    value = _get_list(c.db, key)
    if value is None:
        return 0
    try:
        position = value.index(args[3])
    except ValueError:
        return -1
    value.insert(position if where == b"before" else position + 1, args[4])
    c.modified(key)
    c.notify("l", "linsert", key)
    return len(value)


@command("lpos", -3, "readonly", "@list", keys=[KeySpec("RO access", index=1)],
         group="list", since="6.0.6", summary="Find the indexes of the elements equal to a value in a list",
         complexity="O(N) with N the number of elements scanned")  # fmt: skip
def lpos(c: Client, args: list[bytes]) -> Any:
    rank, count, maxlen = 1, -1, 0  # count -1: no COUNT option
    options = ArgCursor(args, 3)
    while options:
        word = options.keyword()
        if not options.remaining:
            raise CommandError(errors.SYNTAX)
        if word == "RANK":
            rank = parse_int(options.take())
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif word == "COUNT":
            count = parse_int(options.take(), errors.LPOS_COUNT_NEGATIVE)
            if count < 0:
                raise CommandError(errors.LPOS_COUNT_NEGATIVE)
        elif word == "MAXLEN":
            maxlen = parse_int(options.take(), errors.LPOS_MAXLEN_NEGATIVE)
            if maxlen < 0:
                raise CommandError(errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX)
    value = _get_list(c.db, args[1], read=True)
    if value is None:
        return [] if count != -1 else None
    element = args[2]
    length = len(value)
    if rank == LONG_MIN:
        # Redis negates the rank in C, where -LONG_MIN stays negative: every match then
        # counts as "past the rank" (so it searches from the tail like RANK -1), and its
        # "matches - rank + 1 >= COUNT" test overflows and never stops the search.
        rank = -1
        if count > 0:
            count = 0
    from_tail = rank < 0
    skip = abs(rank) - 1  # matches to pass over before the first one reported
    walk: Iterable[bytes] = reversed(value) if from_tail else value
    if maxlen:
        walk = islice(walk, maxlen)
    found: list[int] = []
    for scanned, item in enumerate(walk):
        if item != element:
            continue
        if skip:
            skip -= 1
            continue
        found.append(length - 1 - scanned if from_tail else scanned)
        if count == -1 or len(found) == count:
            break
    if count == -1:
        return found[0] if found else None
    return found


# -- moving between lists ---------------------------------------------------------------------------


@command("lmove", 5, "write denyoom", "@list",
         keys=[KeySpec("RW access delete", index=1), KeySpec("RW insert", index=2)],
         group="list", since="6.2.0", summary="Pop an element from one end of a list and push it on another list",
         complexity="O(1)")  # fmt: skip
def lmove(c: Client, args: list[bytes]) -> Any:
    from_left = _parse_side(args[3])
    to_left = _parse_side(args[4])
    source = _get_list(c.db, args[1])
    if source is None:
        return None
    return _move(c, args[1], source, args[2], from_left, to_left)


@command("rpoplpush", 3, "write denyoom", "@list",
         keys=[KeySpec("RW access delete", index=1), KeySpec("RW insert", index=2)],
         group="list", since="1.2.0", summary="Pop the tail of a list and push it on the head of another list",
         complexity="O(1)")  # fmt: skip
def rpoplpush(c: Client, args: list[bytes]) -> Any:
    source = _get_list(c.db, args[1])
    if source is None:
        return None
    return _move(c, args[1], source, args[2], False, True)


# -- blocking variants --------------------------------------------------------------------------


def _blocking_pop(c: Client, args: list[bytes], left: bool) -> Any:
    deadline = parse_timeout(c, args[-1])
    keys = args[1:-1]
    found = _first_list(c, _blocking_keys(c, keys))
    if found is None:
        return Blocked(keys, deadline, NULL_ARRAY)
    key, value = found
    element = value.popleft() if left else value.pop()
    _elements_removed(c, key, value, left, 1)
    return [key, element]


@command("blpop", -3, "write noscript blocking", "@list", keys=[KeySpec("RW access delete", index=1, lastkey=-2)],
         group="list", since="2.0.0", summary="Pop the head of the first non-empty list, or wait for one",
         complexity="O(N) with N the number of keys given")  # fmt: skip
def blpop(c: Client, args: list[bytes]) -> Any:
    return _blocking_pop(c, args, True)


@command("brpop", -3, "write noscript blocking", "@list", keys=[KeySpec("RW access delete", index=1, lastkey=-2)],
         group="list", since="2.0.0", summary="Pop the tail of the first non-empty list, or wait for one",
         complexity="O(N) with N the number of keys given")  # fmt: skip
def brpop(c: Client, args: list[bytes]) -> Any:
    return _blocking_pop(c, args, False)


def _blocking_move(c: Client, args: list[bytes], from_left: bool, to_left: bool, deadline: int) -> Any:
    source_key = args[1]
    value = c.db.get(source_key)
    if value is not None and type(value) is not ListValue:
        if c.blocked is not None:  # re-run: the key came back with another type, keep waiting
            return Blocked([source_key], deadline, NULL_ARRAY)
        raise CommandError(errors.WRONGTYPE)
    if not value:
        if c.in_exec:  # cannot block: Redis answers a null bulk here, a null array on timeout
            return None
        return Blocked([source_key], deadline, NULL_ARRAY)
    return _move(c, source_key, value, args[2], from_left, to_left)


@command("blmove", 6, "write denyoom noscript blocking", "@list",
         keys=[KeySpec("RW access delete", index=1), KeySpec("RW insert", index=2)],
         group="list", since="6.2.0", summary="Move an element from one list to another, or wait for the source to have one",
         complexity="O(1)")  # fmt: skip
def blmove(c: Client, args: list[bytes]) -> Any:
    from_left = _parse_side(args[3])
    to_left = _parse_side(args[4])
    deadline = parse_timeout(c, args[5])
    return _blocking_move(c, args, from_left, to_left, deadline)


@command("brpoplpush", 4, "write denyoom noscript blocking", "@list",
         keys=[KeySpec("RW access delete", index=1), KeySpec("RW insert", index=2)],
         group="list", since="2.2.0", summary="Move the tail of a list to the head of another, or wait for one",
         complexity="O(1)")  # fmt: skip
def brpoplpush(c: Client, args: list[bytes]) -> Any:
    deadline = parse_timeout(c, args[3])
    return _blocking_move(c, args, False, True, deadline)


@command("blmpop", -5, "write blocking", "@list", keys=[KeySpec("RW access delete", index=2, keynum=(0, 1, 1))],
         group="list", since="7.0.0", summary="Pop elements from the first non-empty list of several, or wait for one",
         complexity="O(N+M) with N the number of keys given and M the number of elements popped")  # fmt: skip
def blmpop(c: Client, args: list[bytes]) -> Any:
    keys, left, count = _parse_lmpop(args, 2)
    deadline = parse_timeout(c, args[1])
    found = _first_list(c, _blocking_keys(c, keys))
    if found is None:
        return Blocked(keys, deadline, NULL_ARRAY)
    key, value = found
    popped = _pop_many(value, left, count)
    _elements_removed(c, key, value, left, len(popped))
    return [key, popped]
