"""The keyspace: numbered databases of keys, their TTLs, and the bookkeeping around them.

Theory of operation
-------------------
A :class:`Database` maps keys (``bytes``) to values. A string is stored as ``bytes``;
every other type is an instance of its data-type module's value class, which carries a
``TYPE_NAME`` (``"list"``, ``"hash"``...). TTLs live apart from values, in
``expires`` (key -> absolute unix time in ms), plus an ordered expiry index
(``(when_ms, key)`` pairs in a sorted list) so that the active expiry cycle finds due
keys in time order without scanning or sampling.

Expiry is both **lazy** (a key found past its TTL is deleted when looked up, before the
command sees it) and **active** (:meth:`Keyspace.active_expire_cycle`, run by the
node's cron, deletes due keys oldest first within a time budget). Either way the
deletion counts in ``expired_keys``, invalidates WATCHes and fires the "expired"
keyspace event through :attr:`Keyspace.on_expired`. Time is frozen per command: the
dispatcher sets :attr:`Keyspace.now_ms` before each command (and once for a whole
MULTI/EXEC), as Redis caches the time, so a key cannot expire half-way through a
command. On a replica, expired keys are hidden but only the primary's DEL removes them.

Access times (OBJECT IDLETIME, LRU) are kept per key in ``access`` (ms), written by
:meth:`Database.get` and by creation; lookups that Redis makes with ``LOOKUP_NOTOUCH``
(TYPE, TTL, EXISTS, OBJECT...) use :meth:`Database.peek`, which leaves them alone.
Under an LFU maxmemory policy (:attr:`Keyspace.lfu_enabled`), lookups maintain
Redis's logarithmic access counter instead, in ``lfu``.

SCAN needs a cursor that survives the keyspace growing and shrinking between calls:
every key present for the whole iteration must be returned at least once. Redis gets
this from its reverse-binary bucket cursor. We order keys by a stable 63-bit hash
(:func:`scan_position`, Python's per-process SipHash of the key) in a sorted
:class:`ScanIndex`; the cursor is the hash position to resume from. Keys that stay
keep their position, so a key that was not returned yet is always at or after the
cursor, whatever was added or deleted meanwhile; keys sharing a position are always
returned together. The index costs a sorted insertion per new key, so a database
builds it only when the first SCAN arrives; until then SET and DEL pay nothing. Since
a position is a pure function of the key, the index is only a cache: the cron drops
it after a minute without SCAN (:meth:`Keyspace.release_idle_scan_indexes`), and a
cursor handed out before stays valid when the next SCAN rebuilds it.

Three kinds of bookkeeping hang off key changes, and data-type modules must report
their changes for them to work; in particular **new keys must be created with**
:meth:`Database.add` **or** :meth:`Database.set` (never by writing ``data``), or SCAN,
expiry and blocking clients will not see them:

* :meth:`Database.touch` after modifying a key in place: invalidates WATCHes on it
  (Redis's ``signalModifiedKey``);
* keys becoming non-empty lists/zsets/streams wake blocked clients; :meth:`Database.add`
  does it (Redis's ``signalKeyAsReady`` in ``dbAdd``);
* in cluster mode, keys are also indexed by hash slot, so COUNTKEYSINSLOT and
  GETKEYSINSLOT (and slot migration) do not scan the whole keyspace.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from ..cluster.slots import key_hash_slot

#: Types a client can block on (BLPOP, BZPOPMIN, XREAD BLOCK...).
BLOCKABLE_TYPES = frozenset({"list", "zset", "stream"})

#: SCAN positions are 63-bit, so a cursor always prints as a non-negative signed
#: 64-bit number (Redis prints cursors with a signed conversion; clients parse them
#: either way).
SCAN_POSITION_MASK = (1 << 63) - 1

#: Redis's LFU counter of a new key, and the counter's ceiling.
LFU_INIT_VAL = 5
LFU_MAX = 255


def type_name(value: Any) -> str:
    """The TYPE of a stored value: 'string', 'list', 'set', 'zset', 'hash' or 'stream'."""
    return "string" if type(value) is bytes else value.TYPE_NAME


def scan_position(member: bytes) -> int:
    """The stable position of a key (or collection member) in SCAN order.

    Python's bytes hash is SipHash with a per-process seed: stable for the life of the
    process (a cursor is only meaningful to the process that issued it, as in Redis),
    well spread, and computed in C and cached on the bytes object.
    """
    return hash(member) & SCAN_POSITION_MASK


class ScanIndex:
    """Members of a collection ordered by :func:`scan_position`, for cursor iteration.

    Reusable by any container that needs a SCAN-style cursor (the keyspace here; the
    SSCAN/HSCAN/ZSCAN of big collections may use it too). The owner calls :meth:`add`
    and :meth:`discard` as members come and go, and :meth:`page` to serve a cursor.
    """

    __slots__ = ("_entries",)

    def __init__(self, members: Iterable[bytes] = ()) -> None:
        self._entries = SortedList((scan_position(m), m) for m in members)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, member: bytes) -> None:
        self._entries.add((scan_position(member), member))

    def discard(self, member: bytes) -> None:
        self._entries.discard((scan_position(member), member))

    def page(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """At least ``count`` members from position ``cursor`` on (fewer at the end),
        and the cursor to continue from (0 when the iteration is over).

        Members sharing a position are never split across pages, so a position is a
        complete resume point.
        """
        entries = self._entries
        total = len(entries)
        start = entries.bisect_left((cursor,))
        end = start + max(count, 1)
        if end < total:
            last_position = entries[end - 1][0]
            while end < total and entries[end][0] == last_position:
                end += 1
        members = [member for _, member in entries.islice(start, min(end, total))]
        # A position past the last returned one is >= 1, so 0 is free to mean "done".
        return (entries[end][0] if end < total else 0), members


class Keyspace:
    """All databases of a node, and the state their keys share (time, hooks, stats)."""

    def __init__(self, databases: int = 16, *, track_slots: bool = False) -> None:
        self.now_ms = int(time.time() * 1000)
        self.track_slots = track_slots
        #: True on a replica: expired keys are hidden but only deleted by the primary's DEL.
        self.is_replica = False
        #: True while clients are paused (CLIENT PAUSE, a manual failover): the dataset stays
        #: still, expired keys are hidden but not deleted (7.0; the replication offset must not move).
        self.deletions_paused = False
        #: True under an LFU maxmemory policy: lookups count frequency instead of time.
        self.lfu_enabled = False
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        self.databases = [Database(i, self) for i in range(databases)]
        #: (db, key) pairs that became ready for blocked clients since the last serving.
        self.ready_keys: list[tuple[Database, bytes]] = []
        #: clients blocked on each (db index, key), in arrival order; kept by the blocking manager
        self.blocked_on: dict[tuple[int, bytes], list[Any]] = {}
        #: Called as on_expired(db, key) when a key is deleted because its TTL passed
        #: (the node publishes the "expired" keyspace event from it).
        self.on_expired: Callable[[Database, bytes], None] = lambda db, key: None
        #: Called as on_keymiss(db, key) when a read lookup misses ("keymiss" event).
        self.on_keymiss: Callable[[Database, bytes], None] = lambda db, key: None
        #: Called as on_new_key(db, key) when a key is created ("new" event, Redis's dbAdd).
        self.on_new_key: Callable[[Database, bytes], None] | None = None
        self.expired_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0

    def __getitem__(self, index: int) -> Database:
        return self.databases[index]

    def __len__(self) -> int:
        return len(self.databases)

    def active_expire_cycle(self, time_budget_ms: float = 25.0, max_keys: int | None = None) -> int:
        """Delete keys whose TTL has passed, oldest first, in every db; return how many.

        Stops after ``time_budget_ms`` of work (Redis gives its fast/slow cycles a
        share of the CPU the same way) or ``max_keys`` deletions, whichever comes first;
        the next cycle resumes where this one stopped since due keys stay first in the
        expiry index.
        """
        if self.is_replica or self.deletions_paused:
            return 0
        deadline = time.perf_counter() + time_budget_ms / 1000
        deleted = 0
        for db in self.databases:
            if not db.expires:
                continue
            deleted += db.expire_due(self.now_ms, deadline, None if max_keys is None else max_keys - deleted)
            if (max_keys is not None and deleted >= max_keys) or time.perf_counter() >= deadline:
                break
        return deleted

    def release_idle_scan_indexes(self, idle_ms: int = 60_000) -> None:
        """Drop the SCAN index of databases not scanned for ``idle_ms`` (a cache only)."""
        for db in self.databases:
            if db._scan_index is not None and self.now_ms - db._scan_used_ms > idle_ms:
                db._scan_index = None


class Database:
    """One numbered database (SELECT n)."""

    def __init__(self, index: int, keyspace: Keyspace) -> None:
        self.index = index
        self.keyspace = keyspace
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self._expiry_index: SortedList = SortedList()  # (when_ms, key)
        #: last access time of each key in unix ms (OBJECT IDLETIME, LRU eviction)
        self.access: dict[bytes, int] = {}
        #: Redis's packed LFU word per key, (minutes << 8) | counter; LFU policies only
        self.lfu: dict[bytes, int] = {}
        #: keys in SCAN order; None until the first SCAN of this database
        self._scan_index: ScanIndex | None = None
        self._scan_used_ms = 0
        #: WATCHing clients per key; each is marked dirty when the key changes.
        self.watched: dict[bytes, set[Any]] = {}
        #: slot -> keys in that slot (insertion ordered), only in cluster mode.
        self.keys_by_slot: dict[int, dict[bytes, None]] = {}
        self.avg_ttl = 0

    # -- lookups ---------------------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The value of ``key``, or None if missing or expired (deleting it if expired).

        Records the access (OBJECT IDLETIME / LFU), like Redis's lookupKey.
        """
        value = self.data.get(key)
        if value is None:
            return None
        if self.expires and key in self.expires and self._expired(key):
            return None
        keyspace = self.keyspace
        if keyspace.lfu_enabled:
            self._lfu_access(key)
        else:
            self.access[key] = keyspace.now_ms
        return value

    def peek(self, key: bytes) -> Any:
        """Like :meth:`get` without recording an access (Redis's ``LOOKUP_NOTOUCH``)."""
        value = self.data.get(key)
        if value is not None and self.expires and key in self.expires and self._expired(key):
            return None
        return value

    def lookup_read(self, key: bytes) -> Any:
        """Like :meth:`get`, for read commands: counts keyspace hits and misses for INFO,
        and a miss fires the "keymiss" keyspace event."""
        value = self.get(key)
        if value is None:
            self.keyspace.keyspace_misses += 1
            self.keyspace.on_keymiss(self, key)
        else:
            self.keyspace.keyspace_hits += 1
        return value

    def peek_read(self, key: bytes, notify: bool = True) -> Any:
        """A read lookup that leaves the access time alone (Redis's LOOKUP_NOTOUCH: TYPE,
        EXISTS, TTL...); ``notify=False`` also skips the "keymiss" event (OBJECT)."""
        value = self.peek(key)
        if value is None:
            self.keyspace.keyspace_misses += 1
            if notify:
                self.keyspace.on_keymiss(self, key)
        else:
            self.keyspace.keyspace_hits += 1
        return value

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def __contains__(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def is_expired(self, key: bytes) -> bool:
        """True if ``key`` has a TTL that has passed (without deleting it: KEYS)."""
        when = self.expires.get(key)
        return when is not None and when <= self.keyspace.now_ms

    def _expired(self, key: bytes) -> bool:
        """True if ``key`` is past its TTL; on a primary the key is then deleted."""
        when = self.expires.get(key)
        if when is None or when > self.keyspace.now_ms:
            return False
        if self.keyspace.is_replica or self.keyspace.deletions_paused:
            return True
        self._delete_expired(key)
        return True

    def _delete_expired(self, key: bytes) -> None:
        """Delete a key whose TTL passed, with everything Redis does around it."""
        self.delete(key)
        self.keyspace.expired_keys += 1
        self.touch(key)
        self.keyspace.on_expired(self, key)

    # -- access tracking (OBJECT IDLETIME / FREQ) -------------------------------------

    def idle_ms(self, key: bytes) -> int:
        """Milliseconds since ``key`` was last accessed."""
        return max(0, self.keyspace.now_ms - self.access.get(key, self.keyspace.now_ms))

    def set_idle(self, key: bytes, seconds: int) -> None:
        """Make ``key`` look idle for ``seconds`` (RESTORE ... IDLETIME)."""
        self.access[key] = self.keyspace.now_ms - seconds * 1000

    def lfu_counter(self, key: bytes) -> int:
        """Redis's LFUDecrAndReturn: the counter after the decay for the idle minutes."""
        packed = self.lfu.get(key)
        if packed is None:
            return LFU_INIT_VAL
        counter = packed & 0xFF
        decay = self.keyspace.lfu_decay_time
        if decay:
            periods = _minutes_elapsed(packed >> 8, self._lfu_minutes()) // decay
            counter = max(0, counter - periods)
        return counter

    def set_lfu(self, key: bytes, counter: int) -> None:
        """Set the LFU counter of ``key`` (RESTORE ... FREQ)."""
        self.lfu[key] = (self._lfu_minutes() << 8) | min(max(counter, 0), LFU_MAX)

    def _lfu_minutes(self) -> int:
        return (self.keyspace.now_ms // 60000) & 0xFFFF

    def _lfu_access(self, key: bytes) -> None:
        """Redis's updateLFU: decay, then a logarithmic (probabilistic) increment."""
        counter = self.lfu_counter(key)
        if counter < LFU_MAX:
            base = max(0, counter - LFU_INIT_VAL)
            if random.random() < 1.0 / (base * self.keyspace.lfu_log_factor + 1):
                counter += 1
        self.lfu[key] = (self._lfu_minutes() << 8) | counter
        self.access[key] = self.keyspace.now_ms

    # -- changes ---------------------------------------------------------------------

    def add(self, key: bytes, value: Any) -> None:
        """Store a value under a key that does not exist."""
        self.data[key] = value
        self.access[key] = self.keyspace.now_ms
        if self.keyspace.lfu_enabled:
            self.lfu[key] = (self._lfu_minutes() << 8) | LFU_INIT_VAL
        if self._scan_index is not None:
            self._scan_index.add(key)
        if self.keyspace.track_slots:
            self.keys_by_slot.setdefault(key_hash_slot(key), {})[key] = None
        if self.keyspace.blocked_on:
            self._signal_ready(key, value)
        if self.keyspace.on_new_key is not None:
            self.keyspace.on_new_key(self, key)

    def _signal_ready(self, key: bytes, value: Any) -> None:
        """Wake clients blocked on ``key`` if it now holds a type they wait for."""
        if (
            type(value) is not bytes
            and value.TYPE_NAME in BLOCKABLE_TYPES
            and (self.index, key) in self.keyspace.blocked_on
        ):
            self.keyspace.ready_keys.append((self, key))

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store a value, replacing any old one; the TTL is dropped unless ``keep_ttl``.

        This is Redis's ``setKey``: it also invalidates WATCHes on the key.
        """
        if key in self.data:
            self.data[key] = value
            self.access[key] = self.keyspace.now_ms
            if not keep_ttl and key in self.expires:
                self.remove_expire(key)
            if self.keyspace.blocked_on:
                self._signal_ready(key, value)
        else:
            self.add(key, value)
        if self.watched:
            self.touch(key)

    def delete(self, key: bytes) -> bool:
        """Remove a key and its TTL; True if it existed. (Does not check expiry.)"""
        if self.data.pop(key, None) is None:
            return False
        self.access.pop(key, None)
        if self.lfu:
            self.lfu.pop(key, None)
        if key in self.expires:
            self.remove_expire(key)
        if self._scan_index is not None:
            self._scan_index.discard(key)
        if self.keyspace.track_slots:
            slot = key_hash_slot(key)
            bucket = self.keys_by_slot.get(slot)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.keys_by_slot[slot]
        return True

    def touch(self, key: bytes) -> None:
        """Report that ``key`` changed: WATCHing clients' transactions will fail.

        Except for a client that WATCHed the key when it had already expired
        (``client.watched_stale``): the deletion of such a key is no change to what
        that client saw, so only its stale mark goes (Redis 7.0's touchWatchedKey).
        """
        watchers = self.watched.get(key)
        if watchers:
            for client in watchers:
                stale = client.watched_stale
                if stale and (self, key) in stale and key not in self.data:
                    stale.discard((self, key))
                    continue
                client.watch_dirty = True

    def touch_all(self, replaced_with: Database | None = None) -> None:
        """Invalidate WATCHes before this db is emptied (FLUSHDB/FLUSHALL) or, with
        ``replaced_with``, swapped with another (SWAPDB): Redis's touchAllWatchedKeysInDb.

        A watched key changed if it exists here or in ``replaced_with``, with Redis's
        care for keys that had expired when WATCHed: a stale key that goes away, or is
        replaced by another expired key, is no change; a missing key replaced by an
        expired one becomes stale instead.
        """
        for key, watchers in self.watched.items():
            here = key in self.data
            there = replaced_with is not None and key in replaced_with.data
            if not (here or there):
                continue
            for client in watchers:
                entry = (self, key)
                if entry in client.watched_stale:
                    if not there:
                        client.watched_stale.discard(entry)
                        continue
                    if replaced_with is not None and replaced_with.is_expired(key):
                        continue
                elif not here and replaced_with is not None and replaced_with.is_expired(key):
                    client.watched_stale.add(entry)
                    continue
                client.watch_dirty = True

    def flush(self) -> int:
        """Delete every key; return how many there were."""
        count = len(self.data)
        if self.watched:
            self.touch_all()
        self.data = {}
        self.expires = {}
        self._expiry_index = SortedList()
        self.access = {}
        self.lfu = {}
        self._scan_index = None
        self.keys_by_slot = {}
        return count

    def swap_contents(self, other: Database) -> None:
        """Exchange every key (and its TTL and bookkeeping) with ``other`` (SWAPDB)."""
        for attr in (
            "data",
            "expires",
            "_expiry_index",
            "access",
            "lfu",
            "_scan_index",
            "keys_by_slot",
            "avg_ttl",
        ):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            setattr(self, attr, theirs)
            setattr(other, attr, mine)

    # -- TTLs ------------------------------------------------------------------------

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Give ``key`` (which must exist) an absolute expiry time in unix ms."""
        old = self.expires.get(key)
        if old is not None:
            self._expiry_index.discard((old, key))
        self.expires[key] = when_ms
        self._expiry_index.add((when_ms, key))

    def remove_expire(self, key: bytes) -> bool:
        old = self.expires.pop(key, None)
        if old is None:
            return False
        self._expiry_index.discard((old, key))
        return True

    def get_expire(self, key: bytes) -> int | None:
        """Absolute expiry time in unix ms, or None if the key has no TTL."""
        return self.expires.get(key)

    def expire_due(self, now_ms: int, deadline: float | None = None, budget: int | None = None) -> int:
        """Active expiry: delete keys due at ``now_ms``, earliest first.

        Stops at ``budget`` deletions or when ``time.perf_counter()`` passes
        ``deadline`` (checked every 32 keys, to keep the clock reads cheap).
        """
        if self.keyspace.is_replica or self.keyspace.deletions_paused:
            return 0
        deleted = 0
        index = self._expiry_index
        while index and (budget is None or deleted < budget):
            when, key = index[0]
            if when > now_ms:
                break
            self._delete_expired(key)
            deleted += 1
            if deadline is not None and deleted % 32 == 0 and time.perf_counter() >= deadline:
                break
        return deleted

    def next_expiry(self) -> int | None:
        """The earliest expiry time in the db (for waiting in tests and INFO)."""
        return self._expiry_index[0][0] if self._expiry_index else None

    # -- whole-db helpers --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.data)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: about ``count`` keys from ``cursor`` on, and the next cursor.

        Expired keys are included (the caller filters and lazily deletes them, as
        Redis does after its dictScan). The first call builds the SCAN index.
        """
        if self._scan_index is None:
            self._scan_index = ScanIndex(self.data)
        self._scan_used_ms = self.keyspace.now_ms
        return self._scan_index.page(cursor, count)

    def random_key(self, rng: random.Random | None = None) -> bytes | None:
        """A random key that is not expired, or None if the db is empty.

        Expired keys met on the way are deleted (on a primary) and another is drawn.
        On a replica, where they stay, a db of only expired keys would loop forever,
        so after 100 draws an expired key is returned, as Redis does.
        """
        rng = rng or random
        tries = 0
        while self.data:
            index = rng.randrange(len(self.data))
            key = next(itertools.islice(self.data, index, None))
            if key not in self.expires:
                return key
            tries += 1
            if (self.keyspace.is_replica or self.keyspace.deletions_paused) and tries >= 100:
                return key
            if not self._expired(key):
                return key
        return None

    def keys_in_slot(self, slot: int) -> list[bytes]:
        return list(self.keys_by_slot.get(slot, ()))

    def count_keys_in_slot(self, slot: int) -> int:
        return len(self.keys_by_slot.get(slot, ()))


def _minutes_elapsed(then: int, now: int) -> int:
    """Minutes between two 16-bit wrapping minute stamps (Redis's LFUTimeElapsed)."""
    return now - then if now >= then else 65535 - then + now
