"""SORT and SORT_RO: sort a list, set or sorted set, with Redis 7.0's semantics.

Theory of operation
-------------------
``SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
[STORE dest]`` runs in four steps, as Redis's sortCommandGeneric does:

1. **Parse** the options left to right (a later ASC/DESC wins; LIMIT numbers must be
   integers). A BY pattern without ``*`` means "do not sort" (``nosort``); a BY with
   ``*`` and every GET are refused in cluster mode, since the keys they touch are not
   known in advance (:data:`pattern_access_allowed` is the hook an ACL layer can
   replace to refuse them for users without full key access). SORT_RO has no STORE.
2. **Load** the elements. A list or sorted set left unsorted keeps its own order
   (reversed by DESC) and only the LIMIT range is loaded; a set is always loaded
   whole. A set left unsorted but STOREd is sorted ALPHA anyway, so the stored list
   does not depend on the set's hash order.
3. **Sort**: numerically by default (each weight read like C's ``strtod`` over the
   whole string; one unparsable weight makes the whole command answer "One or more
   scores can't be converted into double"; equal weights are ordered by the elements'
   bytes), or ALPHA by bytes. Weights come from the element itself or, with BY, from
   the key (or ``key->field`` of a hash) named by the pattern with ``*`` replaced by
   the element; a missing weight counts as 0, or sorts first with ALPHA. Without
   STORE, ALPHA compares like ``strcoll`` in the C locale, i.e. as C strings, so a
   NUL byte ends the comparison; with STORE it compares whole byte strings.
4. **Output** the LIMIT range: the elements, or for each element the values of the
   GET patterns (``#`` is the element itself; a missing key, a key of the wrong type
   or a pattern without ``*`` gives a null, or an empty string in a STOREd list).
   STORE replaces the destination with a list (dropping its TTL), or deletes it when
   the result is empty, and answers the number of stored elements.

Patterns are read as Redis reads them, as C strings in places: the ``*`` and ``->``
searches stop at a NUL byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .. import errors
from ..args import parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from ..keyspace import Database, type_name


def pattern_access_allowed(c: Client, args: list[bytes]) -> bool:
    """Hook for an ACL layer (replace this module attribute): may this client use BY/GET
    patterns, which read keys not named in the command? Everyone may, for now."""
    return True


_SORTABLE_TYPES = ("list", "set", "zset")

# What C's strtod accepts as a whole number (leading white space allowed, nothing after).
_STRTOD_RE = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:"
    rb"(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<inf>(?i:inf(?:inity)?))"
    rb"|(?P<nan>(?i:nan)(?:\([0-9A-Za-z_]*\))?)"
    rb")"
)
_SMALLEST_NORMAL = 2.2250738585072014e-308


def sort_weight(text: bytes) -> float | None:
    """A SORT weight as Redis reads it with strtod: None if it is not a whole number,
    overflows or underflows (ERANGE), or is NaN. The empty string reads as 0."""
    text = text.split(b"\x00", 1)[0]  # strtod stops at the C string's end
    if not text:
        return 0.0
    match = _STRTOD_RE.fullmatch(text)
    if match is None or match.group("nan") is not None:
        return None
    if match.group("inf") is not None:
        return -math.inf if text.lstrip()[:1] == b"-" else math.inf
    try:
        if match.group("hex") is not None:
            value = float.fromhex(text.strip().decode())
        else:
            value = float(text.strip())
    except (OverflowError, ValueError):
        return None
    if math.isinf(value):
        return None  # overflow: ERANGE
    if value == 0.0 or abs(value) < _SMALLEST_NORMAL:
        hex_number = match.group("hex")
        if Fraction(value) != abs(_exact_value(hex_number or match.group("dec"), bool(hex_number))):
            return None  # an inexact result below the normal range: glibc reports ERANGE
    return value


def _exact_value(number: bytes, is_hex: bool) -> Fraction:
    """The exact (unsigned) rational value a strtod literal spells."""
    if not is_hex:
        return Fraction(number.decode())
    mantissa, _, exponent = number[2:].lower().partition(b"p")
    whole, _, fraction = mantissa.partition(b".")
    digits = (whole + fraction) or b"0"
    return Fraction(int(digits, 16), 16 ** len(fraction)) * Fraction(2) ** int(exponent or b"0")


def _c_string(data: bytes) -> bytes:
    """``data`` as C sees it: up to the first NUL byte."""
    return data.split(b"\x00", 1)[0]


# -- access to the data types ---------------------------------------------------------------


def _elements(value: Any, type_: str) -> list[bytes]:
    """All elements in the value's natural order: list order, rank order for a zset,
    the set's iteration order (numeric for an intset, as Redis's intset iterator)."""
    if type_ == "set":
        ordered = getattr(value, "ordered", None)
        return list(ordered()) if ordered is not None else list(value)
    if type_ == "zset":
        return _zset_members_by_rank(value)
    return list(value)


def _zset_members_by_rank(value: Any) -> list[bytes]:
    """Members of a sorted set (sorted_sets.ZSetValue: ``order`` of (score, member))."""
    return [member for _, member in value.order]


def _convert_zset_for_sort(value: Any) -> None:
    """Redis converts a listpack sorted set to a skiplist before sorting it (visible in
    OBJECT ENCODING afterwards), whatever the options."""
    if getattr(value, "listpack", False):
        value.listpack = False


def _hash_field(value: Any, field: bytes) -> bytes | None:
    get = getattr(value, "get", None)
    if get is not None:
        return get(field)
    return None


def _new_list(elements: list[bytes]) -> Any:
    """A list value of the lists module holding ``elements``."""
    from .lists import new_list

    return new_list(elements)


# -- pattern lookups ---------------------------------------------------------------------


def lookup_by_pattern(db: Database, pattern: bytes, element: bytes) -> bytes | None:
    """The value a BY/GET pattern names for ``element`` (Redis's lookupKeyByPattern).

    ``#`` is the element itself. Otherwise the first ``*`` is replaced by the element;
    a ``->field`` suffix after it reads a hash field. None when the pattern has no
    ``*``, the key is missing or holds the wrong type (a string, or a hash for ``->``).
    """
    if pattern[:1] == b"#" and (len(pattern) == 1 or pattern[1] == 0):
        return element
    star = pattern.find(b"*")
    if star < 0 or b"\x00" in pattern[:star]:
        return None
    after = _c_string(pattern[star + 1 :])
    arrow = after.find(b"->")
    field = None
    key_end = len(pattern)
    if arrow >= 0 and arrow + 2 < len(after):
        field = pattern[star + 1 + arrow + 2 :]
        key_end = star + 1 + arrow
    key = pattern[:star] + element + pattern[star + 1 : key_end]
    value = db.lookup_read(key)
    if value is None:
        return None
    if field is not None:
        return _hash_field(value, field) if type_name(value) == "hash" else None
    return value if type(value) is bytes else None


# -- the command ----------------------------------------------------------------------------


class _SortRequest:
    """The parsed options of one SORT call."""

    __slots__ = ("desc", "alpha", "limit_start", "limit_count", "store", "by", "dont_sort", "gets")

    def __init__(self) -> None:
        self.desc = False
        self.alpha = False
        self.limit_start = 0
        self.limit_count = -1
        self.store: bytes | None = None
        self.by: bytes | None = None
        self.dont_sort = False
        self.gets: list[bytes] = []


def _parse(c: Client, args: list[bytes], readonly: bool) -> _SortRequest:
    request = _SortRequest()
    cluster = bool(c.node.config.cluster_enabled)
    i = 2
    while i < len(args):
        word = args[i].lower()
        left = len(args) - i - 1
        if word == b"asc":
            request.desc = False
        elif word == b"desc":
            request.desc = True
        elif word == b"alpha":
            request.alpha = True
        elif word == b"limit" and left >= 2:
            request.limit_start = parse_int(args[i + 1])
            request.limit_count = parse_int(args[i + 2])
            i += 2
        elif word == b"store" and left >= 1 and not readonly:
            request.store = args[i + 1]
            i += 1
        elif word == b"by" and left >= 1:
            request.by = args[i + 1]
            if b"*" not in _c_string(request.by):
                request.dont_sort = True  # a constant BY: nothing to sort by (never reset)
            elif cluster:
                raise CommandError(errors.SORT_BY_IN_CLUSTER)
            elif not pattern_access_allowed(c, args):
                raise CommandError(errors.SORT_BY_ACL_DENIED)
            i += 1
        elif word == b"get" and left >= 1:
            if cluster:
                raise CommandError(errors.SORT_GET_IN_CLUSTER)
            if not pattern_access_allowed(c, args):
                raise CommandError(errors.SORT_GET_ACL_DENIED)
            request.gets.append(args[i + 1])
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    return request


def _limit_range(request: _SortRequest, size: int) -> tuple[int, int]:
    """LIMIT clamped to the collection, as Redis computes it: (start, end) inclusive."""
    start = min(max(request.limit_start, 0), size)
    count = min(max(request.limit_count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    return start, min(end, size - 1)


def _sorted(db: Database, elements: list[bytes], request: _SortRequest) -> list[bytes]:
    """Sort ``elements`` by their weights; CommandError if a numeric weight is bad."""
    by, store = request.by, request.store is not None
    if request.alpha:
        if by is None:
            key: Callable[[bytes], Any] = (lambda e: e) if store else _c_string
        else:
            weights = {e: lookup_by_pattern(db, by, e) for e in elements}

            def key(e: bytes) -> Any:
                weight = weights[e]
                if weight is None:
                    return (0, b"")
                return (1, weight if store else _c_string(weight))

        return sorted(elements, key=key, reverse=request.desc)
    scores: dict[bytes, float] = {}
    bad = False
    for element in elements:
        weight = element if by is None else lookup_by_pattern(db, by, element)
        if weight is None:
            scores[element] = 0.0
            continue
        score = sort_weight(weight)
        if score is None:
            bad = True
            score = 0.0
        scores[element] = score
    if bad:
        raise CommandError(errors.SORT_NOT_DOUBLE)
    return sorted(elements, key=lambda e: (scores[e], e), reverse=request.desc)


def _sort_generic(c: Client, args: list[bytes], readonly: bool) -> Any:
    request = _parse(c, args, readonly)
    db = c.db
    value = db.lookup_read(args[1])
    type_ = type_name(value) if value is not None else "list"
    if type_ not in _SORTABLE_TYPES:
        raise CommandError(errors.WRONGTYPE)
    if request.dont_sort and type_ == "set" and (request.store is not None or getattr(c, "in_script", False)):
        # Sort anyway so that what is stored (or replicated from a script) does not
        # depend on the set's internal order.
        request.dont_sort, request.alpha, request.by = False, True, None
    if type_ == "zset":
        _convert_zset_for_sort(value)
    elements = _elements(value, type_) if value is not None else []
    start, end = _limit_range(request, len(elements))
    if request.dont_sort:
        if type_ != "set":
            if request.desc:
                elements.reverse()
            elements = elements[start : end + 1] if end >= start else []
            start, end = 0, len(elements) - 1
    else:
        elements = _sorted(db, elements, request)
    selected = elements[start : end + 1] if end >= start else []

    if request.store is None:
        if not request.gets:
            return selected
        return [lookup_by_pattern(db, pattern, e) for e in selected for pattern in request.gets]

    if request.gets:
        stored = [lookup_by_pattern(db, pattern, e) or b"" for e in selected for pattern in request.gets]
    else:
        stored = selected
    dest = request.store
    if stored:
        db.set(dest, _new_list(stored))
        c.modified(dest, dirty=len(stored))
        c.notify("l", "sortstore", dest)
    elif db.delete(dest):
        c.modified(dest)
        c.notify("g", "del", dest)
    return len(stored)


def sort_getkeys(args: list[bytes]) -> list[int]:
    """Key positions of SORT: the sorted key, and the last STORE destination if any.

    Options with arguments are skipped by their arity (LIMIT 2, GET/BY 1), as Redis's
    sortGetKeys does, so a key named "store" after GET is not taken for the option.
    """
    positions = [1]
    store = None
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word == b"limit":
            i += 2
        elif word in (b"get", b"by"):
            i += 1
        elif word == b"store" and i + 1 < len(args):
            store = i + 1
        i += 1
    if store is not None:
        positions.append(store)
    return positions


@command("sort", -2, "write denyoom", "@set @sortedset @list @dangerous",
    keys=[KeySpec("RO access", index=1),
          KeySpec("RO access", unknown=True, notes="For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
          KeySpec("OW update", unknown=True, notes="For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")],
    group="generic", since="1.0.0", getkeys=sort_getkeys,
    summary="Sort the elements of a list, set or sorted set, optionally storing the result",
    complexity="O(N+M*log(M)) for N elements of which M are returned",
)  # fmt: skip
def sort(c: Client, args: list[bytes]) -> Any:
    return _sort_generic(c, args, readonly=False)


@command("sort_ro", -2, "readonly", "@set @sortedset @list @dangerous",
    keys=[KeySpec("RO access", index=1),
          KeySpec("RO access", unknown=True, notes="For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")],
    group="generic", since="7.0.0",
    summary="Sort the elements of a list, set or sorted set (read-only variant)",
    complexity="O(N+M*log(M)) for N elements of which M are returned",
)  # fmt: skip
def sort_ro(c: Client, args: list[bytes]) -> Any:
    return _sort_generic(c, args, readonly=True)
