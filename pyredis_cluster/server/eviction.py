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
    excess = used_memory() - maxmemory
    if excess <= 0:
        return True
    policy = str(node.config.maxmemory_policy)
    if policy == "noeviction":
        return False
    samples = max(1, int(node.config.maxmemory_samples))
    freed = 0
    while freed < excess:
        victim = _pick_victim(node.keyspace.databases, policy, samples)
        if victim is None:
            return False  # nothing (left) that the policy may evict
        db, key = victim
        freed += _estimated_size(key, db.data[key])
        _evict(node, db, key)
    return True


def _pick_victim(databases: list[Database], policy: str, samples: int) -> tuple[Database, bytes] | None:
    """The best eviction candidate among random samples of the policy's key population."""
    volatile = policy.startswith("volatile-")
    populated = [db for db in databases if (db.expires if volatile else db.data)]
    if not populated:
        return None
    best: tuple[Database, bytes] | None = None
    best_score = 0
    for _ in range(1 if policy.endswith("-random") else samples):
        db = random.choice(populated)
        pool = db.expires if volatile else db.data
        key = next(iter(pool)) if len(pool) == 1 else list(pool)[random.randrange(len(pool))]
        score = _score(db, key, policy)
        if best is None or score > best_score:
            best, best_score = (db, key), score
    return best


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
