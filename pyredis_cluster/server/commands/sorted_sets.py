"""Sorted set commands (ZADD, ZRANGE, ZUNIONSTORE, BZPOPMIN...) with Redis 7.0's semantics.

Theory of operation
-------------------
A sorted set is a :class:`ZSetValue`: a dict member -> score for O(1) lookups and a
``sortedcontainers.SortedList`` of ``(score, member)`` tuples for everything ordered.
Tuples order exactly as Redis's skiplist does: by score, then by member bytes
(``memcmp``, a shorter prefix first). Ranks are positions in the list, score ranges are
bisections, so ZRANGE/ZRANK/ZCOUNT are O(log N) plus the size of the answer.

The value also records the encoding Redis 7.0 would use, because clients can see it:

* **listpack** while the set has at most ``zset-max-listpack-entries`` members, none
  longer than ``zset-max-listpack-value`` bytes. A listpack stores integral scores as
  integers, so ``-0`` reads back as ``0`` there (we normalise it on the way in);
  ZSCAN returns a listpack whole, in order, with cursor 0 and Redis's ``d2string``
  score text (``100000000000000000``, not ``1e+17``); lex ranges are found by a linear
  walk.
* **skiplist** once it outgrows that (never back, except for sets an operation builds:
  ZUNIONSTORE & co and ZRANGESTORE choose from their result's size). ZSCAN walks a
  cursor (see :mod:`.sets` for the hash-ordered cursor and its guarantee) and prints
  scores with ``%.17g``; lex ranges are found by a binary search, like the skiplist's.
  (Lex ranges are only meaningful when all scores are equal; with mixed scores both
  Redis and we give some deterministic but unspecified answer.)

Scores are parsed like Redis: ZADD/ZINCRBY/WEIGHTS with ``getDoubleFromObject``
(``strtod`` over the whole argument, no leading space, no NaN, no overflow to
infinity or underflow to zero), range bounds with ``zslParseRange`` (``strtod`` with
leading spaces allowed, overflow saturating to infinity, an empty bound meaning 0, and
``(`` for an open end). Replies carry scores as doubles (``%.17g`` bulk strings in
RESP2, ``,`` doubles in RESP3); with WITHSCORES, RESP3 gets ``[member, score]`` pairs
and RESP2 a flat array, as Redis 7.0 does.

Blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) return :class:`~..client.Blocked` when every
key is empty; the framework re-runs them when a key is filled. On such a re-run a key
that now holds another type is skipped rather than reported, because Redis 7.0 only
serves a zset waiter from a zset.

Keyspace events are Redis's: ``zadd``, ``zincr``, ``zrem``, ``zremrangebyrank``,
``zremrangebyscore``, ``zremrangebylex``, ``zpopmin``, ``zpopmax``, ``zrangestore``,
``zunionstore``, ``zinterstore``, ``zdiffstore`` (class ``z``) and ``del`` (class ``g``)
when a sorted set is emptied and deleted.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from typing import Any

from sortedcontainers import SortedList

from ...protocol.encoder import NULL_ARRAY, Double
from .. import errors
from ..args import LONG_MAX, parse_int
from ..client import Blocked, Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from ..keyspace import Database, ScanIndex
from .keys import parse_scan_cursor
from .lists import parse_timeout  # the one Redis-exact blocking timeout parser
from .sets import SetValue, filter_matching, parse_count_with_sign, parse_scan_options

_INF = math.inf
#: Config names (Config.get with the canonical name is the cheap way to read them).
_MAX_ENTRIES, _MAX_VALUE = "zset-max-listpack-entries", "zset-max-listpack-value"
Entry = tuple[float, bytes]


class _AboveAll:
    """Compares greater than any member: ``(score, ABOVE_ALL)`` sorts after every ``(score, m)``."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __le__(self, other: object) -> bool:
        return other is self

    def __ge__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 0


ABOVE_ALL = _AboveAll()


class ZSetValue:
    """A Redis sorted set: member -> score, the (score, member) order, and its encoding."""

    TYPE_NAME = "zset"
    __slots__ = ("scores", "order", "listpack", "_scan_order")

    def __init__(self, listpack: bool = True) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self.listpack = listpack
        self._scan_order: ScanIndex | None = None

    @property
    def encoding(self) -> str:
        return "listpack" if self.listpack else "skiplist"

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Any:
        return iter(self.order)

    def copy(self) -> ZSetValue:
        clone = ZSetValue(self.listpack)
        clone.scores = dict(self.scores)
        clone.order = SortedList(self.order)
        return clone

    def insert(self, member: bytes, score: float) -> None:
        """Add a member that is not there yet."""
        if self.listpack and score == 0.0:
            score = 0.0  # a listpack stores integral scores as integers: -0 becomes 0
        self.scores[member] = score
        self.order.add((score, member))
        self._scan_order = None

    def update(self, member: bytes, old: float, new: float) -> None:
        if self.listpack and new == 0.0:
            new = 0.0
        self.order.remove((old, member))
        self.order.add((new, member))
        self.scores[member] = new

    def delete(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        self._scan_order = None
        return True

    def delete_slice(self, start: int, end: int) -> int:
        """Remove the entries at positions [start, end); return how many."""
        if end <= start:
            return 0
        victims = self.order[start:end]
        del self.order[start:end]
        scores = self.scores
        for _, member in victims:
            del scores[member]
        self._scan_order = None
        return len(victims)

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.bisect_left((score, member))

    def scan_index(self) -> ScanIndex:
        if self._scan_order is None:
            self._scan_order = ScanIndex(self.scores)
        return self._scan_order


def zset_encoding(value: ZSetValue) -> str:
    """OBJECT ENCODING of a sorted set: 'listpack' or 'skiplist'."""
    return value.encoding


def get_zset(db: Database, key: bytes, read: bool = True) -> ZSetValue | None:
    """The sorted set at ``key`` (None if missing); WRONGTYPE if it holds something else."""
    value = db.lookup_read(key) if read else db.get(key)
    if value is not None and type(value) is not ZSetValue:
        raise CommandError(errors.WRONGTYPE)
    return value


def build_zset(c: Client, entries: Iterable[Entry]) -> ZSetValue:
    """A sorted set made by an operation: listpack if small enough, as Redis decides for those."""
    value = ZSetValue(listpack=False)
    for score, member in entries:
        value.scores[member] = score
    config = c.node.config
    scores = value.scores
    max_value = config.get(_MAX_VALUE)
    if len(scores) <= config.get(_MAX_ENTRIES) and all(len(m) <= max_value for m in scores):
        value.listpack = True
        for member, score in scores.items():
            if score == 0.0:
                scores[member] = 0.0
    value.order = SortedList((score, member) for member, score in scores.items())
    return value


# -- parsing numbers and ranges -----------------------------------------------------------------

_HEX_RE = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?")
_INF_RE = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _underflowed(text: bytes, is_hex: bool) -> bool:
    """True if a number that came out as zero had a non-zero mantissa (strtod's ERANGE)."""
    text = text.lower()
    if is_hex:
        mantissa = text[text.index(b"x") + 1 :].split(b"p", 1)[0]
        return any(ch in b"123456789abcdef" for ch in mantissa)
    return any(ch in b"123456789" for ch in text.split(b"e", 1)[0])


def strtod_whole(text: bytes) -> tuple[float, bool] | None:
    """C's strtod over all of ``text``: (value, range error) or None if it does not parse.

    NaN counts as "does not parse": every caller refuses it. A range error is an
    overflow (the value saturates to +-inf) or an underflow to zero.
    """
    try:
        value = float(text)
    except ValueError:
        # strtod also reads hexadecimal floats (0x1p-3), which float() does not.
        if not _HEX_RE.fullmatch(text):
            return None
        try:
            value = float.fromhex(text.decode("ascii"))
        except OverflowError:
            return (-_INF if text[:1] == b"-" else _INF), True
        return value, value == 0.0 and _underflowed(text, True)
    # float() is more lenient than strtod: surrounding spaces, digit separators, NaN.
    if value != value or b"_" in text or text[:1].isspace() or text[-1:].isspace():
        return None
    if value == _INF or value == -_INF:
        return value, not _INF_RE.fullmatch(text)
    return value, value == 0.0 and _underflowed(text, False)


_SPACE_BYTES = frozenset(b" \t\n\v\f\r")


def parse_score(arg: bytes, error: str = errors.NOT_FLOAT) -> float:
    """A score or weight, as Redis's getDoubleFromObject."""
    try:
        value = float(arg)
    except ValueError:
        pass
    else:
        # The common case, cheaply: a finite non-zero number float() and strtod agree on.
        if (
            value - value == 0.0
            and value != 0.0
            and arg[0] not in _SPACE_BYTES
            and arg[-1] not in _SPACE_BYTES
            and b"_" not in arg
        ):
            return value
    parsed = strtod_whole(arg) if arg and arg[0] not in _SPACE_BYTES else None
    if parsed is None or parsed[1]:
        raise CommandError(error)
    return parsed[0]


def _range_bound(arg: bytes) -> tuple[float, bool]:
    """One end of a score range, as zslParseRange: (value, exclusive)."""
    exclusive = arg[:1] == b"("
    text = arg[1:] if exclusive else arg
    text = text.split(b"\0", 1)[0]  # strtod stops at a NUL, and Redis only checks *eptr
    if not text:
        return 0.0, exclusive  # strtod of "" converts nothing and leaves eptr on the NUL
    stripped = text.lstrip(b" \t\n\v\f\r")
    parsed = strtod_whole(stripped) if stripped else None
    if parsed is None:
        raise CommandError(errors.ZSET_MIN_MAX_NOT_FLOAT)
    return parsed[0], exclusive


class ScoreRange:
    """A score interval [min, max] with open ends, as Redis's zrangespec."""

    __slots__ = ("min", "minex", "max", "maxex")

    def __init__(self, min_arg: bytes, max_arg: bytes) -> None:
        self.min, self.minex = _range_bound(min_arg)
        self.max, self.maxex = _range_bound(max_arg)

    def is_empty(self) -> bool:
        return self.min > self.max or (self.min == self.max and (self.minex or self.maxex))

    def gte_min(self, score: float) -> bool:
        return score > self.min if self.minex else score >= self.min

    def lte_max(self, score: float) -> bool:
        return score < self.max if self.maxex else score <= self.max

    def slice(self, value: ZSetValue) -> tuple[int, int]:
        """Positions [start, end) of the entries in range."""
        if self.is_empty():
            return 0, 0
        order = value.order
        start = order.bisect_left((self.min, ABOVE_ALL) if self.minex else (self.min,))
        end = order.bisect_left((self.max,) if self.maxex else (self.max, ABOVE_ALL))
        return start, max(start, end)


#: Lex bound kinds: "-" (below everything), a member, "+" (above everything).
_LEX_MIN, _LEX_VALUE, _LEX_MAX = -1, 0, 1


def _lex_bound(arg: bytes) -> tuple[int, bytes, bool]:
    """One end of a lex range, as zslParseLexRangeItem: (kind, member, exclusive)."""
    first = arg[:1]
    if first == b"(":
        return _LEX_VALUE, arg[1:], True
    if first == b"[":
        return _LEX_VALUE, arg[1:], False
    if arg == b"+":
        return _LEX_MAX, b"", True
    if arg == b"-":
        return _LEX_MIN, b"", True
    raise CommandError(errors.ZSET_LEX_RANGE_INVALID)


def _lex_compare(kind_a: int, a: bytes, kind_b: int, b: bytes) -> int:
    if kind_a != _LEX_VALUE or kind_b != _LEX_VALUE:
        return (kind_a > kind_b) - (kind_a < kind_b)
    return (a > b) - (a < b)


class LexRange:
    """A member interval for BYLEX commands, as Redis's zlexrangespec."""

    __slots__ = ("min_kind", "min", "minex", "max_kind", "max", "maxex")

    def __init__(self, min_arg: bytes, max_arg: bytes) -> None:
        self.min_kind, self.min, self.minex = _lex_bound(min_arg)
        self.max_kind, self.max, self.maxex = _lex_bound(max_arg)

    def is_empty(self) -> bool:
        cmp = _lex_compare(self.min_kind, self.min, self.max_kind, self.max)
        return cmp > 0 or (cmp == 0 and (self.minex or self.maxex))

    def gte_min(self, member: bytes) -> bool:
        if self.min_kind != _LEX_VALUE:
            return self.min_kind == _LEX_MIN
        return member > self.min if self.minex else member >= self.min

    def lte_max(self, member: bytes) -> bool:
        if self.max_kind != _LEX_VALUE:
            return self.max_kind == _LEX_MAX
        return member < self.max if self.maxex else member <= self.max

    def _in_range_at_all(self, value: ZSetValue) -> bool:
        order = value.order
        return (
            bool(order) and not self.is_empty() and self.gte_min(order[-1][1]) and self.lte_max(order[0][1])
        )

    def first(self, value: ZSetValue) -> int | None:
        """Position of the first entry in range, found the way the encoding would find it."""
        if not self._in_range_at_all(value):
            return None
        order = value.order
        if value.listpack:
            index = next((i for i, (_, m) in enumerate(order) if self.gte_min(m)), len(order))
        else:
            index = _bisect_positions(len(order), lambda i: self.gte_min(order[i][1]))
        if index >= len(order) or not self.lte_max(order[index][1]):
            return None
        return index

    def last(self, value: ZSetValue) -> int | None:
        """Position of the last entry in range (for reverse walks)."""
        if not self._in_range_at_all(value):
            return None
        order = value.order
        if value.listpack:
            top = len(order) - 1
            index = next((top - i for i, (_, m) in enumerate(order.islice(reverse=True)) if self.lte_max(m)), -1)
        else:
            index = _bisect_positions(len(order), lambda i: not self.lte_max(order[i][1])) - 1
        if index < 0 or not self.gte_min(order[index][1]):
            return None
        return index

    def slice(self, value: ZSetValue) -> tuple[int, int]:
        """Positions [start, end): from the first entry in range while entries stay below max."""
        start = self.first(value)
        if start is None:
            return 0, 0
        end = start
        for _, member in value.order.islice(start):
            if not self.lte_max(member):
                break
            end += 1
        return start, end


def _bisect_positions(size: int, predicate: Callable[[int], bool]) -> int:
    """The first position in [0, size) where ``predicate`` holds, assuming it is monotonic."""
    low, high = 0, size
    while low < high:
        mid = (low + high) // 2
        if predicate(mid):
            high = mid
        else:
            low = mid + 1
    return low


# -- replies --------------------------------------------------------------------------------------


def entries_reply(c: Client, entries: Iterable[Entry], withscores: bool) -> list[Any]:
    """Members, or members with scores: flat in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return [member for _, member in entries]
    if c.resp == 2:
        flat: list[Any] = []
        for score, member in entries:
            flat.append(member)
            flat.append(Double(score))
        return flat
    return [[member, Double(score)] for score, member in entries]


def _listpack_score_text(score: float) -> bytes:
    """How a listpack holds a score (Redis's d2string): integral values as integers."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0.0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if -(2**62) <= score <= 2**62 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


def _skiplist_score_text(score: float) -> bytes:
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def _delete_emptied(c: Client, key: bytes, value: ZSetValue) -> bool:
    if value.scores:
        return False
    c.db.delete(key)
    c.notify("g", "del", key)
    return True


def _store_zset(c: Client, dest_key: bytes, entries: list[Entry], event: str) -> int:
    """Store an operation's result (deleting the key when empty); return its size."""
    db = c.db
    if entries:
        value = build_zset(c, entries)
        db.set(dest_key, value)
        c.modified(dest_key)
        c.notify("z", event, dest_key)
        return len(value)
    if db.delete(dest_key):
        c.modified(dest_key)
        c.notify("g", "del", dest_key)
    return 0


# -- ZADD / ZINCRBY / ZREM ------------------------------------------------------------------------

_NX, _XX, _GT, _LT, _INCR, _CH = 1, 2, 4, 8, 16, 32
_ZADD_OPTIONS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT, b"incr": _INCR, b"ch": _CH}


def _zadd_generic(c: Client, args: list[bytes], flags: int, score_index: int) -> Any:
    argc = len(args)
    options = _ZADD_OPTIONS
    while score_index < argc:
        flag = options.get(args[score_index].lower())
        if flag is None:
            break
        flags |= flag
        score_index += 1
    pairs = argc - score_index
    if pairs % 2 or not pairs:
        raise CommandError(errors.SYNTAX)
    pairs //= 2
    nx, xx, gt, lt, incr = flags & _NX, flags & _XX, flags & _GT, flags & _LT, flags & _INCR
    if nx and xx:
        raise CommandError(errors.ZADD_XX_NX)
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(errors.ZADD_GT_LT_NX)
    if incr and pairs > 1:
        raise CommandError(errors.ZADD_INCR_PAIRS)
    scores = [parse_score(args[i]) for i in range(score_index, argc, 2)]

    key = args[1]
    db = c.db
    value = db.get(key)
    if value is not None and type(value) is not ZSetValue:
        raise CommandError(errors.WRONGTYPE)
    added = updated = processed = 0
    score = 0.0
    if value is None and not xx:
        config = c.node.config
        value = ZSetValue(
            listpack=bool(config.get(_MAX_ENTRIES)) and len(args[score_index + 1]) <= config.get(_MAX_VALUE)
        )
        db.add(key, value)
    if value is not None:
        member_scores = value.scores
        for j, score in enumerate(scores):
            member = args[score_index + 1 + 2 * j]
            current = member_scores.get(member)
            if current is not None:
                if nx:
                    continue
                if incr:
                    score += current
                    if score != score:
                        raise CommandError(errors.ZSET_SCORE_NAN)
                if (lt and score >= current) or (gt and score <= current):
                    continue
                processed += 1
                if score != current:
                    value.update(member, current, score)
                    updated += 1
            elif not xx:
                if value.listpack:
                    config = c.node.config
                    if len(member_scores) + 1 > config.get(_MAX_ENTRIES) or len(member) > config.get(_MAX_VALUE):
                        value.listpack = False
                value.insert(member, score)
                added += 1
                processed += 1
    if added or updated:
        c.modified(key, added + updated)
        c.notify("z", "zincr" if incr else "zadd", key)
    if incr:
        return Double(score) if processed else None
    return added + updated if flags & _CH else added


@command("zadd", -4, "write denyoom fast", "@sortedset", keys=[KeySpec("RW update", index=1)],
         group="sorted-set", since="1.2.0", summary="Add members to a sorted set or update their scores",
         complexity="O(log(N)) for each member, N the size of the sorted set")  # fmt: skip
def zadd(c: Client, args: list[bytes]) -> Any:
    return _zadd_generic(c, args, 0, 2)


@command("zincrby", 4, "write denyoom fast", "@sortedset", keys=[KeySpec("RW access update", index=1)],
         group="sorted-set", since="1.2.0", summary="Add to the score of a member of a sorted set",
         complexity="O(log(N)) where N is the size of the sorted set")  # fmt: skip
def zincrby(c: Client, args: list[bytes]) -> Any:
    return _zadd_generic(c, args, _INCR, 2)


@command("zrem", -3, "write fast", "@sortedset", keys=[KeySpec("RW delete", index=1)],
         group="sorted-set", since="1.2.0", summary="Remove members from a sorted set",
         complexity="O(M*log(N)), M the number of members removed and N the size of the sorted set")  # fmt: skip
def zrem(c: Client, args: list[bytes]) -> Any:
    key = args[1]
    value = get_zset(c.db, key, read=False)
    if value is None:
        return 0
    deleted = 0
    for member in args[2:]:
        if value.delete(member):
            deleted += 1
        if not value.scores:
            break
    if deleted:
        c.notify("z", "zrem", key)
        _delete_emptied(c, key, value)
        c.modified(key, deleted)
    return deleted


# -- simple reads -----------------------------------------------------------------------------------


@command("zcard", 2, "readonly fast", "@sortedset", keys=[KeySpec("RO", index=1)],
         group="sorted-set", since="1.2.0", summary="Count the members of a sorted set", complexity="O(1)")  # fmt: skip
def zcard(c: Client, args: list[bytes]) -> Any:
    value = get_zset(c.db, args[1])
    return len(value.scores) if value is not None else 0


@command("zscore", 3, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="1.2.0", summary="Get the score of a member of a sorted set",
         complexity="O(1)")  # fmt: skip
def zscore(c: Client, args: list[bytes]) -> Any:
    value = get_zset(c.db, args[1])
    score = value.scores.get(args[2]) if value is not None else None
    return None if score is None else Double(score)


@command("zmscore", -3, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="6.2.0", summary="Get the scores of several members of a sorted set",
         complexity="O(N) where N is the number of members asked about")  # fmt: skip
def zmscore(c: Client, args: list[bytes]) -> Any:
    value = get_zset(c.db, args[1])
    scores = value.scores if value is not None else {}
    reply: list[Any] = []
    for member in args[2:]:
        score = scores.get(member)
        reply.append(None if score is None else Double(score))
    return reply


def _zrank_generic(c: Client, args: list[bytes], reverse: bool) -> Any:
    value = get_zset(c.db, args[1])
    if value is None:
        return None
    rank = value.rank(args[2])
    if rank is None:
        return None
    return len(value.scores) - 1 - rank if reverse else rank


@command("zrank", 3, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.0.0", summary="Get the rank of a member, scores ordered from low to high",
         complexity="O(log(N))")  # fmt: skip
def zrank(c: Client, args: list[bytes]) -> Any:
    return _zrank_generic(c, args, False)


@command("zrevrank", 3, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.0.0", summary="Get the rank of a member, scores ordered from high to low",
         complexity="O(log(N))")  # fmt: skip
def zrevrank(c: Client, args: list[bytes]) -> Any:
    return _zrank_generic(c, args, True)


@command("zcount", 4, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.0.0", summary="Count the members of a sorted set within a score range",
         complexity="O(log(N))")  # fmt: skip
def zcount(c: Client, args: list[bytes]) -> Any:
    score_range = ScoreRange(args[2], args[3])
    value = get_zset(c.db, args[1])
    if value is None:
        return 0
    start, end = score_range.slice(value)
    return end - start


@command("zlexcount", 4, "readonly fast", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.8.9", summary="Count the members of a sorted set within a lexical range",
         complexity="O(log(N))")  # fmt: skip
def zlexcount(c: Client, args: list[bytes]) -> Any:
    lex_range = LexRange(args[2], args[3])
    value = get_zset(c.db, args[1])
    if value is None:
        return 0
    if value.listpack:
        start, end = lex_range.slice(value)
        return end - start
    # The skiplist counts from the ranks of the first and last entries in range.
    first = lex_range.first(value)
    if first is None:
        return 0
    last = lex_range.last(value)
    count = len(value.scores) - first
    if last is not None:
        count -= len(value.scores) - 1 - last
    return count


# -- ZRANGE and its family ----------------------------------------------------------------------------

_RANK, _SCORE, _LEX = "rank", "score", "lex"


def _rank_window(length: int, start: int, end: int) -> tuple[int, int] | None:
    """Redis's index sanitising for rank ranges: (first, last) inclusive, or None if empty."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return None
    return start, min(end, length - 1)


def _range_entries(
    value: ZSetValue, rangetype: str, bounds: Any, reverse: bool, offset: int, limit: int
) -> list[Entry]:
    """The entries a ZRANGE-style command selects, in reply order."""
    order = value.order
    length = len(order)
    if rangetype == _RANK:
        window = _rank_window(length, bounds[0], bounds[1])
        if window is None:
            return []
        first, last = window
        if reverse:
            return order[length - 1 - last : length - first][::-1]
        return order[first : last + 1]
    # BYSCORE / BYLEX: walk from the first entry in range, skip `offset`, take `limit`.
    if offset > 0 and offset >= length:
        return []
    if offset < 0:
        return []  # Redis skips "forever" on a negative offset
    if rangetype == _SCORE:
        start, end = bounds.slice(value)
    elif reverse:
        last = bounds.last(value)
        if last is None:
            return []
        start = last
        for _, member in order.islice(0, last, reverse=True):
            if not bounds.gte_min(member):
                break
            start -= 1
        end = last + 1
    else:
        start, end = bounds.slice(value)
    if reverse:
        end -= offset
        if limit >= 0:
            start = max(start, end - limit)
        return order[start:end][::-1] if end > start else []
    start += offset
    if limit >= 0:
        end = min(end, start + limit)
    return order[start:end] if end > start else []


def _zrange_generic(
    c: Client, args: list[bytes], key_index: int, store_key: bytes | None, rangetype: str | None, reverse: bool | None
) -> Any:
    """ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX], as Redis's zrangeGenericCommand."""
    withscores = False
    offset, limit = 0, -1
    argc = len(args)
    j = key_index + 3
    while j < argc:
        option = args[j].lower()
        if store_key is None and option == b"withscores":
            withscores = True
        elif option == b"limit" and argc - j - 1 >= 2:
            offset = parse_int(args[j + 1])
            limit = parse_int(args[j + 2])
            j += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif rangetype is None and option == b"bylex":
            rangetype = _LEX
        elif rangetype is None and option == b"byscore":
            rangetype = _SCORE
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or _RANK
    if limit != -1 and rangetype == _RANK:
        raise CommandError(errors.ZRANGE_LIMIT_NEEDS_BY)
    if withscores and rangetype == _LEX:
        raise CommandError(errors.ZRANGE_BYLEX_WITHSCORES)
    low, high = args[key_index + 1], args[key_index + 2]
    if reverse and rangetype != _RANK:
        low, high = high, low  # given as max, min
    bounds: Any
    if rangetype == _RANK:
        bounds = (parse_int(low), parse_int(high))
    elif rangetype == _SCORE:
        bounds = ScoreRange(low, high)
    else:
        bounds = LexRange(low, high)
    value = get_zset(c.db, args[key_index])
    entries = [] if value is None else _range_entries(value, rangetype, bounds, reverse, offset, limit)
    if store_key is not None:
        return _store_zset(c, store_key, entries, "zrangestore")
    return entries_reply(c, entries, withscores)


@command("zrange", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="1.2.0", summary="Get a range of members of a sorted set by rank, score or lexical order",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrange(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, None, None)


@command("zrangestore", -5, "write denyoom", "@sortedset",
         keys=[KeySpec("OW update", index=1), KeySpec("RO access", index=2)],
         group="sorted-set", since="6.2.0", summary="Store a range of members of a sorted set in another key",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members stored")  # fmt: skip
def zrangestore(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 2, args[1], None, None)


@command("zrevrange", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="1.2.0", summary="Get a range of members by rank, scores ordered from high to low",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrevrange(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, _RANK, True)


@command("zrangebyscore", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="1.0.5", summary="Get the members of a sorted set within a score range",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrangebyscore(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, _SCORE, False)


@command("zrevrangebyscore", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.2.0", summary="Get the members within a score range, from high to low scores",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrevrangebyscore(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, _SCORE, True)


@command("zrangebylex", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.8.9", summary="Get the members of a sorted set within a lexical range",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrangebylex(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, _LEX, False)


@command("zrevrangebylex", -4, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.8.9", summary="Get the members within a lexical range, in reverse order",
         complexity="O(log(N)+M) with N the size of the sorted set and M the number of members returned")  # fmt: skip
def zrevrangebylex(c: Client, args: list[bytes]) -> Any:
    return _zrange_generic(c, args, 1, None, _LEX, True)


# -- ZREMRANGEBY* ------------------------------------------------------------------------------------


def _zremrange_generic(c: Client, args: list[bytes], rangetype: str) -> Any:
    key = args[1]
    if rangetype == _RANK:
        bounds: Any = (parse_int(args[2]), parse_int(args[3]))
    elif rangetype == _SCORE:
        bounds = ScoreRange(args[2], args[3])
    else:
        bounds = LexRange(args[2], args[3])
    value = get_zset(c.db, key, read=False)
    if value is None:
        return 0
    if rangetype == _RANK:
        window = _rank_window(len(value.order), bounds[0], bounds[1])
        if window is None:
            return 0
        start, end = window[0], window[1] + 1
    else:
        start, end = bounds.slice(value)
    deleted = value.delete_slice(start, end)
    if deleted:
        c.modified(key, deleted)
        c.notify("z", "zremrangeby" + rangetype, key)
        _delete_emptied(c, key, value)
    return deleted


@command("zremrangebyrank", 4, "write", "@sortedset", keys=[KeySpec("RW delete", index=1)],
         group="sorted-set", since="2.0.0", summary="Remove the members of a sorted set within a rank range",
         complexity="O(log(N)+M) with M the number of members removed")  # fmt: skip
def zremrangebyrank(c: Client, args: list[bytes]) -> Any:
    return _zremrange_generic(c, args, _RANK)


@command("zremrangebyscore", 4, "write", "@sortedset", keys=[KeySpec("RW delete", index=1)],
         group="sorted-set", since="1.2.0", summary="Remove the members of a sorted set within a score range",
         complexity="O(log(N)+M) with M the number of members removed")  # fmt: skip
def zremrangebyscore(c: Client, args: list[bytes]) -> Any:
    return _zremrange_generic(c, args, _SCORE)


@command("zremrangebylex", 4, "write", "@sortedset", keys=[KeySpec("RW delete", index=1)],
         group="sorted-set", since="2.8.9", summary="Remove the members of a sorted set within a lexical range",
         complexity="O(log(N)+M) with M the number of members removed")  # fmt: skip
def zremrangebylex(c: Client, args: list[bytes]) -> Any:
    return _zremrange_generic(c, args, _LEX)


# -- ZUNION / ZINTER / ZDIFF and their STORE forms ---------------------------------------------------------

_UNION, _INTER, _DIFF = "union", "inter", "diff"


def _source_scores(value: ZSetValue | SetValue | None) -> dict[bytes, float]:
    """An input of ZUNION & co as member -> score; a plain set's members score 1."""
    if value is None:
        return {}
    if isinstance(value, ZSetValue):
        return value.scores
    return dict.fromkeys(value.members, 1.0)


def _aggregate(aggregate: str) -> Callable[[float, float], float]:
    if aggregate == "sum":

        def add(target: float, value: float) -> float:
            total = target + value
            return 0.0 if total != total else total  # inf + -inf: Redis's convention is 0

        return add
    if aggregate == "min":
        return lambda target, value: value if value < target else target
    return lambda target, value: value if value > target else target


def _zsetop(
    c: Client, args: list[bytes], numkeys_index: int, op: str, store_key: bytes | None, cardinality_only: bool
) -> Any:
    """ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD, as Redis's zunionInterDiffGenericCommand."""
    numkeys = parse_int(args[numkeys_index])
    if numkeys < 1:
        raise CommandError(errors.zset_needs_input_key(args[0].decode("utf-8", "replace").lower()))
    argc = len(args)
    if numkeys > argc - (numkeys_index + 1):
        raise CommandError(errors.SYNTAX)
    sources: list[ZSetValue | SetValue | None] = []
    for key in args[numkeys_index + 1 : numkeys_index + 1 + numkeys]:
        found = c.db.lookup_read(key)
        if found is not None and type(found) is not ZSetValue and type(found) is not SetValue:
            raise CommandError(errors.WRONGTYPE)
        sources.append(found)
    weights = [1.0] * numkeys
    aggregate = "sum"
    withscores = False
    limit = 0
    j = numkeys_index + 1 + numkeys
    while j < argc:
        remaining = argc - j
        option = args[j].lower()
        if op != _DIFF and not cardinality_only and remaining >= numkeys + 1 and option == b"weights":
            weights = [parse_score(arg, errors.ZSET_WEIGHT_NOT_FLOAT) for arg in args[j + 1 : j + 1 + numkeys]]
            j += numkeys + 1
        elif op != _DIFF and not cardinality_only and remaining >= 2 and option == b"aggregate":
            aggregate = args[j + 1].lower().decode("latin-1")
            if aggregate not in ("sum", "min", "max"):
                raise CommandError(errors.SYNTAX)
            j += 2
        elif store_key is None and not cardinality_only and option == b"withscores":
            withscores = True
            j += 1
        elif cardinality_only and remaining >= 2 and option == b"limit":
            limit = parse_int(args[j + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)

    inputs = [(_source_scores(source), weight, source) for source, weight in zip(sources, weights)]
    result: dict[bytes, float] = {}
    if op == _INTER:
        combine = _aggregate(aggregate)
        inputs.sort(key=lambda item: len(item[0]))  # the smallest drives, as in Redis (stable)
        first_scores, first_weight, first_source = inputs[0]
        count = 0
        for member, member_score in first_scores.items():
            score = first_weight * member_score
            if score != score:
                score = 0.0
            for scores, weight, source in inputs[1:]:
                if source is first_source:
                    other = member_score
                else:
                    found = scores.get(member)
                    if found is None:
                        break
                    other = found
                score = combine(score, other * weight)
            else:
                if cardinality_only:
                    count += 1
                    if limit and count >= limit:
                        break
                else:
                    result[member] = score
        if cardinality_only:
            return count
    elif op == _UNION:
        combine = _aggregate(aggregate)
        inputs.sort(key=lambda item: len(item[0]))
        for scores, weight, _ in inputs:
            for member, member_score in scores.items():
                score = weight * member_score
                if score != score:
                    score = 0.0
                existing = result.get(member)
                result[member] = score if existing is None else combine(existing, score)
    else:
        first_scores, _, first_source = inputs[0]
        if first_scores and not any(source is first_source for _, _, source in inputs[1:]):
            others = [scores for scores, _, _ in inputs[1:] if scores]
            result = {m: s for m, s in first_scores.items() if not any(m in other for other in others)}

    entries = sorted((score, member) for member, score in result.items())
    if store_key is not None:
        return _store_zset(c, store_key, entries, "z" + op + "store")
    return entries_reply(c, entries, withscores)


def _zsetop_command(name: str, op: str, store: bool, since: str, summary: str, complexity: str) -> None:
    keys = [KeySpec("RO access", index=1, keynum=(0, 1, 1))]
    if store:
        keys = [KeySpec("OW update", index=1), KeySpec("RO access", index=2, keynum=(0, 1, 1))]

    def handler(c: Client, args: list[bytes]) -> Any:
        if store:
            return _zsetop(c, args, 2, op, args[1], False)
        return _zsetop(c, args, 1, op, None, False)

    handler.__name__ = name
    command(name, -4 if store else -3, "write denyoom" if store else "readonly", "@sortedset", keys=keys,
            group="sorted-set", since=since, summary=summary, complexity=complexity)(handler)  # fmt: skip


_SETOP_COST = "O(N)+O(M*log(M)), N the total size of the inputs and M the size of the result"
_zsetop_command("zunion", _UNION, False, "6.2.0", "Union of sorted sets (and sets)", _SETOP_COST)
_zsetop_command("zinter", _INTER, False, "6.2.0", "Intersection of sorted sets (and sets)", _SETOP_COST)
_zsetop_command("zdiff", _DIFF, False, "6.2.0", "Subtract sorted sets (and sets) from the first one", _SETOP_COST)
_zsetop_command("zunionstore", _UNION, True, "2.0.0", "Store the union of sorted sets in a key", _SETOP_COST)
_zsetop_command("zinterstore", _INTER, True, "2.0.0", "Store the intersection of sorted sets in a key", _SETOP_COST)
_zsetop_command("zdiffstore", _DIFF, True, "6.2.0", "Store the difference of sorted sets in a key", _SETOP_COST)


@command("zintercard", -3, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1, keynum=(0, 1, 1))],
         group="sorted-set", since="7.0.0", summary="Count the members of the intersection of sorted sets, up to a limit",
         complexity="O(N*K) worst case, N the size of the smallest input and K the number of inputs")  # fmt: skip
def zintercard(c: Client, args: list[bytes]) -> Any:
    return _zsetop(c, args, 1, _INTER, None, True)


# -- pops ---------------------------------------------------------------------------------------------------


def _pop_entries(c: Client, key: bytes, value: ZSetValue, count: int, from_max: bool) -> list[Entry]:
    """Remove and return up to ``count`` entries from one end, with Redis's events."""
    order = value.order
    take = min(count, len(order))
    if from_max:
        popped = order[len(order) - take :][::-1]
        value.delete_slice(len(order) - take, len(order))
    else:
        popped = order[:take]
        value.delete_slice(0, take)
    c.notify("z", "zpopmax" if from_max else "zpopmin", key)
    c.modified(key, take)
    _delete_emptied(c, key, value)
    return popped


def _zpop_command(c: Client, args: list[bytes], from_max: bool) -> Any:
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    count = -1
    if len(args) == 3:
        count = parse_int(args[2], errors.VALUE_MUST_BE_POSITIVE)
        if count < 0:
            raise CommandError(errors.VALUE_MUST_BE_POSITIVE)
    key = args[1]
    value = get_zset(c.db, key, read=False)
    if value is None or count == 0:
        return []
    if count == -1:  # a plain pop answers a flat [member, score] in both protocols
        score, member = _pop_entries(c, key, value, 1, from_max)[0]
        return [member, Double(score)]
    return entries_reply(c, _pop_entries(c, key, value, count, from_max), True)


@command("zpopmin", -2, "write fast", "@sortedset", keys=[KeySpec("RW access delete", index=1)],
         group="sorted-set", since="5.0.0", summary="Remove and return the members with the lowest scores",
         complexity="O(log(N)*M) with M the number of members popped")  # fmt: skip
def zpopmin(c: Client, args: list[bytes]) -> Any:
    return _zpop_command(c, args, False)


@command("zpopmax", -2, "write fast", "@sortedset", keys=[KeySpec("RW access delete", index=1)],
         group="sorted-set", since="5.0.0", summary="Remove and return the members with the highest scores",
         complexity="O(log(N)*M) with M the number of members popped")  # fmt: skip
def zpopmax(c: Client, args: list[bytes]) -> Any:
    return _zpop_command(c, args, True)


def _first_ready_zset(c: Client, keys: list[bytes], skip_wrong_type: bool) -> tuple[bytes, ZSetValue] | None:
    """The first key holding a (non-empty) sorted set; WRONGTYPE for another type before it."""
    db = c.db
    for key in keys:
        value = db.get(key)
        if value is None:
            continue
        if type(value) is not ZSetValue:
            if skip_wrong_type:
                continue
            raise CommandError(errors.WRONGTYPE)
        return key, value
    return None


def _bzpop(c: Client, args: list[bytes], from_max: bool) -> Any:
    deadline = parse_timeout(c, args[-1])
    keys = args[1:-1]
    found = _first_ready_zset(c, keys, skip_wrong_type=c.blocked is not None)
    if found is None:
        return Blocked(keys, deadline, NULL_ARRAY)
    key, value = found
    score, member = _pop_entries(c, key, value, 1, from_max)[0]
    return [key, member, Double(score)]


@command("bzpopmin", -3, "write noscript blocking fast", "@sortedset",
         keys=[KeySpec("RW access delete", index=1, lastkey=-2)],
         group="sorted-set", since="5.0.0", summary="Pop the lowest-scored member of the first non-empty sorted set, or block",
         complexity="O(log(N)) with N the size of the sorted set")  # fmt: skip
def bzpopmin(c: Client, args: list[bytes]) -> Any:
    return _bzpop(c, args, False)


@command("bzpopmax", -3, "write noscript blocking fast", "@sortedset",
         keys=[KeySpec("RW access delete", index=1, lastkey=-2)],
         group="sorted-set", since="5.0.0", summary="Pop the highest-scored member of the first non-empty sorted set, or block",
         complexity="O(log(N)) with N the size of the sorted set")  # fmt: skip
def bzpopmax(c: Client, args: list[bytes]) -> Any:
    return _bzpop(c, args, True)


def _zmpop_generic(c: Client, args: list[bytes], numkeys_index: int, blocking: bool) -> Any:
    numkeys = parse_int(args[numkeys_index], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(args):
        raise CommandError(errors.SYNTAX)
    where = args[where_index].lower()
    if where not in (b"min", b"max"):
        raise CommandError(errors.SYNTAX)
    count = -1
    j = where_index + 1
    while j < len(args):
        if count == -1 and args[j].lower() == b"count" and j + 1 < len(args):
            count = parse_int(args[j + 1], errors.COUNT_NOT_POSITIVE)
            if count < 1:
                raise CommandError(errors.COUNT_NOT_POSITIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    count = max(count, 1)
    keys = args[numkeys_index + 1 : where_index]
    deadline = parse_timeout(c, args[1]) if blocking else 0
    found = _first_ready_zset(c, keys, skip_wrong_type=blocking and c.blocked is not None)
    if found is None:
        return Blocked(keys, deadline, NULL_ARRAY) if blocking else NULL_ARRAY
    key, value = found
    popped = _pop_entries(c, key, value, count, where == b"max")
    return [key, [[member, Double(score)] for score, member in popped]]


@command("zmpop", -4, "write", "@sortedset", keys=[KeySpec("RW access delete", index=1, keynum=(0, 1, 1))],
         group="sorted-set", since="7.0.0", summary="Pop members with the lowest or highest scores from the first non-empty sorted set",
         complexity="O(K)+O(M*log(N)), K the number of keys given and M the number of members popped")  # fmt: skip
def zmpop(c: Client, args: list[bytes]) -> Any:
    return _zmpop_generic(c, args, 1, False)


@command("bzmpop", -5, "write blocking", "@sortedset", keys=[KeySpec("RW access delete", index=2, keynum=(0, 1, 1))],
         group="sorted-set", since="7.0.0", summary="Pop members from the first non-empty sorted set, or block until one is",
         complexity="O(K)+O(M*log(N)), K the number of keys given and M the number of members popped")  # fmt: skip
def bzmpop(c: Client, args: list[bytes]) -> Any:
    return _zmpop_generic(c, args, 2, True)


# -- ZRANDMEMBER and ZSCAN -------------------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="6.2.0", tips="nondeterministic_output",
         summary="Return random members of a sorted set without removing them",
         complexity="O(N) where N is the number of members returned")  # fmt: skip
def zrandmember(c: Client, args: list[bytes]) -> Any:
    if len(args) == 2:
        value = get_zset(c.db, args[1])
        if value is None:
            return None
        return value.order[random.randrange(len(value.order))][1]
    count = parse_count_with_sign(args[2])
    withscores = False
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withscores"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 4:
        withscores = True
        if not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
    value = get_zset(c.db, args[1])
    if value is None or count == 0:
        return []
    order = value.order
    size = len(order)
    if count < 0 or count == 1:
        picks = [order[random.randrange(size)] for _ in range(abs(count))]
    elif count >= size:
        picks = list(reversed(order))  # Redis walks sorted sets from the top for this
    else:
        picks = [order[i] for i in random.sample(range(size), count)]
    return entries_reply(c, picks, withscores)


@command("zscan", -3, "readonly", "@sortedset", keys=[KeySpec("RO access", index=1)],
         group="sorted-set", since="2.8.0", tips="nondeterministic_output",
         summary="Iterate over the members and scores of a sorted set",
         complexity="O(1) per call, O(N) for a whole iteration")  # fmt: skip
def zscan(c: Client, args: list[bytes]) -> Any:
    cursor = parse_scan_cursor(args[2])
    value = get_zset(c.db, args[1])
    if value is None:
        return [b"0", []]
    pattern, count = parse_scan_options(args, 3)
    if value.listpack:  # small: everything at once, in order, as Redis does for a listpack
        next_cursor = 0
        members = filter_matching([member for _, member in value.order], pattern)
        format_score = _listpack_score_text
    else:
        next_cursor, page = value.scan_index().page(cursor, count)
        members = filter_matching(page, pattern)
        format_score = _skiplist_score_text
    scores = value.scores
    flat: list[bytes] = []
    for member in members:
        flat.append(member)
        flat.append(format_score(scores[member]))
    return [b"%d" % next_cursor, flat]
