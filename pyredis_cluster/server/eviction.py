"""maxmemory: the out-of-memory gate and key eviction (Redis's ``performEvictions``).

Theory of operation
-------------------
When ``maxmemory`` is non-zero, Redis checks before every command (and when CONFIG SET
changes ``maxmemory``) whether the memory in use exceeds it. If so it evicts keys as
``maxmemory-policy`` says until enough memory is freed; when it cannot (policy
``noeviction``, or nothing left to evict) the check fails and the dispatch pipeline
refuses ``denyoom`` commands with ``-OOM ...`` (inside MULTI it refuses every queued
command, which flags the transaction).

"Memory in use" is what INFO reports as ``used_memory``: the process's resident set
size (:func:`used_memory`). A Python process cannot give memory back to the system
reliably, so the RSS does not fall when a key is deleted; the amount an eviction frees
is therefore *estimated* from the victim's size (:func:`_estimated_size`), and eviction
stops once the estimates cover the excess, as Redis stops once its allocator counter
says so. Victims are chosen the way Redis approximates its policies: among
``maxmemory-samples`` random candidates (all keys, or only keys with a TTL for the
``volatile-*`` policies), the one idle longest (LRU), least frequently used (LFU), or
nearest to expiring (TTL); ``*-random`` takes any one. Each eviction counts in INFO's
``evicted_keys``, invalidates WATCHes and fires the "evicted" keyspace event (class 'e').

When ``maxmemory`` is 0 (the default) none of this runs: the pipeline tests one
attribute.
"""

from __future__ import annotations

import os
import random
import resource
from typing import Any

from .keyspace import Database

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def used_memory() -> int:
    """Resident memory of the process in bytes, from /proc (cheap); the peak RSS elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def perform_evictions(node: Any) -> bool:
    """Bring memory under ``maxmemory`` by evicting keys; False if it is still over it."""
    maxmemory = int(node.config.maxmemory)
    if not maxmemory:
        return True
    if node.keyspace.is_replica and node.config.replica_ignore_maxmemory:
        return True  # a replica leaves eviction to its primary (replica-ignore-maxmemory)
    if node.keyspace.deletions_paused:
        return True  # clients are paused: the dataset stays still (7.0's isSafeToPerformEvictions)
    excess = used_memory() - maxmemory
    if excess <= 0:
        return True
    policy = str(node.config.maxmemory_policy)
    if policy == "noeviction":
        return False
    samples = max(1, int(node.config.maxmemory_samples))
    candidates = _Candidates(node.keyspace.databases, volatile=policy.startswith("volatile-"))
    freed = 0
    while freed < excess:
        victim = candidates.pick(policy, samples)
        if victim is None:
            return False  # nothing (left) that the policy may evict
        db, key = candidates.take(*victim)
        freed += _estimated_size(key, db.data[key])
        _evict(node, db, key)
    return True


class _Candidates:
    """The keys a policy may evict, as lists per database for O(1) random sampling.

    Built once per eviction round (a dict cannot be indexed at random), so evicting
    many keys costs one pass over the keyspace, not one per victim.
    """

    def __init__(self, databases: list[Database], volatile: bool) -> None:
        self.keys: dict[Database, list[bytes]] = {}
        for db in databases:
            pool = db.expires if volatile else db.data
            if pool:
                self.keys[db] = list(pool)

    def pick(self, policy: str, samples: int) -> tuple[Database, int] | None:
        """(db, index) of the best victim among random samples (one for the random policies)."""
        if not self.keys:
            return None
        populated = list(self.keys)
        best: tuple[Database, int] | None = None
        best_score = 0
        for _ in range(1 if policy.endswith("-random") else samples):
            db = random.choice(populated)
            index = random.randrange(len(self.keys[db]))
            score = _score(db, self.keys[db][index], policy)
            if best is None or score > best_score:
                best, best_score = (db, index), score
        return best

    def take(self, db: Database, index: int) -> tuple[Database, bytes]:
        """Remove a picked candidate from the lists and return it."""
        keys = self.keys[db]
        key = keys[index]
        keys[index] = keys[-1]  # swap-remove: order does not matter
        keys.pop()
        if not keys:
            del self.keys[db]
        return db, key


def _score(db: Database, key: bytes, policy: str) -> int:
    """Higher is a better victim: longer idle, lower LFU counter, sooner expiry."""
    if policy.endswith("-lru"):
        return db.idle_ms(key)
    if policy.endswith("-lfu"):
        return 255 - db.lfu_counter(key)
    if policy.endswith("-ttl"):
        return -db.expires.get(key, 0)
    return 0


def _evict(node: Any, db: Database, key: bytes) -> None:
    """Delete a key for memory's sake, with Redis's bookkeeping and "evicted" event."""
    db.delete(key)
    db.touch(key)
    feed = node.repl_feed  # replicas delete it too (server/replication.py)
    if feed is not None:
        feed.propagate_deletion(db.index, key, lazy=bool(node.config.lazyfree_lazy_eviction), at_once=True)
    keyspace = node.keyspace
    keyspace.evicted_keys = getattr(keyspace, "evicted_keys", 0) + 1
    node.notify_keyspace_event("e", "evicted", key, db.index)


def _estimated_size(key: bytes, value: Any) -> int:
    """A rough size of a key and its value (the RSS will not show the memory freed)."""
    if type(value) is bytes:
        return 64 + len(key) + len(value)
    try:
        return 64 + len(key) + 64 * len(value)
    except TypeError:
        return 64 + len(key)
