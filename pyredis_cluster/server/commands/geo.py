"""Geo commands (GEOADD, GEOPOS, GEODIST, GEOHASH, GEORADIUS*, GEOSEARCH[STORE]) as Redis 7.0.

Theory of operation
-------------------
A geo index is an ordinary sorted set (:class:`.sorted_sets.ZSetValue`) whose scores are
52-bit geohashes: the longitude (range -180..180) and latitude (range -85.05112878..
85.05112878, the Web Mercator limits) are each scaled to a 26-bit integer and the two
are interleaved bit by bit, latitude on the even bits and longitude on the odd ones.
Points close to each other therefore have close scores, and a geohash "box" of any
precision ``step`` (``2*step`` leading bits) is one contiguous score range.

Everything a client can observe is computed with the same floating point operations,
in the same order, as Redis's geohash.c / geohash_helper.c / geo.c, because the replies
print decoded coordinates with 17 decimals and distances with 4:

* decoding a score yields the *centre* of its 26-bit cell (clamped to the ranges), which
  is what GEOPOS prints and what every distance is measured from;
* distances are the haversine formula on a sphere of radius 6372797.560856 m (with
  Redis's shortcut to a pure latitude difference when the longitudes are equal);
* a search (GEORADIUS & co, GEOSEARCH) estimates a box precision from the radius (one
  step coarser near the poles, one more if a neighbour box does not reach the search
  area's bounding box), then scans the centre box and its 8 neighbours (dropping the
  neighbours outside the bounding box) in Redis's order: centre, N, S, E, W, NE, NW,
  SE, SW, each box in score order, skipping a box equal to the one scanned just
  before. Without ASC/DESC (or with ANY) the reply keeps that scan order, exactly as
  Redis's; ASC/DESC sort by distance, stably (glibc's qsort is a merge sort).

Replies follow Redis: coordinates with ``addReplyHumanLongDouble`` (``%.17Lf`` with the
trailing zeros trimmed; a bulk string in RESP2, a ``,`` double in RESP3), distances with
``fixedpoint_d2string`` (rounded to 4 decimals, always a bulk string), hashes as integers.
GEOADD is ZADD with computed scores (so ZADD's options, errors and ``zadd`` event apply);
the store variants write a sorted set of hashes or distances with the ``georadiusstore``
/ ``geosearchstore`` event, deleting the destination when nothing matched.

With COUNT (without ANY) Redis orders only the nearest COUNT members, with its own
partial quicksort, which is not stable: members at exactly the same distance (identical
points) come out in the order that procedure leaves them, so we run the same procedure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ...protocol.encoder import NULL_ARRAY, Raw
from .. import errors
from ..args import parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError
from .sorted_sets import ZSetValue, _store_zset, _zadd_generic, get_zset, parse_score

# -- geohash arithmetic (geohash.c) ------------------------------------------------------------

STEP_MAX = 26  # 26 bits per coordinate: a 52-bit score, exact in a double
LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
#: The standard geohash alphabet and ranges, for GEOHASH's strings.
GEOHASH_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"
STANDARD_LAT_MIN, STANDARD_LAT_MAX = -90.0, 90.0

EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
DEG_TO_RAD = math.pi / 180.0

_U32, _U64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
_EVEN_BITS, _ODD_BITS = 0x5555555555555555, 0xAAAAAAAAAAAAAAAA


def _spread(value: int) -> int:
    """The 32 low bits of ``value`` moved to the even bit positions of a 64-bit word."""
    value &= _U32
    value = (value | (value << 16)) & 0x0000FFFF0000FFFF
    value = (value | (value << 8)) & 0x00FF00FF00FF00FF
    value = (value | (value << 4)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value << 2)) & 0x3333333333333333
    return (value | (value << 1)) & _EVEN_BITS


def _squash(value: int) -> int:
    """The inverse of :func:`_spread`: the even bits of ``value`` packed into 32 bits."""
    value &= _EVEN_BITS
    value = (value | (value >> 1)) & 0x3333333333333333
    value = (value | (value >> 2)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value >> 4)) & 0x00FF00FF00FF00FF
    value = (value | (value >> 8)) & 0x0000FFFF0000FFFF
    return (value | (value >> 16)) & _U32


def encode(
    longitude: float, latitude: float, step: int, lat_min: float = LAT_MIN, lat_max: float = LAT_MAX
) -> int:
    """The ``2*step``-bit geohash of a point (the caller has range-checked it)."""
    lat_offset = (latitude - lat_min) / (lat_max - lat_min) * float(1 << step)
    long_offset = (longitude - LONG_MIN) / (LONG_MAX - LONG_MIN) * float(1 << step)
    # C converts the offsets to uint32 by truncation.
    return _spread(int(lat_offset)) | (_spread(int(long_offset)) << 1)


def decode_area(bits: int, step: int) -> tuple[float, float, float, float]:
    """The cell a hash stands for: (lon_min, lon_max, lat_min, lat_max)."""
    lat_cell, lon_cell = _squash(bits), _squash(bits >> 1)
    cells = float(1 << step)
    lat_scale = LAT_MAX - LAT_MIN
    long_scale = LONG_MAX - LONG_MIN
    return (
        LONG_MIN + (lon_cell * 1.0 / cells) * long_scale,
        LONG_MIN + (((lon_cell + 1) & _U32) * 1.0 / cells) * long_scale,
        LAT_MIN + (lat_cell * 1.0 / cells) * lat_scale,
        LAT_MIN + (((lat_cell + 1) & _U32) * 1.0 / cells) * lat_scale,
    )


def _score_bits(score: float) -> int:
    """C's ``(uint64_t)score`` as x86-64 compiles it (a geo set may hold any ZADD score)."""
    if score != score or not -(2.0**63) < score < 2.0**64:
        return 1 << 63 if score < 2.0**63 or score != score else 0
    return int(score) & _U64


def decode_score(score: float) -> tuple[float, float]:
    """(longitude, latitude) of a score: the centre of its cell, clamped to the ranges."""
    lon_min, lon_max, lat_min, lat_max = decode_area(_score_bits(score), STEP_MAX)
    longitude = min(max((lon_min + lon_max) / 2, LONG_MIN), LONG_MAX)
    latitude = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return longitude, latitude


def _move_x(bits: int, step: int, direction: int) -> int:
    """The hash of the cell east (+1) or west (-1) of ``bits``, wrapping around."""
    x, y = bits & _ODD_BITS, bits & _EVEN_BITS
    zz = _EVEN_BITS >> (64 - step * 2)
    x = x + (zz + 1) if direction > 0 else (x | zz) - (zz + 1)
    return ((x & _U64) & (_ODD_BITS >> (64 - step * 2))) | y


def _move_y(bits: int, step: int, direction: int) -> int:
    """The hash of the cell north (+1) or south (-1) of ``bits``."""
    x, y = bits & _ODD_BITS, bits & _EVEN_BITS
    zz = _ODD_BITS >> (64 - step * 2)
    y = y + (zz + 1) if direction > 0 else (y | zz) - (zz + 1)
    return ((y & _U64) & (_EVEN_BITS >> (64 - step * 2))) | x


# -- distances and search areas (geohash_helper.c) ---------------------------------------------


def _rad(degrees: float) -> float:
    return degrees * DEG_TO_RAD


def _deg(radians: float) -> float:
    return radians / DEG_TO_RAD


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_M * abs(_rad(lat2) - _rad(lat1))


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in meters, as Redis computes it."""
    lon1r, lon2r = _rad(lon1), _rad(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r, lat2r = _rad(lat1), _rad(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    if a > 1.0:
        return math.nan  # rounding past 1 near antipodes: C's asin gives NaN where Python raises
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class Shape:
    """A search area: a circle (radius) or an axis-aligned box (width, height) around a point."""

    __slots__ = ("longitude", "latitude", "is_box", "radius", "width", "height", "conversion")

    def __init__(self) -> None:
        self.longitude = self.latitude = 0.0
        self.is_box = False
        self.radius = self.width = self.height = 0.0
        self.conversion = 1.0  # meters per unit

    def contains(self, longitude: float, latitude: float) -> float | None:
        """The distance (meters) from the centre to a point inside the shape, else None."""
        if not self.is_box:
            dist = distance(self.longitude, self.latitude, longitude, latitude)
            return None if dist > self.radius * self.conversion else dist  # NaN is "inside", as in C
        # Latitude first: it is the cheaper test (as Redis orders them).
        if lat_distance(self.latitude, latitude) > self.height * self.conversion / 2:
            return None
        if distance(longitude, latitude, self.longitude, latitude) > self.width * self.conversion / 2:
            return None
        return distance(self.longitude, self.latitude, longitude, latitude)

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) enclosing the shape."""
        half_height = self.conversion * (self.height / 2 if self.is_box else self.radius)
        half_width = self.conversion * (self.width / 2 if self.is_box else self.radius)
        lat = self.latitude
        lat_delta = _deg(half_height / EARTH_RADIUS_M)
        long_delta_top = _deg(half_width / EARTH_RADIUS_M / math.cos(_rad(lat + lat_delta)))
        long_delta_bottom = _deg(half_width / EARTH_RADIUS_M / math.cos(_rad(lat - lat_delta)))
        # The box is widest on the side nearer the equator.
        long_delta = long_delta_bottom if lat < 0 else long_delta_top
        return self.longitude - long_delta, lat - lat_delta, self.longitude + long_delta, lat + lat_delta

    def reach_meters(self) -> float:
        """The radius, or the half diagonal of a box, in meters (to choose the precision)."""
        if self.is_box:
            half_w, half_h = self.width / 2, self.height / 2
            return math.sqrt(half_w * half_w + half_h * half_h) * self.conversion
        return self.radius * self.conversion


def estimate_steps(range_meters: float, latitude: float) -> int:
    """The geohash precision whose cells are about as large as the search radius."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2  # so that the area fits in the boxes in most cases
    if latitude > 66 or latitude < -66:  # cells are narrower towards the poles
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), 26)


def _neighbours(bits: int, step: int) -> dict[str, int]:
    east, west = _move_x(bits, step, 1), _move_x(bits, step, -1)
    return {
        "north": _move_y(bits, step, 1),
        "south": _move_y(bits, step, -1),
        "east": east,
        "west": west,
        "north_east": _move_y(east, step, 1),
        "north_west": _move_y(west, step, 1),
        "south_east": _move_y(east, step, -1),
        "south_west": _move_y(west, step, -1),
    }


#: Redis's scan order of the boxes (after the centre one).
_BOX_ORDER = ("north", "south", "east", "west", "north_east", "north_west", "south_east", "south_west")


def search_boxes(shape: Shape) -> list[tuple[int, int] | None]:
    """The 9 boxes (hash bits, step) covering the shape, centre first; None for a dropped one."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    lon, lat = shape.longitude, shape.latitude
    steps = estimate_steps(shape.reach_meters(), lat)
    bits = encode(lon, lat, steps)
    neighbours = _neighbours(bits, steps)
    # One step coarser if a side neighbour does not reach the edge of the bounding box.
    if steps > 1 and (
        decode_area(neighbours["north"], steps)[3] < max_lat
        or decode_area(neighbours["south"], steps)[2] > min_lat
        or decode_area(neighbours["east"], steps)[1] < max_lon
        or decode_area(neighbours["west"], steps)[0] > min_lon
    ):
        steps -= 1
        bits = encode(lon, lat, steps)
        neighbours = _neighbours(bits, steps)
    dropped: set[str] = set()
    if steps >= 2:  # leave out the neighbours entirely outside the bounding box
        area_lon_min, area_lon_max, area_lat_min, area_lat_max = decode_area(bits, steps)
        if area_lat_min < min_lat:
            dropped |= {"south", "south_west", "south_east"}
        if area_lat_max > max_lat:
            dropped |= {"north", "north_east", "north_west"}
        if area_lon_min < min_lon:
            dropped |= {"west", "south_west", "north_west"}
        if area_lon_max > max_lon:
            dropped |= {"east", "south_east", "north_east"}
    boxes: list[tuple[int, int] | None] = [(bits, steps)]
    boxes += [None if name in dropped else (neighbours[name], steps) for name in _BOX_ORDER]
    return boxes


# -- searching a sorted set ---------------------------------------------------------------------

#: A search hit: (distance in meters, score, member, longitude, latitude).
Hit = tuple[float, float, bytes, float, float]


def search(value: ZSetValue, shape: Shape, limit: int) -> list[Hit]:
    """The members inside ``shape``, in Redis's box scan order; stop at ``limit`` if non-zero."""
    hits: list[Hit] = []
    order = value.order
    previous: tuple[int, int] | None = None  # Redis compares with the last box scanned, not the centre
    for index, box in enumerate(search_boxes(shape)):
        if box is None:
            continue
        if previous is not None and box == previous:
            continue  # huge radii make adjacent neighbours equal: do not report twice
        if hits and limit and len(hits) >= limit:
            break
        bits, step = box
        low = float(bits << (52 - step * 2))
        high = float((bits + 1) << (52 - step * 2))
        for score, member in order.islice(order.bisect_left((low,)), order.bisect_left((high,))):
            longitude, latitude = decode_score(score)
            dist = shape.contains(longitude, latitude)
            if dist is not None:
                hits.append((dist, score, member, longitude, latitude))
            if hits and limit and len(hits) >= limit:
                break
        if index:
            previous = box
    return hits


# -- ordering hits -------------------------------------------------------------------------------


def _by_distance(a: Hit, b: Hit) -> int:
    """Redis's ascending comparator (NaN compares as smaller than everything, both ways)."""
    if a[0] > b[0]:
        return 1
    return 0 if a[0] == b[0] else -1


def _by_distance_desc(a: Hit, b: Hit) -> int:
    return -_by_distance(a, b)


def partial_quicksort(items: list[Hit], compare: Callable[[Hit, Hit], int], last: int) -> None:
    """Put ``items[0..last]`` in order, as Redis's pqsort does (so ties come out the same).

    A Bentley-McIlroy quicksort (median of three, or a "ninther" over 40 items, a
    three-way partition keeping the pivot's equals at both ends, insertion sort under
    7 items) that only descends into parts overlapping positions ``0..last``. It is not
    stable: members at equal distance come out in the order this exact procedure leaves
    them, which is what clients of Redis see.
    """

    def swap(i: int, j: int) -> None:
        items[i], items[j] = items[j], items[i]

    def swap_blocks(i: int, j: int, size: int) -> None:
        for k in range(size):
            swap(i + k, j + k)

    def median_of_three(i: int, j: int, k: int) -> int:
        a, b, c = items[i], items[j], items[k]
        if compare(a, b) < 0:
            return j if compare(b, c) < 0 else (k if compare(a, c) < 0 else i)
        return j if compare(b, c) > 0 else (i if compare(a, c) < 0 else k)

    def wanted(start: int) -> bool:
        return start <= last  # every part ends after position 0, so only its start matters

    def sort_part(start: int, size: int) -> None:
        while True:
            if size < 7:
                for m in range(start + 1, start + size):
                    j = m
                    while j > start and compare(items[j - 1], items[j]) > 0:
                        swap(j, j - 1)
                        j -= 1
                return
            middle = start + size // 2
            if size > 7:
                low, high = start, start + size - 1
                if size > 40:
                    d = size // 8
                    low = median_of_three(low, low + d, low + 2 * d)
                    middle = median_of_three(middle - d, middle, middle + d)
                    high = median_of_three(high - 2 * d, high - d, high)
                middle = median_of_three(low, middle, high)
            swap(start, middle)
            pivot_equal_low = below = start + 1
            above = pivot_equal_high = start + size - 1
            while True:
                while below <= above and (order := compare(items[below], items[start])) <= 0:
                    if order == 0:
                        swap(pivot_equal_low, below)
                        pivot_equal_low += 1
                    below += 1
                while below <= above and (order := compare(items[above], items[start])) >= 0:
                    if order == 0:
                        swap(above, pivot_equal_high)
                        pivot_equal_high -= 1
                    above -= 1
                if below > above:
                    break
                swap(below, above)
                below += 1
                above -= 1
            end = start + size
            moved = min(pivot_equal_low - start, below - pivot_equal_low)
            swap_blocks(start, below - moved, moved)
            moved = min(pivot_equal_high - above, end - pivot_equal_high - 1)
            swap_blocks(below, end - moved, moved)
            smaller = below - pivot_equal_low
            if smaller > 1 and wanted(start):
                sort_part(start, smaller)
            larger = pivot_equal_high - above
            if larger <= 1:
                return
            start, size = end - larger, larger
            if not wanted(start):
                return

    sort_part(0, len(items))


# -- argument parsing ---------------------------------------------------------------------------

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def parse_unit(arg: bytes) -> float:
    """Meters per unit."""
    conversion = _UNITS.get(arg.lower())
    if conversion is None:
        raise CommandError(errors.GEO_UNSUPPORTED_UNIT)
    return conversion


def parse_lonlat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    longitude, latitude = parse_score(lon_arg), parse_score(lat_arg)
    if not (LONG_MIN <= longitude <= LONG_MAX and LAT_MIN <= latitude <= LAT_MAX):
        raise CommandError(errors.GEO_INVALID_LONLAT.format(longitude, latitude))
    return longitude, latitude


def _parse_radius(shape: Shape, radius_arg: bytes, unit_arg: bytes) -> None:
    radius = parse_score(radius_arg, errors.GEO_NEED_NUMERIC_RADIUS)
    if radius < 0:
        raise CommandError(errors.GEO_RADIUS_NEGATIVE)
    shape.radius = radius
    shape.conversion = parse_unit(unit_arg)
    shape.is_box = False


def _parse_box(shape: Shape, width_arg: bytes, height_arg: bytes, unit_arg: bytes) -> None:
    width = parse_score(width_arg, errors.GEO_NEED_NUMERIC_WIDTH)
    height = parse_score(height_arg, errors.GEO_NEED_NUMERIC_HEIGHT)
    if width < 0 or height < 0:
        raise CommandError(errors.GEO_BOX_NEGATIVE)
    shape.width, shape.height = width, height
    shape.conversion = parse_unit(unit_arg)
    shape.is_box = True


def _member_position(value: ZSetValue, member: bytes) -> tuple[float, float]:
    score = value.scores.get(member)
    if score is None:
        raise CommandError(errors.GEO_MEMBER_NOT_DECODABLE)
    return decode_score(score)


# -- reply formatting ---------------------------------------------------------------------------


def format_distance(meters_or_units: float) -> bytes:
    """A distance with 4 decimals, as Redis's fixedpoint_d2string (llrint rounds half to even)."""
    scaled_float = meters_or_units * 10000.0
    # llrint of NaN or of an out-of-range value gives LLONG_MIN on x86-64.
    scaled = round(scaled_float) if abs(scaled_float) < 2.0**63 else -(2**63)
    sign = b"-" if scaled < 0 else b""
    whole, fraction = divmod(abs(scaled), 10000)
    return b"%s%d.%04d" % (sign, whole, fraction)


def _human_double_text(value: float) -> bytes:
    """Redis's ld2string in human mode: ``%.17Lf`` with the trailing zeros trimmed."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = (b"%.17f" % value).rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def coordinate_reply(c: Client, value: float) -> bytes:
    text = _human_double_text(value)
    return Raw(b",%s\r\n" % text) if c.resp == 3 else text


def _position_reply(c: Client, longitude: float, latitude: float) -> list[bytes]:
    return [coordinate_reply(c, longitude), coordinate_reply(c, latitude)]


# -- commands -------------------------------------------------------------------------------------


@command("geoadd", -5, "write denyoom", "@geo", keys=[KeySpec("RW update", index=1)],
         group="geo", since="3.2.0", summary="Add points (longitude, latitude, name) to a geo index",
         complexity="O(log(N)) per point, N the size of the sorted set")  # fmt: skip
def geoadd(c: Client, args: list[bytes]) -> Any:
    argc = len(args)
    first = 2
    nx = xx = False
    while first < argc:
        option = args[first].lower()
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":  # CH is ZADD's business
            break
        first += 1
    if (argc - first) % 3 or (nx and xx):
        raise CommandError(errors.SYNTAX)
    # GEOADD is ZADD with the points turned into scores.
    zadd_args = [b"zadd", *args[1:first]]
    for i in range(first, argc, 3):
        longitude, latitude = parse_lonlat(args[i], args[i + 1])
        zadd_args.append(b"%d" % encode(longitude, latitude, STEP_MAX))
        zadd_args.append(args[i + 2])
    return _zadd_generic(c, zadd_args, 0, 2)


@command("geopos", -2, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="3.2.0", summary="The longitude and latitude of members of a geo index",
         complexity="O(1) per member")  # fmt: skip
def geopos(c: Client, args: list[bytes]) -> Any:
    value = get_zset(c.db, args[1])
    scores = value.scores if value is not None else {}
    reply: list[Any] = []
    for member in args[2:]:
        score = scores.get(member)
        reply.append(NULL_ARRAY if score is None else _position_reply(c, *decode_score(score)))
    return reply


@command("geodist", -4, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="3.2.0", summary="The distance between two members of a geo index",
         complexity="O(1)")  # fmt: skip
def geodist(c: Client, args: list[bytes]) -> Any:
    to_meters = 1.0
    if len(args) == 5:
        to_meters = parse_unit(args[4])
    elif len(args) > 5:
        raise CommandError(errors.SYNTAX)
    value = get_zset(c.db, args[1])
    if value is None:
        return None
    score1, score2 = value.scores.get(args[2]), value.scores.get(args[3])
    if score1 is None or score2 is None:
        return None
    return format_distance(distance(*decode_score(score1), *decode_score(score2)) / to_meters)


def geohash_string(score: float) -> bytes:
    """The 11-character standard geohash of a stored point (re-encoded with latitudes -90..90)."""
    longitude, latitude = decode_score(score)
    bits = encode(longitude, latitude, STEP_MAX, STANDARD_LAT_MIN, STANDARD_LAT_MAX)
    chars = bytearray(GEOHASH_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10))
    chars.append(GEOHASH_ALPHABET[0])  # 52 bits give 10 characters and a bit: the 11th is 0
    return bytes(chars)


@command("geohash", -2, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="3.2.0", summary="Standard geohash strings of members of a geo index",
         complexity="O(1) per member")  # fmt: skip
def geohash(c: Client, args: list[bytes]) -> Any:
    value = get_zset(c.db, args[1])
    scores = value.scores if value is not None else {}
    reply: list[bytes | None] = []
    for member in args[2:]:
        score = scores.get(member)
        reply.append(None if score is None else geohash_string(score))
    return reply


# Search variants (Redis's georadiusGeneric flags).
_BY_COORDS, _BY_MEMBER, _NO_STORE, _GEOSEARCH, _GEOSEARCHSTORE = 1, 2, 4, 8, 16


def _georadius_generic(c: Client, args: list[bytes], key_index: int, variant: int) -> Any:
    """Every search command: parse as Redis does (in its order of errors), search, reply or store."""
    value = get_zset(c.db, args[key_index])
    shape = Shape()
    store_key: bytes | None = None
    store_dist = False
    if variant & _BY_COORDS:
        first_option = 6
        shape.longitude, shape.latitude = parse_lonlat(args[2], args[3])
        _parse_radius(shape, args[4], args[5])
    elif variant & _BY_MEMBER:
        first_option = 5
        if value is not None:  # without a key, Redis only parses the options (for the reply kind)
            shape.longitude, shape.latitude = _member_position(value, args[2])
            _parse_radius(shape, args[3], args[4])
    else:
        first_option = 2
        if variant & _GEOSEARCHSTORE:
            first_option = 3
            store_key = args[1]

    withdist = withhash = withcoord = any_ = False
    from_member = from_lonlat = by_radius = by_box = False
    sort = 0  # 0 none, 1 ascending, -1 descending
    count = 0
    can_store = not variant & (_NO_STORE | _GEOSEARCH)
    is_search = bool(variant & _GEOSEARCH)
    argc = len(args)
    i = first_option
    while i < argc:
        option = args[i].lower()
        left = argc - i - 1  # arguments after this one
        if option == b"withdist":
            withdist = True
        elif option == b"withhash":
            withhash = True
        elif option == b"withcoord":
            withcoord = True
        elif option == b"any":
            any_ = True
        elif option == b"asc":
            sort = 1
        elif option == b"desc":
            sort = -1
        elif option == b"count" and left >= 1:
            count = parse_int(args[i + 1])
            if count <= 0:
                raise CommandError(errors.GEO_COUNT_NOT_POSITIVE)
            i += 1
        elif option in (b"store", b"storedist") and left >= 1 and can_store:
            store_key = args[i + 1]
            store_dist = option == b"storedist"
            i += 1
        elif option == b"storedist" and variant & _GEOSEARCHSTORE:
            store_dist = True
        elif option == b"frommember" and left >= 1 and is_search and not from_lonlat:
            if value is not None:
                shape.longitude, shape.latitude = _member_position(value, args[i + 1])
            from_member = True
            i += 1
        elif option == b"fromlonlat" and left >= 2 and is_search and not from_member:
            shape.longitude, shape.latitude = parse_lonlat(args[i + 1], args[i + 2])
            from_lonlat = True
            i += 2
        elif option == b"byradius" and left >= 2 and is_search and not by_box:
            _parse_radius(shape, args[i + 1], args[i + 2])
            by_radius = True
            i += 2
        elif option == b"bybox" and left >= 3 and is_search and not by_radius:
            _parse_box(shape, args[i + 1], args[i + 2], args[i + 3])
            by_box = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
        i += 1

    if store_key is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if variant & _GEOSEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(errors.GEO_STORE_WITH_OPTIONS.format(what))
    command_name = args[0].decode("utf-8", "replace")
    if is_search and not (from_member or from_lonlat):
        raise CommandError(errors.GEO_NEED_ONE_FROM.format(command_name))
    if is_search and not (by_radius or by_box):
        raise CommandError(errors.GEO_NEED_ONE_BY.format(command_name))
    if any_ and not count:
        raise CommandError(errors.GEO_ANY_NEEDS_COUNT)

    if value is None:
        return [] if store_key is None else _store_zset(c, store_key, [], "")
    if count and not sort and not any_:
        sort = 1  # the nearest COUNT members are wanted
    hits = search(value, shape, count if any_ else 0)
    if sort:
        if count and count < len(hits):
            # Redis only orders the first COUNT, with its (unstable) partial quicksort.
            partial_quicksort(hits, _by_distance if sort > 0 else _by_distance_desc, count - 1)
            del hits[count:]
        else:
            hits.sort(key=lambda hit: hit[0], reverse=sort < 0)  # stable, as glibc's merge sort

    conversion = shape.conversion
    if store_key is not None:
        entries = [(hit[0] / conversion if store_dist else hit[1], hit[2]) for hit in hits]
        return _store_zset(c, store_key, entries, "geosearchstore" if is_search else "georadiusstore")
    if not (withdist or withhash or withcoord):
        return [hit[2] for hit in hits]
    reply: list[Any] = []
    for dist, score, member, longitude, latitude in hits:
        item: list[Any] = [member]
        if withdist:
            item.append(format_distance(dist / conversion))
        if withhash:
            item.append(int(score))
        if withcoord:
            item.append(_position_reply(c, longitude, latitude))
        reply.append(item)
    return reply


_RADIUS_COST = "O(N+log(M)), N the number of members in the covering boxes and M the size of the index"


@command("georadius", -6, "write denyoom", "@geo",
         keys=[KeySpec("RO access", index=1), KeySpec("OW update", keyword="STORE", startfrom=6),
               KeySpec("OW update", keyword="STOREDIST", startfrom=6)],
         group="geo", since="3.2.0", summary="Members of a geo index within a radius of a point, optionally stored",
         complexity=_RADIUS_COST)  # fmt: skip
def georadius(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 1, _BY_COORDS)


@command("georadius_ro", -6, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="3.2.10", summary="Members of a geo index within a radius of a point (read-only)",
         complexity=_RADIUS_COST)  # fmt: skip
def georadius_ro(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 1, _BY_COORDS | _NO_STORE)


@command("georadiusbymember", -5, "write denyoom", "@geo",
         keys=[KeySpec("RO access", index=1), KeySpec("OW update", keyword="STORE", startfrom=5),
               KeySpec("OW update", keyword="STOREDIST", startfrom=5)],
         group="geo", since="3.2.0", summary="Members of a geo index within a radius of a member, optionally stored",
         complexity=_RADIUS_COST)  # fmt: skip
def georadiusbymember(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 1, _BY_MEMBER)


@command("georadiusbymember_ro", -5, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="3.2.10", summary="Members of a geo index within a radius of a member (read-only)",
         complexity=_RADIUS_COST)  # fmt: skip
def georadiusbymember_ro(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 1, _BY_MEMBER | _NO_STORE)


@command("geosearch", -7, "readonly", "@geo", keys=[KeySpec("RO access", index=1)],
         group="geo", since="6.2.0", summary="Members of a geo index inside a circle or a box",
         complexity=_RADIUS_COST)  # fmt: skip
def geosearch(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 1, _GEOSEARCH)


@command("geosearchstore", -8, "write denyoom", "@geo",
         keys=[KeySpec("OW update", index=1), KeySpec("RO access", index=2)],
         group="geo", since="6.2.0", summary="Store the members of a geo index inside a circle or a box",
         complexity=_RADIUS_COST)  # fmt: skip
def geosearchstore(c: Client, args: list[bytes]) -> Any:
    return _georadius_generic(c, args, 2, _GEOSEARCH | _GEOSEARCHSTORE)
