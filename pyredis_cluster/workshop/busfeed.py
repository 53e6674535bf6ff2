"""The bus messages of the story: every node's teaching trace, without the heartbeat.

Theory of operation
-------------------
Events say what changed; the bus messages say who told whom. Every node of ours can
publish a record of each message it sends and receives on its own pub/sub channel
``__pyredis__:trace`` (cluster/trace.py, server/trace.py). :class:`BusFeed` does what
``python -m pyredis_cluster trace`` does (it uses the same ``tracecli.follow``): for
each node, ``SUBSCRIBE __pyredis__:trace`` on a connection of its own, then
``PYREDIS.TRACE ON``. A reader task per node parses the records as they come.

Only what tells the story is kept, and each message once, at its sending end:

* ``send`` records of every type but PING and PONG (FAIL, FAILOVER_AUTH_REQUEST,
  FAILOVER_AUTH_ACK, UPDATE, MFSTART, MEET, PUBLISH...);
* PINGs and PONGs flagged ``paused``: a primary telling its replica the offset at
  which it paused writes for a manual failover.

They join the scenario's timeline (timeline.py) as lines like
``A1 -> B C  FAILOVER_AUTH_REQUEST epoch 7``, described by the trace CLI's formatter.
Nodes the cluster gains later (an added node, a restarted process) are followed as they
appear. Records come over sockets, a little after the events: :meth:`BusFeed.settle`
waits until the feed has been quiet for a moment before a story is told.

Deliberately weak: a message sent in the first milliseconds of a node's life, before
its subscription is up, is missed (the events still tell that part): an added node's
MEET usually shows, not always.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from ..cluster.trace import Record, TraceFormatError, is_chatter, parse_record
from ..tracecli import FormatOptions, Peer, TraceFormatter, follow
from .connection import HOST
from .stage import node_id

if TYPE_CHECKING:
    from ..server.node import Node
    from .stage import Stage

#: A story is told once no record arrived for this long (seconds) ...
QUIET_SECONDS = 0.03
#: ... or after this long at most.
SETTLE_LIMIT_SECONDS = 0.5
_WATCH_PERIOD_SECONDS = 0.005  # a new node is followed within a few ms (before most of its traffic)
_FOLLOW_TIMEOUT_SECONDS = 5.0


def tells_the_story(record: Record) -> bool:
    """A message worth a line (module docstring)."""
    if record["kind"] != "send":
        return False
    return not is_chatter(record) or "paused" in record["mflags"]


class BusFeed:
    """Follows every node's trace channel and adds the story's messages to the timeline."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        #: The trace CLI's message descriptions, with the scenario's labels as names.
        self.formatter = TraceFormatter(FormatOptions(), names=stage.labels)
        self.records = 0
        self._last_record = time.monotonic()
        self._followed: set[int] = set()  # id() of the Node objects followed
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[object] = []
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._follow_new_nodes()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(_WATCH_PERIOD_SECONDS)
            with contextlib.suppress(OSError, TimeoutError, ConnectionError):
                await self._follow_new_nodes()

    async def _follow_new_nodes(self) -> None:
        cluster = self.stage.cluster
        assert cluster is not None
        for node in list(cluster.nodes):
            if id(node) in self._followed or not cluster.faults.is_alive(node) or node.cluster is None:
                continue
            self._followed.add(id(node))
            await self._follow(node)

    async def _follow(self, node: Node) -> None:
        followed = await follow(Peer(node_id(node), HOST, node.port, ""), _FOLLOW_TIMEOUT_SECONDS)
        subscription = followed.subscription
        self._subscriptions.append(subscription)
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(subscription)))

    async def _read(self, subscription: object) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                message = await subscription.reply()  # type: ignore[attr-defined]
                if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"):
                    continue
                try:
                    record = parse_record(message[2])
                except TraceFormatError:
                    continue
                self.records += 1
                self._last_record = time.monotonic()
                if tells_the_story(record):
                    self._add(record)

    def _add(self, record: Record) -> None:
        stage = self.stage
        sender = stage.label_source(record["from"])
        if record["type"] in ("PING", "PONG"):  # a paused primary's heartbeat: what matters is the offset
            text = f"{record['type']} [paused] offset {record['offset']}"
        else:
            text = self.formatter.describe_message(record)
        stage.timeline.add_message(record["t"], sender, text, record["type"], self._receiver(record))

    def _receiver(self, record: Record) -> str:
        """The receiver's label; during a handshake its id is still a random name, so the
        label of the node listening at the address the message went to."""
        if record["to"] in self.stage.labels:
            return self.stage.labels[record["to"]]
        port = (record["to_addr"] or "").rpartition(":")[2]
        cluster = self.stage.cluster
        for node in cluster.nodes if cluster is not None else []:
            if port == str(node.port):
                return self.stage.label(node)
        return self.stage.label_of(record["to"] or "?")

    async def settle(self) -> None:
        """Until no record arrived for QUIET_SECONDS (at most SETTLE_LIMIT_SECONDS)."""
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        while time.monotonic() < deadline and time.monotonic() - self._last_record < QUIET_SECONDS:
            await asyncio.sleep(QUIET_SECONDS / 3)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for task in self._tasks:
            task.cancel()
        for subscription in self._subscriptions:
            subscription.close()  # type: ignore[attr-defined]
        await asyncio.gather(*self._tasks, *([self._watcher] if self._watcher else []), return_exceptions=True)


__all__ = ["BusFeed", "tells_the_story"]
