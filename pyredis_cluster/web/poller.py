"""The live view's connections to the nodes: polling, the trace channel, one-off commands.

Theory of operation
-------------------
The view is an ordinary Redis client of every node. It speaks RESP through redis-py's
asyncio client (``redis.asyncio.Redis``), not through our own
``protocol/reply_parser.py``: the view needs connection handling (connect and read
timeouts, reconnecting after a node comes back) and a pub/sub loop, which redis-py
provides well tested, while our parser is deliberately sans-IO and would need all of
that written again. It also means the view exercises the nodes exactly as any
application does, and works unchanged against real redis-server nodes.

:class:`ClusterLinks` keeps one client per node address. **Discovery** starts from
the startup nodes; every answer to ``CLUSTER NODES`` may name new addresses, which
get their own poller; an address that no answering node lists any more, and that
does not answer itself, is dropped (a node that was forgotten).

**Polling** runs one task per address, each on its own rhythm: one pipelined round
trip (``CLUSTER NODES``, ``CLUSTER INFO``, ``INFO replication``, and ``PYREDIS.CLOCK``
for the clock column, whose refusal by a node without test commands just leaves the
column empty) bounded by
``timeout``, then a pause of ``interval``. A paused or dead node therefore only
delays its own row: after ``timeout`` it is recorded as unreachable while the
others keep updating. :meth:`ClusterLinks.observations` is the latest answer of each
node, which ``server.py`` turns into a snapshot (``model.build_snapshot``).

**The trace** (``__pyredis__:trace``): one more task per address subscribes and
hands every message to a callback; when the subscription breaks (the node died, or
does not know the channel yet) it retries every ``interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..clocktool import clock_fields
from ..cluster.trace import TRACE_CHANNEL
from .model import Observation, parse_cluster_nodes, parse_info

log = logging.getLogger(__name__)


def text(reply: Any) -> str:
    """A bulk or status reply as text (node texts are ASCII; anything else is replaced)."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)


def _clock_summary(reply: Any) -> dict[str, Any] | None:
    """The page's part of a ``PYREDIS.CLOCK`` reply: mode, scale, held messages."""
    try:
        fields = clock_fields(reply)
        return {"mode": text(fields["mode"]), "scale": text(fields["scale"]), "held": int(fields["held"])}
    except (KeyError, TypeError, ValueError):  # not the reply we know: show nothing rather than fail the poll
        return None


def address_of(host: str, port: int) -> str:
    return f"{host}:{port}"


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


class ClusterLinks:
    """Clients to every known node, their latest observations, trace subscriptions."""

    def __init__(self, startup_nodes: Iterable[tuple[str, int]], *, interval: float = 0.25, timeout: float = 1.0,
                 command_timeout: float = 15.0, on_trace: Callable[[str, bytes], None] | None = None) -> None:  # fmt: skip
        self.interval = interval
        self.timeout = timeout
        self.command_timeout = command_timeout  # a button's command (MIGRATE may take seconds)
        self.on_trace = on_trace
        self._startup = [address_of(host, port) for host, port in startup_nodes]
        self._clients: dict[str, aioredis.Redis] = {}  # polling: short timeouts
        self._command_clients: dict[str, aioredis.Redis] = {}  # the buttons' commands
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._latest: dict[str, Observation] = {}
        #: Set whenever an observation arrives, so the snapshot builder wakes up at once.
        self.changed = asyncio.Event()
        self._closing = False

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        for address in self._startup:
            self._track(address)

    async def close(self) -> None:
        self._closing = True
        tasks = [task for group in self._tasks.values() for task in group]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a cancellation that lands inside redis-py's connection handling can be
            # absorbed there; the loops below then end on ``_closing`` at their next turn.
            await asyncio.wait(tasks, timeout=self.timeout + self.interval + 1.0)
        for client in [*self._clients.values(), *self._command_clients.values()]:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        self._tasks.clear()
        self._clients.clear()
        self._command_clients.clear()

    def client(self, address: str) -> aioredis.Redis:
        """The polling client of ``address`` (lazily connecting; never retries behind our back)."""
        return self._client(self._clients, address, self.timeout)

    def _client(self, clients: dict[str, aioredis.Redis], address: str, timeout: float) -> aioredis.Redis:
        client = clients.get(address)
        if client is None:
            host, port = split_address(address)
            client = aioredis.Redis(host=host, port=port, socket_timeout=timeout, socket_connect_timeout=self.timeout,
                                    retry=Retry(NoBackoff(), 0))  # fmt: skip
            clients[address] = client
        return client

    async def command(self, address: str, *args: str | int | bytes) -> Any:
        """Send one command to one node (ResponseError, ConnectionError, TimeoutError pass through)."""
        return await self._client(self._command_clients, address, self.command_timeout).execute_command(*args)

    # -- polling ------------------------------------------------------------------------

    def observations(self) -> list[Observation]:
        return list(self._latest.values())

    def _track(self, address: str) -> None:
        if address in self._tasks:
            return
        self._tasks[address] = [asyncio.create_task(self._poll_forever(address), name=f"view-poll-{address}"),
                                asyncio.create_task(self._follow_trace(address), name=f"view-trace-{address}")]  # fmt: skip

    def _untrack(self, address: str) -> None:
        for task in self._tasks.pop(address, []):
            task.cancel()
        self._latest.pop(address, None)
        for clients in (self._clients, self._command_clients):
            client = clients.pop(address, None)
            if client is not None:
                asyncio.get_running_loop().create_task(client.aclose())

    async def observe(self, address: str) -> Observation:
        """One pipelined poll of one node, bounded by ``timeout``."""
        try:
            async with asyncio.timeout(self.timeout):
                pipe = self.client(address).pipeline(transaction=False)
                pipe.execute_command("CLUSTER", "NODES")
                pipe.execute_command("CLUSTER", "INFO")
                pipe.execute_command("INFO", "replication")
                pipe.execute_command("PYREDIS.CLOCK")
                nodes, info, replication, clock = await pipe.execute(raise_on_error=False)
            for reply in (nodes, info, replication):
                if isinstance(reply, Exception):
                    raise reply
        except TimeoutError:  # asyncio's (paused, or too busy): its message is empty
            return Observation(address=address, reachable=False, error=f"no answer within {self.timeout:g} s")
        except (RedisError, OSError) as err:
            return Observation(address=address, reachable=False, error=str(err) or type(err).__name__)
        return Observation(
            address=address,
            reachable=True,
            nodes=tuple(parse_cluster_nodes(text(nodes))),
            cluster_info=parse_info(text(info)),
            replication=replication if isinstance(replication, dict) else parse_info(text(replication)),
            # Refused without enable-test-commands (and unknown to redis-server): no clock shown.
            clock=None if isinstance(clock, Exception) else _clock_summary(clock),
        )

    async def _poll_forever(self, address: str) -> None:
        while not self._closing:
            observation = await self.observe(address)
            self._latest[address] = observation
            self._discover()
            self.changed.set()
            await asyncio.sleep(self.interval)

    def _discover(self) -> None:
        """Track addresses that answering nodes list; drop ones nobody lists and that are silent.

        A node that met nobody yet lists itself without an ip (``:7000@17000``): it is
        reached at the address that answered, so such lines add nothing to track.
        """
        listed = {line.address for obs in self._latest.values() if obs.reachable for line in obs.nodes
                  if line.host and line.port and "noaddr" not in line.flags}  # fmt: skip
        for address in listed:
            self._track(address)
        for address, obs in list(self._latest.items()):
            if not obs.reachable and address not in listed and address not in self._startup and listed:
                self._untrack(address)

    # -- the trace channel --------------------------------------------------------------

    async def _follow_trace(self, address: str) -> None:
        if self.on_trace is None:
            return
        host, port = split_address(address)
        while not self._closing:
            # A client of its own: a subscribed connection cannot run the poll's commands.
            client = aioredis.Redis(host=host, port=port, socket_connect_timeout=self.timeout,
                                    retry=Retry(NoBackoff(), 0))  # fmt: skip
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(TRACE_CHANNEL)
                    while True:
                        message = await pubsub.get_message(timeout=None)
                        if message is not None and message.get("type") == "message":
                            self.on_trace(address, message["data"])
            except (RedisError, OSError, TimeoutError) as err:
                log.debug("trace subscription to %s broke: %s", address, err)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(self.interval)
