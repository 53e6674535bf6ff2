"""The keyspace: numbered databases of keys, their TTLs, and the bookkeeping around them.

Theory of operation
-------------------
A :class:`Database` maps keys (``bytes``) to values. A string is stored as ``bytes``;
every other type is an instance of its data-type module's value class, which carries a
``TYPE_NAME`` (``"list"``, ``"hash"``...). TTLs live apart from values, in
``expires`` (key -> absolute unix time in ms), plus an ordered expiry index so that the
active expiry cycle finds due keys without scanning.

Expiry is both **lazy** (a key found past its TTL is deleted when looked up, before the
command sees it) and **active** (:meth:`Keyspace.active_expire_cycle` deletes due keys
in the background, within a time budget). Time is frozen per command: the dispatcher
sets :attr:`Keyspace.now_ms` before each command, as Redis caches ``mstime()``, so a
key cannot expire half-way through a command (or a MULTI/EXEC).

Three kinds of bookkeeping hang off key changes, and data-type modules must report
their changes for them to work:

* :meth:`Database.touch` after modifying a key in place: invalidates WATCHes on it
  (Redis's ``signalModifiedKey``);
* keys becoming non-empty lists/zsets/streams wake blocked clients; :meth:`Database.add`
  does it (Redis's ``signalKeyAsReady`` in ``dbAdd``);
* in cluster mode, keys are also indexed by hash slot, so COUNTKEYSINSLOT and
  GETKEYSINSLOT (and slot migration) do not scan the whole keyspace.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from sortedcontainers import SortedList

from ..cluster.slots import key_hash_slot

#: Types a client can block on (BLPOP, BZPOPMIN, XREAD BLOCK...).
BLOCKABLE_TYPES = frozenset({"list", "zset", "stream"})


def type_name(value: Any) -> str:
    """The TYPE of a stored value: 'string', 'list', 'set', 'zset', 'hash' or 'stream'."""
    return "string" if type(value) is bytes else value.TYPE_NAME


class Keyspace:
    """All databases of a node, and the state their keys share (time, hooks, stats)."""

    def __init__(self, databases: int = 16, *, track_slots: bool = False) -> None:
        self.now_ms = 0
        self.track_slots = track_slots
        #: True on a replica: expired keys are hidden but only deleted by the primary's DEL.
        self.is_replica = False
        self.databases = [Database(i, self) for i in range(databases)]
        #: (db, key) pairs that became ready for blocked clients since the last serving.
        self.ready_keys: list[tuple[Database, bytes]] = []
        #: clients blocked on each (db index, key), in arrival order; kept by the blocking manager
        self.blocked_on: dict[tuple[int, bytes], list[Any]] = {}
        #: Called as on_expired(db, key) when a key is deleted because its TTL passed.
        self.on_expired: Callable[[Database, bytes], None] = lambda db, key: None
        self.expired_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0

    def __getitem__(self, index: int) -> Database:
        return self.databases[index]

    def __len__(self) -> int:
        return len(self.databases)

    def active_expire_cycle(self, budget: int = 200) -> int:
        """Delete up to ``budget`` keys whose TTL has passed, in every db; return how many."""
        deleted = 0
        for db in self.databases:
            deleted += db.expire_due(self.now_ms, budget - deleted)
            if deleted >= budget:
                break
        return deleted


class Database:
    """One numbered database (SELECT n)."""

    def __init__(self, index: int, keyspace: Keyspace) -> None:
        self.index = index
        self.keyspace = keyspace
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self._expiry_index: SortedList = SortedList()  # (when_ms, key)
        #: WATCHing clients per key; each is marked dirty when the key changes.
        self.watched: dict[bytes, set[Any]] = {}
        #: slot -> keys in that slot (insertion ordered), only in cluster mode.
        self.keys_by_slot: dict[int, dict[bytes, None]] = {}
        self.avg_ttl = 0

    # -- lookups ---------------------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The value of ``key``, or None if missing or expired (deleting it if expired)."""
        value = self.data.get(key)
        if value is not None and self.expires and key in self.expires and self._expired(key):
            return None
        return value

    def lookup_read(self, key: bytes) -> Any:
        """Like :meth:`get`, for read commands: counts keyspace hits and misses for INFO."""
        value = self.get(key)
        if value is None:
            self.keyspace.keyspace_misses += 1
        else:
            self.keyspace.keyspace_hits += 1
        return value

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def _expired(self, key: bytes) -> bool:
        """True if ``key`` is past its TTL; on a primary the key is then deleted."""
        when = self.expires.get(key)
        if when is None or when > self.keyspace.now_ms:
            return False
        if self.keyspace.is_replica:
            return True
        self.delete(key)
        self.keyspace.expired_keys += 1
        self.keyspace.on_expired(self, key)
        return True

    # -- changes ---------------------------------------------------------------------

    def add(self, key: bytes, value: Any) -> None:
        """Store a value under a key that does not exist."""
        self.data[key] = value
        if self.keyspace.track_slots:
            self.keys_by_slot.setdefault(key_hash_slot(key), {})[key] = None
        if self.keyspace.blocked_on:
            self._signal_ready(key, value)

    def _signal_ready(self, key: bytes, value: Any) -> None:
        """Wake clients blocked on ``key`` if it now holds a type they wait for."""
        if type(value) is not bytes and value.TYPE_NAME in BLOCKABLE_TYPES and (self.index, key) in self.keyspace.blocked_on:
            self.keyspace.ready_keys.append((self, key))

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store a value, replacing any old one; the TTL is dropped unless ``keep_ttl``.

        This is Redis's ``setKey``: it also invalidates WATCHes on the key.
        """
        if key in self.data:
            self.data[key] = value
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
        if key in self.expires:
            self.remove_expire(key)
        if self.keyspace.track_slots:
            slot = key_hash_slot(key)
            bucket = self.keys_by_slot.get(slot)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.keys_by_slot[slot]
        return True

    def touch(self, key: bytes) -> None:
        """Report that ``key`` changed: WATCHing clients' transactions will fail."""
        watchers = self.watched.get(key)
        if watchers:
            for client in watchers:
                client.watch_dirty = True

    def touch_all(self) -> None:
        """Every watched key changed (FLUSHDB, SWAPDB...)."""
        for key in self.watched:
            self.touch(key)

    def flush(self) -> int:
        """Delete every key; return how many there were."""
        count = len(self.data)
        for key in list(self.watched):
            if key in self.data:
                self.touch(key)
        self.data = {}
        self.expires = {}
        self._expiry_index = SortedList()
        self.keys_by_slot = {}
        return count

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

    def expire_due(self, now_ms: int, budget: int) -> int:
        """Active expiry: delete keys due at ``now_ms``, at most ``budget`` of them."""
        if self.keyspace.is_replica:
            return 0
        deleted = 0
        index = self._expiry_index
        while index and deleted < budget:
            when, key = index[0]
            if when > now_ms:
                break
            self.delete(key)
            self.keyspace.expired_keys += 1
            self.keyspace.on_expired(self, key)
            deleted += 1
        return deleted

    # -- whole-db helpers --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.data)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))

    def random_key(self, rng: random.Random | None = None) -> bytes | None:
        """A random key that is not expired, or None if the db is empty (Redis tries 100 times)."""
        rng = rng or random
        for _ in range(100):
            if not self.data:
                return None
            key = rng.choice(list(self.data))
            if self.get(key) is not None:
                return key
        return next(iter(self.data), None)

    def keys_in_slot(self, slot: int) -> list[bytes]:
        return list(self.keys_by_slot.get(slot, ()))

    def count_keys_in_slot(self, slot: int) -> int:
        return len(self.keys_by_slot.get(slot, ()))
