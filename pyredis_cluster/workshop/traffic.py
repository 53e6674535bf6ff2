"""A client application that keeps writing and reading while the cluster changes under it.

Theory of operation
-------------------
:class:`RunningClient` is what an application does: a real cluster client (redis-py's
asyncio ``RedisCluster``, which follows ``MOVED`` and ``ASK``, retries ``TRYAGAIN`` and
refreshes its slot map when a node goes away) writing in a loop, with an increasing
``n``, round-robin over some hash tags (so the keys land in slots the scenario chose):

* ``SET {tag}:<n> <n>``: a new key each time, never written again (an append-only log:
  if a move or a failover drops it, nothing will hide the loss);
* ``SET {tag}:latest <n>``: one key per tag, rewritten over and over (a counter: the
  race between a write and a key being moved);

and reading ``{tag}:latest`` back right after writing it.

Every write the cluster **acknowledged** (``OK``) is remembered as the key's last
acknowledged value. A write that failed (an error, a timeout) is counted but not
remembered: the client was told it may not have happened.

:meth:`RunningClient.lost_writes` then reads every key again. Values only grow, so a
write is **lost** exactly when a key reads *smaller* than its last acknowledged value
(or is missing). A key reading *larger* is fine: a write that failed on the client's
side can still have been applied (the reply was lost, not the write).

Reads right after a write that return an older value are counted as ``stale_reads``:
not a loss, but worth showing (the client read from a node that was about to lose the
slot).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import redis.asyncio
from redis.exceptions import RedisError

from .connection import HOST

#: Pause between two operations: the nodes share this event loop, and a workshop wants a
#: steady trickle of traffic, not a benchmark.
OPERATION_GAP_SECONDS = 0.002
#: Keys read per round trip when checking for lost writes.
_VERIFY_BATCH = 200


@dataclass
class Traffic:
    writes: int = 0  # acknowledged
    failed_writes: int = 0
    reads: int = 0
    stale_reads: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the story


class RunningClient:
    """Writes and reads ``keys`` in a loop until stopped (module docstring)."""

    def __init__(self, port: int, tags: list[str]) -> None:
        self.port = port
        self.tags = tags
        self.acknowledged: dict[str, int] = {}
        self.traffic = Traffic()
        self._task: asyncio.Task[None] | None = None
        self._client: redis.asyncio.RedisCluster | None = None
        self._running = False

    async def start(self) -> None:
        self._client = redis.asyncio.RedisCluster(host=HOST, port=self.port, decode_responses=True)
        await self._client.initialize()
        self._running = True
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self._client is not None
        n = 0
        while self._running:
            n += 1
            tag = self.tags[n % len(self.tags)]
            for key in (f"{{{tag}}}:{n}", f"{{{tag}}}:latest"):
                await self._write(key, n)
            try:
                value = await self._client.get(f"{{{tag}}}:latest")
            except (RedisError, OSError) as err:
                self._failed(err, write=False)
            else:
                self.traffic.reads += 1
                if value is None or int(value) < self.acknowledged.get(f"{{{tag}}}:latest", 0):
                    self.traffic.stale_reads += 1
            await asyncio.sleep(OPERATION_GAP_SECONDS)

    async def _write(self, key: str, n: int) -> None:
        assert self._client is not None
        try:
            await self._client.set(key, n)
        except (RedisError, OSError) as err:
            self._failed(err)
        else:
            self.acknowledged[key] = n
            self.traffic.writes += 1

    def _failed(self, err: Exception, write: bool = True) -> None:
        if write:
            self.traffic.failed_writes += 1
        if len(self.traffic.errors) < 5:
            self.traffic.errors.append(f"{type(err).__name__}: {err}")

    async def wait_for_writes(self, count: int, timeout: float) -> bool:
        """Until ``count`` more writes were acknowledged (False if the deadline passed)."""
        target = self.traffic.writes + count
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.traffic.writes < target:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def stop(self) -> None:
        self._running = False
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    async def lost_writes(self, port: int | None = None) -> dict[str, tuple[int, int | None]]:
        """Keys whose value is older than their last acknowledged write: key -> (acked, read)."""
        client = redis.asyncio.RedisCluster(host=HOST, port=port or self.port, decode_responses=True)
        try:
            lost: dict[str, tuple[int, int | None]] = {}
            keys = list(self.acknowledged)
            for start in range(0, len(keys), _VERIFY_BATCH):
                batch = keys[start:start + _VERIFY_BATCH]
                for key, value in zip(batch, await client.mget_nonatomic(batch)):
                    acked = self.acknowledged[key]
                    read = None if value is None else int(value)
                    if read is None or read < acked:
                        lost[key] = (acked, read)
            return lost
        finally:
            await client.aclose()
