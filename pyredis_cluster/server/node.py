"""The node: a keyspace, its clients and listeners, and the background cron.

Theory of operation
-------------------
:class:`Node` holds everything a running server shares (configuration, keyspace,
clients, pub/sub, blocked clients, statistics) and owns the asyncio listeners. It is
separate from its binding: ``Node(config)`` builds the state, ``await node.start()``
binds (port 0 binds an ephemeral port; :attr:`Node.port` tells which), ``await
node.close()`` stops. ``async with Node(config) as node:`` does both.

The cron (Redis's ``serverCron``) runs ``hz`` times a second: active expiry of keys
whose TTL passed, and closing idle clients when ``timeout`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..protocol.encoder import encode
from ..protocol.quoting import sds_repr
from .blocking import BlockingManager
from .client import Client
from .keyspace import Keyspace
from .pubsub import PubSub
from .stats import Stats

if TYPE_CHECKING:
    from .busy import BusyGate
    from .cluster_node import ClusterSupport

log = logging.getLogger("pyredis_cluster")

#: notify-keyspace-events letters; 'A' is an alias for "g$lshzxetd".
_EVENT_CLASSES = "g$lshzxetdm"


def parse_notify_flags(text: str) -> str | None:
    """Normalise a notify-keyspace-events value; None if it has an unknown letter."""
    flags = set()
    for ch in text:
        if ch == "A":
            flags |= set("g$lshzxetd")
        elif ch in _EVENT_CLASSES + "KEn":
            flags.add(ch)
        else:
            return None
    return "".join(sorted(flags))


class Node:
    def __init__(self, config: Config | None = None) -> None:
        # Importing the command modules fills the command table.
        from . import commands  # noqa: F401

        self.config = config or Config()
        self.keyspace = Keyspace(self.config.databases, track_slots=bool(self.config.cluster_enabled))
        self.keyspace.on_expired = self._key_expired
        self.keyspace.on_new_key = self._key_created
        self.keyspace.on_keymiss = self._key_missed
        self.clients: dict[int, Client] = {}
        self._next_client_id = 1
        self.pubsub = PubSub()
        self.stats = Stats()
        self.blocking = BlockingManager(self.keyspace, self._schedule)
        self.monitors: list[Client] = []
        #: CLIENT PAUSE state (commands/connection.py), consulted by the dispatch pipeline.
        self.client_pause: Any = None
        #: The busy gate (server/busy.py) while a MIGRATE is in flight: others' commands wait.
        self.busy: BusyGate | None = None
        #: DEBUG SET-ACTIVE-EXPIRE 0 turns the cron's active expiry off (tests rely on it).
        self.active_expire_enabled = True
        self.dirty = 0
        self.lastsave = int(time.time())
        self.run_id = os.urandom(20).hex()
        #: Cluster routing gate for the dispatch pipeline; set by the cluster layer.
        self.cluster_router: Callable[..., Any] | None = None
        #: Cluster mode (cluster-enabled yes): the cluster core and its bus.
        self.cluster: ClusterSupport | None = None
        if self.config.cluster_enabled:
            from .cluster_node import ClusterSupport

            self.cluster = ClusterSupport(self)
        self.port = 0
        self.started_at = time.time()
        self.shutdown_requested = asyncio.Event() if _has_loop() else None
        self._servers: list[asyncio.base_events.Server] = []
        self._cron_task: asyncio.Task[None] | None = None
        self.cron_paused = False  # DEBUG PAUSE-CRON
        #: Test double (testing/faults.py): scripted errors answered before routing; falsy = none.
        self.scripted_replies: Any = None
        #: True when this node is the whole process (``python -m pyredis_cluster``): the test
        #: double's PYREDIS.FAULT KILL then exits the process instead of closing the node.
        self.owns_process = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Replication state (server/replication.py), made on first use; repl_feed is the
        #: same object once a backlog exists (dispatch.call propagates through it), else None.
        self.replication: Any = None
        self.repl_feed: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        from .connection import ClientConnection

        self._loop = asyncio.get_running_loop()
        if self.shutdown_requested is None:
            self.shutdown_requested = asyncio.Event()
        port = self.config.port
        addresses = self.config.bind.split() or ["127.0.0.1"]
        for address in addresses:
            optional = address.startswith("-")
            host = address.lstrip("-")
            host = None if host == "*" else host
            try:
                server = await self._loop.create_server(
                    lambda: ClientConnection(self), host=host, port=port, reuse_address=True, backlog=511
                )
            except OSError as err:
                if optional:
                    continue
                await self.close()
                raise OSError(err.errno, f"Could not create server TCP listening socket {address}:{port}: {err.strerror}") from err
            self._servers.append(server)
            if port == 0:  # ephemeral: every other address binds the same port
                port = server.sockets[0].getsockname()[1]
        self.port = port
        if self.cluster is not None:
            hosts = [None if a.lstrip("-") == "*" else a.lstrip("-") for a in addresses if not a.startswith("-")]
            try:
                await self.cluster.start(hosts or ["127.0.0.1"])
            except OSError as err:
                await self.close()
                raise OSError(err.errno, f"Could not create the cluster bus listening socket: {err.strerror}") from err
        self._cron_task = self._loop.create_task(self._cron())

    async def close(self) -> None:
        if self.busy is not None:  # a MIGRATE in flight dies with the node, unanswered
            await self.busy.close()
        from .commands.migrate import close_socket_cache

        close_socket_cache(self)  # MIGRATE's cached connections to targets close with the node
        if self._cron_task is not None:
            self._cron_task.cancel()
            try:
                await self._cron_task
            except asyncio.CancelledError:
                pass
            self._cron_task = None
        if self.cluster is not None:
            await self.cluster.close()
        if self.replication is not None:
            await self.replication.close()
        for server in self._servers:
            server.close()
        for client in list(self.clients.values()):
            client.on_close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def request_shutdown(self) -> None:
        if self.shutdown_requested is not None:
            self.shutdown_requested.set()

    def _schedule(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        loop = self._loop or asyncio.get_running_loop()
        return loop.call_later(delay, callback)

    async def _cron(self) -> None:
        while True:
            hz = max(1, min(500, self.config.hz or 10))
            await asyncio.sleep(1 / hz)
            if self.cron_paused:
                continue
            try:
                self.cron()
            except Exception:  # the cron must survive a bug in one of its jobs
                log.exception("error in server cron")

    def cron(self) -> None:
        """One tick of background work: active expiry, idle clients."""
        self.keyspace.now_ms = int(time.time() * 1000)
        self._sync_lfu_settings()
        self.keyspace.release_idle_scan_indexes()
        if self.active_expire_enabled and self.busy is None:  # Redis's cron waits out a MIGRATE
            self.keyspace.active_expire_cycle()
        self.stats.sample()
        timeout = self.config.timeout
        if timeout:
            now = time.time()
            for client in list(self.clients.values()):
                if (
                    now - client.last_interaction > timeout
                    and client.blocked is None
                    and not client.subscription_count
                    and not client.is_monitor
                ):
                    log.log(15, "Closing idle client")
                    client.on_close()

    # -- replication (the cluster core's ReplicationChanged effect calls these) --------------

    def start_replication(self, host: str, port: int) -> None:
        """Become a replica of ``host:port`` (full or partial resync, then the stream)."""
        from .replication import get_replication

        get_replication(self).start(host, port)

    def stop_replication(self) -> None:
        """Stop replicating and become a primary, keeping the data (REPLICAOF NO ONE)."""
        if self.replication is not None:
            self.replication.stop()

    # -- clients --------------------------------------------------------------------------

    def new_client(self, sink: Callable[[bytes], None]) -> Client:
        client = Client(self, self._next_client_id, sink)
        self._next_client_id += 1
        self.clients[client.id] = client
        return client

    def forget_client(self, client: Client) -> None:
        """Clean up after a client that disconnected."""
        self.clients.pop(client.id, None)
        if client.blocked is not None:
            self.blocking.unblock(client)
        client.unwatch_all()
        self.unsubscribe_all(client)
        client.killed = True

    def unsubscribe_all(self, client: Client) -> None:
        """Drop every subscription of a client and stop its MONITOR (disconnect, RESET)."""
        self.pubsub.forget(client)
        if client in self.monitors:
            self.monitors.remove(client)
        client.is_monitor = False

    # -- notifications ---------------------------------------------------------------------

    def _key_expired(self, db: Any, key: bytes) -> None:
        """A key was deleted because its TTL passed (lazily or by the cron)."""
        self.notify_keyspace_event("x", "expired", key, db.index)

    def _key_created(self, db: Any, key: bytes) -> None:
        """A key was created (the "new" event: only sent when 'n' is enabled explicitly)."""
        flags = self.config._values["notify-keyspace-events"]
        if flags and "n" in flags:
            self.notify_keyspace_event("n", "new", key, db.index)

    def _key_missed(self, db: Any, key: bytes) -> None:
        """A read command looked up a key that does not exist."""
        if self.config.notify_keyspace_events:
            self.notify_keyspace_event("m", "keymiss", key, db.index)

    def _sync_lfu_settings(self) -> None:
        """Tell the keyspace whether lookups must count LFU frequency (maxmemory-policy)."""
        keyspace, config = self.keyspace, self.config
        keyspace.lfu_enabled = "lfu" in str(config.maxmemory_policy)
        keyspace.lfu_log_factor = int(config.lfu_log_factor)
        keyspace.lfu_decay_time = int(config.lfu_decay_time)

    def notify_keyspace_event(self, event_class: str, event: str, key: bytes, dbid: int) -> None:
        """Publish __keyspace@db__:key and/or __keyevent@db__:event (notify-keyspace-events)."""
        # Hot path (every write calls it): read the option without Config.__getattr__'s name mangling.
        flags = self.config._values["notify-keyspace-events"]
        if not flags or event_class not in flags:
            return
        if "K" in flags:
            self.pubsub.publish(b"__keyspace@%d__:%s" % (dbid, key), event.encode())
        if "E" in flags:
            self.pubsub.publish(b"__keyevent@%d__:%s" % (dbid, event.encode()), key)

    def publish(self, channel: bytes, message: bytes, *, sharded: bool = False) -> int:
        """PUBLISH/SPUBLISH from a client: deliver locally and, in cluster mode, over the bus.

        Returns the number of local receivers, which is what PUBLISH answers (Redis counts
        only the clients of the node the command was sent to).
        """
        receivers = self.pubsub.publish_shard(channel, message) if sharded else self.pubsub.publish(channel, message)
        if self.cluster is not None and self.cluster.state is not None:
            self.cluster.broadcast_publish(channel, message, sharded)
        return receivers

    def feed_monitors(self, c: Client, args: list[bytes]) -> None:
        """Send a command line to MONITOR clients: ``+1700000000.123456 [0 127.0.0.1:5000] "GET" "k"``.

        Passwords are shown as "(redacted)", as Redis 7.0 does for AUTH, HELLO ... AUTH
        and MIGRATE ... AUTH/AUTH2. (A script's client shows its ``addr``, "lua".)
        """
        now_us = time.time_ns() // 1000
        words = " ".join(sds_repr(arg) for arg in _redact(args))
        line = "%d.%06d [%d %s] %s" % (now_us // 1_000_000, now_us % 1_000_000, c.db.index, c.addr, words)
        data = b"+" + line.encode("utf-8", "surrogateescape") + b"\r\n"
        for monitor in list(self.monitors):
            monitor.write_raw(data)

    def encode_for(self, c: Client, value: Any) -> bytes:
        return encode(value, c.resp)


_REDACTED = b"(redacted)"


def _redact(args: list[bytes]) -> list[bytes]:
    """Hide the secrets of AUTH, HELLO's AUTH option and MIGRATE's AUTH/AUTH2 options."""
    name = args[0].lower()
    if name == b"auth":
        return args[:1] + [_REDACTED] * (len(args) - 1)
    if name not in (b"hello", b"migrate"):
        return args
    shown = list(args)
    i = 1
    while i < len(shown):
        word = shown[i].lower()
        hidden = 2 if word == b"auth2" or (word == b"auth" and name == b"hello") else 1 if word == b"auth" else 0
        for j in range(i + 1, min(len(shown), i + 1 + hidden)):
            shown[j] = _REDACTED
        i += 1 + hidden
    return shown




def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False
