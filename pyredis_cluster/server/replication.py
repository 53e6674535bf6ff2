"""Primary/replica replication, as Redis 7.0 does it (PSYNC2, RDB transfer, backlog).

Theory of operation
-------------------
One :class:`Replication` per node (``node.replication``, made on first use) holds both
sides of the protocol:

*Primary side.* A replica connects as a normal client and sends ``PSYNC replid offset``
(or the old ``SYNC``). When the replid is ours (or our previous one, ``replid2``, up to
``second_repl_offset``) and the requested offset is still in the backlog, it gets
``+CONTINUE <replid>`` and the backlog bytes from that offset; otherwise
``+FULLRESYNC <replid> <offset>`` and an RDB snapshot as ``$<len>\\r\\n<bytes>``. From
then on its client is a :class:`ReplicaLink` and receives the *command stream*: every
command that changed the dataset (``node.dirty`` grew), encoded as a RESP multibulk,
preceded by ``SELECT`` when the database changes. The same bytes go to the backlog
(``repl-backlog-size`` bytes, a ring kept as a trimmed bytearray); ``master_repl_offset``
counts every byte ever fed. Propagation is hooked into ``dispatch.call`` through
``node.repl_feed`` (None while there is no backlog: then it costs one attribute read).

Redis 7.0 rewrites commands whose effect depends on the time or on randomness, so a
replica ends with the same data: relative expiries become absolute (``SET ... PXAT``,
``PEXPIREAT``), a key deleted by expiry or eviction is sent as ``DEL`` (``UNLINK`` with
lazyfree-lazy-expire / -eviction), INCRBYFLOAT as ``SET ...
KEEPTTL``, SPOP as SREM, and blocking pops as their non-blocking forms. Those rewrites
live in :data:`_REWRITES` here (they look at the command's arguments, reply and the
resulting key state), so data-type handlers need no change; a handler with special
needs can still call ``c.propagate_as(...)``. Commands run inside a command (EXEC,
scripts) are collected and sent after it, wrapped in MULTI/EXEC when there are several,
which is 7.0's ``propagatePendingCommands``.

A replica that stops reading is cut off by client-output-buffer-limit's replica class
(:class:`ReplicaLink`). INFO stats counts ``sync_full``, ``sync_partial_ok`` and
``sync_partial_err`` (a PSYNC naming a history we cannot continue, ``?`` excepted), and
CLIENT LIST shows replica links with flag ``S``.

*Replica side.* ``REPLICAOF host port`` (or the cluster core's ``ReplicationChanged``
via :meth:`Replication.start`) runs an asyncio task: PING, ``REPLCONF listening-port``,
``REPLCONF capa eof capa psync2``, ``PSYNC <replid> <offset+1>`` (our own history, as
7.0 does, which a former replica of ours now primary can continue), then loads the RDB
(length-prefixed or EOF-marker form) into a flushed keyspace, and applies the stream
as the *master client* (``c.is_master``: no routing, no READONLY refusal, no replies;
in CLIENT LIST with flag ``M`` while the link is up, and CLIENT KILL TYPE master drops
the link). Every applied command's bytes also feed our own backlog, so our offset
equals the primary's and, once promoted, our replicas can continue partially.
``REPLCONF ACK <offset>`` goes back every second. A lost link is retried with PSYNC,
which continues from the backlog after a short disconnect.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ..config import REDIS_VERSION
from ..protocol.encoder import ErrorReply

if TYPE_CHECKING:
    from .client import Client
    from .command_table import CommandSpec
    from .node import Node

log = logging.getLogger("pyredis_cluster")

#: Bytes the backlog may exceed its size by before it is trimmed (amortises the copy).
_TRIM_SLACK = 64 * 1024
#: Seconds between two connection attempts of a replica whose link is down.
_RECONNECT_DELAY = 0.2
#: Seconds between two looks at whether a pause that holds back a GETACK is over.
_GETACK_RETRY_DELAY = 0.1


def encode_command(args: list[bytes]) -> bytes:
    """A command as a RESP multibulk, the form of the replication stream."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def replica_buffer_limits(config: Any) -> tuple[int, int, int]:
    """client-output-buffer-limit's replica class: (hard bytes, soft bytes, soft seconds)."""
    words = str(config.client_output_buffer_limit).split()
    for i in range(0, len(words) - 3, 4):
        if words[i].lower() in ("slave", "replica"):
            return int(words[i + 1]), int(words[i + 2]), int(words[i + 3])
    return 0, 0, 0


class ReplicaLink:
    """A replica connected to us (Redis's client with CLIENT_SLAVE).

    Its output buffer is bounded by client-output-buffer-limit's replica class: a
    replica that does not read (stopped, or too slow) is disconnected once the stream
    bytes waiting for it reach the hard limit, or stay above the soft limit for longer
    than its seconds (7.0's checkClientOutputBufferLimits); it then reconnects and
    resyncs. The RDB of a full sync does not count (7.0 does not send it through the
    output buffer): only stream bytes, which queue behind it, do.
    """

    def __init__(self, client: Client, ip: str, port: int) -> None:
        self.client = client
        self.ip = ip
        self.port = port
        self.ack_offset = 0
        self.ack_time = time.time()
        self._pending: list[bytes] = []
        self.stream_sent = 0  # stream bytes written since the sync began
        self._soft_limit_since: float | None = None  # monotonic time the soft limit was first passed

    def send(self, data: bytes) -> None:
        """Queue stream bytes; they are written once per event-loop turn."""
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (pure tests): write at once
                self._pending.append(data)
                self.flush()
                return
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            if not self.client.killed:
                self.client.write_raw(data)
                self.stream_sent += len(data)
                if self.over_output_limit():
                    self.disconnect_over_limit()

    def over_output_limit(self) -> bool:
        hard, soft, soft_seconds = replica_buffer_limits(self.client.node.config)
        # The buffer is FIFO and the RDB went first: its tail, up to stream_sent, is stream.
        queued = min(self.client.output_buffered(), self.stream_sent)
        if hard and queued >= hard:
            return True
        if soft and queued >= soft:
            now = time.monotonic()
            if self._soft_limit_since is None:
                self._soft_limit_since = now
                return False
            return now - self._soft_limit_since > soft_seconds
        self._soft_limit_since = None
        return False

    def disconnect_over_limit(self) -> None:
        client = self.client
        log.warning("Client id=%d addr=%s laddr=%s flags=S scheduled to be closed ASAP for overcoming of "
                    "output buffer limits.", client.id, client.addr, client.laddr)  # fmt: skip
        client.on_close()
        client.node.forget_client(client)


class StreamParser:
    """Splits the replication stream into commands, with the exact bytes of each.

    The stream is RESP multibulks; bare newlines (keepalives) are skipped, and an
    inline command is accepted too, as Redis's query parser does.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def next_command(self) -> tuple[list[bytes], bytes] | None:
        """The next complete command and its exact bytes, or None."""
        buf = self.buffer
        if not buf:
            return None
        if buf[0] != 0x2A:  # '*': otherwise an inline command or a keepalive newline
            end = buf.find(b"\n")
            if end < 0:
                return None
            raw = bytes(buf[: end + 1])
            del buf[: end + 1]
            return raw.split(), raw
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        count = int(buf[1:end])
        pos = end + 2
        args: list[bytes] = []
        for _ in range(count):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size = int(buf[pos + 1 : end])
            start = end + 2
            if len(buf) < start + size + 2:
                return None
            args.append(bytes(buf[start : start + size]))
            pos = start + size + 2
        raw = bytes(buf[:pos])
        del buf[:pos]
        return args, raw


class Replication:
    """Replication state of one node: primary side, replica side and the backlog."""

    def __init__(self, node: Node) -> None:
        self.node = node
        if getattr(node, "replid", None) is None:
            node.replid = os.urandom(20).hex()
        self.replid2 = "0" * 40
        self.second_offset = -1
        #: master_repl_offset: every byte ever fed to the stream
        self.offset = 0
        self.backlog: bytearray | None = None
        self.backlog_first_offset = 0  # offset of backlog[0]
        self.replicas: list[ReplicaLink] = []
        self.stream_db = -1  # the db the stream last SELECTed; -1: SELECT before the next command
        self._depth = 0  # nesting of dispatch.call (EXEC, scripts run commands inside a command)
        self._pending: list[tuple[int, list[bytes]]] = []
        #: commands queued by calls nested in the running one (EXEC's, a script's): then
        #: the outer command itself is not propagated, only its effects
        self._nested_queued = 0
        self._waiters: list[tuple[Client, int, int]] = []  # WAIT: (client, offset, replicas)
        self._getack_retry: asyncio.TimerHandle | None = None  # a GETACK held back by a pause
        self._ping_task: asyncio.Task[None] | None = None
        self.sync_full = 0  # INFO stats sync_full / sync_partial_ok / sync_partial_err
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        # replica side
        self.master_host: str | None = None
        self.master_port = 0
        self.link_up = False
        self.sync_in_progress = False
        self.last_io = 0.0
        self.link_down_since = 0.0
        self.master_client: Client | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._expired_hook_installed = False

    @property
    def replid(self) -> str:
        """Our replication ID; kept on the node, where DEBUG CHANGE-REPL-ID changes it."""
        return self.node.replid  # type: ignore[no-any-return]

    @replid.setter
    def replid(self, value: str) -> None:
        self.node.replid = value

    @property
    def last_io_ms(self) -> int | None:
        """For the cluster core's data-age rule: on a replica, the last interaction with
        the primary (link up) or when the link went down (0: never synced); None on a primary."""
        if self.master_host is None:
            return None
        return int((self.last_io if self.link_up else self.link_down_since) * 1000)

    # -- the stream (primary side) ------------------------------------------------------------

    def ensure_backlog(self) -> None:
        """Create the backlog (on the first replica, as Redis does) and start feeding."""
        if self.backlog is None:
            self.backlog = bytearray()
            self.backlog_first_offset = self.offset + 1
            self.node.repl_feed = self
        if not self._expired_hook_installed:
            self._expired_hook_installed = True
            keyspace = self.node.keyspace
            original = keyspace.on_expired

            def on_expired(db: Any, key: bytes) -> None:
                original(db, key)
                self.propagate_deletion(db.index, key, lazy=bool(self.node.config.lazyfree_lazy_expire))

            keyspace.on_expired = on_expired

    def feed(self, data: bytes) -> None:
        """Append raw stream bytes to the backlog and send them to every online replica."""
        backlog = self.backlog
        if backlog is None:
            return
        backlog += data
        self.offset += len(data)
        excess = len(backlog) - int(self.node.config.repl_backlog_size)
        if excess > _TRIM_SLACK:
            del backlog[:excess]
            self.backlog_first_offset += excess
        if self.replicas:
            for link in list(self.replicas):
                if link.client.killed:
                    self.replicas.remove(link)
                else:
                    link.send(data)

    def _feed_command(self, db_index: int, args: list[bytes]) -> None:
        if db_index != self.stream_db:
            self.stream_db = db_index
            self.feed(encode_command([b"SELECT", b"%d" % db_index]))
        self.feed(encode_command(args))

    def propagate_deletion(self, db_index: int, key: bytes, lazy: bool = False, at_once: bool = False) -> None:
        """A key expired or was evicted on this primary: the replicas delete it with a DEL
        (UNLINK when the lazyfree-lazy-expire / -eviction option says so, as 7.0 does).

        Inside a command (a lazy expiry) the DEL goes out with the command's own effects;
        ``at_once`` (evictions) sends it now, never wrapped in MULTI/EXEC, as 7.0's
        performEvictions does."""
        if self.master_host is not None:
            return  # replicas never expire or evict keys themselves
        command = [b"UNLINK" if lazy else b"DEL", key]
        if self._depth and not at_once:
            self._pending.append((db_index, command))
        else:
            self._feed_command(db_index, command)

    def enter(self) -> None:
        """dispatch.call starts running a command."""
        self._depth += 1

    def leave(self, c: Client, spec: CommandSpec, args: list[bytes], reply: Any, changed: bool) -> None:
        """dispatch.call ran a command: queue its propagation; flush at the outermost level."""
        self._depth -= 1
        rewritten = c.propagate_override
        if rewritten is not None:
            c.propagate_override = None
        if c.is_master or self.master_host is not None:
            # A replica feeds its primary's stream verbatim; writes made locally on a
            # writable replica are not propagated (as in Redis 4.0+).
            return
        queued = len(self._pending)
        if rewritten is not None:
            self._pending.extend((c.db.index, command) for command in rewritten)
        elif (changed or spec.name in _ALWAYS_PROPAGATED) and not (self._depth == 0 and self._nested_queued) and type(reply) is not ErrorReply:
            rewrite = _REWRITES.get(spec.name)
            commands = rewrite(c, args, reply) if rewrite is not None else [args]
            self._pending.extend((c.db.index, command) for command in commands)
        if self._depth:
            self._nested_queued += len(self._pending) - queued
        elif self._pending:
            self._nested_queued = 0
            pending, self._pending = self._pending, []
            wrap = len(pending) > 1
            if wrap:
                self._feed_command(pending[0][0], [b"MULTI"])
            for db_index, command in pending:
                self._feed_command(db_index, command)
            if wrap:
                self.feed(encode_command([b"EXEC"]))

    def refuses_write(self, c: Client, spec: CommandSpec) -> bool:
        """replica-read-only: a replica refuses writes, except from its primary."""
        return (
            self.master_host is not None
            and "write" in spec.flags
            and not c.is_master
            and bool(self.node.config.replica_read_only)
        )

    # -- serving replicas (primary side) ---------------------------------------------------

    def rdb_snapshot(self) -> bytes:
        from . import rdb  # rdb imports the command modules, which import us
        node = self.node
        aux = rdb.standard_aux(REDIS_VERSION, int(time.time()), 0, repl_stream_db=0,
                               repl_id=self.replid, repl_offset=self.offset)  # fmt: skip
        return rdb.save_databases(node.keyspace.databases, aux, rdb.EncodingLimits.from_config(node.config))

    def can_continue(self, replid: str, offset: int) -> bool:
        """PSYNC's test: is ``offset`` of history ``replid`` still in our backlog?"""
        if self.backlog is None:
            return False
        if replid != self.replid and not (replid == self.replid2 and offset <= self.second_offset):
            return False
        return self.backlog_first_offset <= offset <= self.offset + 1

    def attach(self, c: Client, replid: str | None, offset: int, psync: bool) -> bytes:
        """A client sent SYNC/PSYNC: make it a replica; return the bytes it gets first."""
        self.ensure_backlog()
        self.ensure_ping_task()
        ip = c.addr.rsplit(":", 1)[0]
        link = next((existing for existing in self.replicas if existing.client is c), None)
        if link is None:
            link = ReplicaLink(c, getattr(c, "replica_ip", None) or ip, getattr(c, "replica_port", 0))
            self.replicas.append(link)
        assert self.backlog is not None
        c.is_replica = True  # CLIENT LIST: flags=S, TYPE replica
        if psync and replid is not None and self.can_continue(replid, offset):
            start = offset - self.backlog_first_offset
            link.ack_offset = offset - 1
            self.sync_partial_ok += 1
            log.info("Partial resynchronization request from %s accepted, offset %d", c.addr, offset)
            return b"+CONTINUE %s\r\n" % self.replid.encode() + bytes(self.backlog[start:])
        if psync and replid not in (None, "?"):
            self.sync_partial_err += 1  # "?" asks for a full sync on purpose: not an error
        payload = self.rdb_snapshot()
        self.stream_db = -1  # the replica's master client starts in db 0: SELECT again
        link.ack_offset = 0
        self.sync_full += 1
        log.info("Full resync requested by replica %s, offset %d", c.addr, self.offset)
        header = b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), self.offset) if psync else b""
        return header + b"$%d\r\n" % len(payload) + payload

    def acknowledged(self, c: Client, offset: int) -> None:
        """REPLCONF ACK from a replica: record its offset, wake WAIT callers it satisfies."""
        for link in self.replicas:
            if link.client is c:
                link.ack_offset = max(link.ack_offset, offset)
                link.ack_time = time.time()
        if self._waiters:
            self.check_waiters()

    def replicas_at(self, offset: int) -> int:
        return sum(1 for link in self.replicas if link.ack_offset >= offset and not link.client.killed)

    def add_waiter(self, c: Client, offset: int, wanted: int) -> None:
        self._waiters.append((c, offset, wanted))
        self.request_acks()

    def request_acks(self) -> None:
        """REPLCONF GETACK * to the replicas, so that WAIT learns their offsets soon. Not
        while clients are paused (7.0): it would move the offset a manual failover waits
        for; it goes out once the pause is over (the replicas' ACK every second still
        arrives meanwhile)."""
        if self.node.client_pause is None:
            self._getack_retry = None
            self.feed(encode_command([b"REPLCONF", b"GETACK", b"*"]))
        elif self._getack_retry is None:
            self._getack_retry = asyncio.get_running_loop().call_later(_GETACK_RETRY_DELAY, self._retry_getack)

    def _retry_getack(self) -> None:
        self._getack_retry = None
        if self._waiters:
            self.request_acks()

    def check_waiters(self) -> None:
        blocking = self.node.blocking
        remaining = []
        for c, offset, wanted in self._waiters:
            if c.blocked is None or c.killed:
                continue
            count = self.replicas_at(offset)
            c.blocked.timeout_reply = count  # what WAIT answers if its timeout comes first
            if count >= wanted:
                blocking.unblock_with_reply(c, count)
            else:
                remaining.append((c, offset, wanted))
        self._waiters = remaining

    def ensure_ping_task(self) -> None:
        if self._ping_task is None:
            try:
                self._ping_task = asyncio.get_running_loop().create_task(self._ping_replicas())
            except RuntimeError:
                pass

    async def _ping_replicas(self) -> None:
        """PING the replicas every repl-ping-replica-period (it is part of the stream),
        except while a manual failover pauses writes: the offset must then stay still
        (the replica waits to reach it exactly). A CLIENT PAUSE does not stop them (7.0)."""
        from .commands.connection import PausePurpose  # commands import us

        while True:
            await asyncio.sleep(max(1, int(self.node.config.repl_ping_replica_period)))
            pause = self.node.client_pause
            if pause is not None and pause.pauses_for(PausePurpose.FAILOVER):
                continue
            if self.replicas and self.master_host is None:
                self.feed(encode_command([b"PING"]))

    # -- replica side -------------------------------------------------------------------------

    def start(self, host: str, port: int) -> None:
        """Become a replica of ``host:port`` (REPLICAOF, or the cluster's ReplicationChanged)."""
        if self.master_host is None:
            # Our own history is what we hope to continue from (Redis's
            # replicationCacheMasterUsingMyself): a former replica of ours, now the
            # primary, has it as its replid2.
            self.ensure_backlog()
        self.stop_link()
        self.master_host, self.master_port = host, port
        self.node.keyspace.is_replica = True
        self.link_down_since = 0.0  # never synced with this primary yet
        self._link_task = asyncio.get_running_loop().create_task(self._run_link())

    def stop(self) -> None:
        """REPLICAOF NO ONE: keep the data, start a new history (replid2 = the old one)."""
        if self.master_host is None:
            return
        self.stop_link()
        self.master_host = None
        self.node.keyspace.is_replica = False
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = os.urandom(20).hex()
        self.stream_db = -1
        self.ensure_ping_task()

    def stop_link(self) -> None:
        if self._link_task is not None:
            self._link_task.cancel()
            self._link_task = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._drop_master_client()
        self.link_up = False
        self.sync_in_progress = False

    async def close(self) -> None:
        """The node stops: end the link, the PING task and a held-back GETACK."""
        tasks = [task for task in (self._link_task, self._ping_task) if task is not None]
        self.stop_link()
        self._ping_task = None
        if self._getack_retry is not None:
            self._getack_retry.cancel()
            self._getack_retry = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _master_client(self) -> Client:
        """The client the stream runs as (made by :meth:`_bind_master_client`)."""
        client = self.master_client
        if client is None or client.killed:
            client = self.master_client = self.node.new_client(lambda data: None)
            client.is_master = True
            client.authenticated = True
            client.name = b""
        return client

    def _bind_master_client(self, writer: asyncio.StreamWriter) -> None:
        """The link is up: the master client shows in CLIENT LIST (flags=M, the primary's
        address, our end of the link), and killing it (CLIENT KILL TYPE master) drops
        the link, after which we reconnect with PSYNC, as Redis does."""
        client = self._master_client()
        client.addr = f"{self.master_host}:{self.master_port}"
        local = writer.get_extra_info("sockname")
        if isinstance(local, tuple):
            client.laddr = f"{local[0]}:{local[1]}"
        sock = writer.get_extra_info("socket")
        client.fd = sock.fileno() if sock is not None else -1
        client.on_close = writer.close

    def _drop_master_client(self) -> None:
        """The link is down: no master client until it is up again (Redis frees it)."""
        client, self.master_client = self.master_client, None
        if client is not None and not client.killed:
            self.node.forget_client(client)

    async def _run_link(self) -> None:
        while self.master_host is not None:
            try:
                await self._sync_and_stream(self.master_host, self.master_port)
            except asyncio.CancelledError:
                raise
            except (OSError, EOFError, ValueError, asyncio.IncompleteReadError) as err:  # RdbError is a ValueError
                log.warning("Replication link with %s:%d: %s", self.master_host, self.master_port, err)
            except Exception:
                log.exception("Replication link failed")
            if self.link_up:
                self.link_down_since = time.time()
            self.link_up = False
            self.sync_in_progress = False
            self._writer = None
            self._drop_master_client()
            await asyncio.sleep(_RECONNECT_DELAY)

    async def _sync_and_stream(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        try:
            await self._handshake(reader, writer)
            self._bind_master_client(writer)
            ack_task = asyncio.get_running_loop().create_task(self._ack_every_second(writer))
            try:
                await self._apply_stream(reader)
            finally:
                ack_task.cancel()
                await asyncio.gather(ack_task, return_exceptions=True)
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *args: bytes) -> bytes:
        writer.write(encode_command(list(args)))
        return await _read_line(reader)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        config = self.node.config
        reply = await self._request(reader, writer, b"PING")
        if reply.startswith(b"-") and not reply.startswith(b"-NOAUTH"):
            raise EOFError(f"error reply to PING: {reply!r}")
        if config.masterauth:
            user = [config.masteruser.encode()] if config.masteruser else []
            reply = await self._request(reader, writer, b"AUTH", *user, str(config.masterauth).encode())
            if reply.startswith(b"-"):
                raise EOFError(f"unable to AUTH to MASTER: {reply!r}")
        port = int(config.replica_announce_port or self.node.port)
        await self._request(reader, writer, b"REPLCONF", b"listening-port", b"%d" % port)
        if config.replica_announce_ip:
            await self._request(reader, writer, b"REPLCONF", b"ip-address", str(config.replica_announce_ip).encode())
        await self._request(reader, writer, b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
        reply = await self._request(reader, writer, b"PSYNC", self.replid.encode(), b"%d" % (self.offset + 1))
        self.last_io = time.time()
        if reply.startswith(b"+FULLRESYNC"):
            _, replid, offset = reply.split()
            self.sync_in_progress = True
            payload = await _read_payload(reader)
            self._load(payload, replid.decode(), int(offset))
            self.sync_in_progress = False
        elif reply.startswith(b"+CONTINUE"):
            words = reply.split()
            new_replid = words[1].decode() if len(words) > 1 else self.replid
            if new_replid != self.replid:  # the primary changed history (a failover): follow it
                self.replid2, self.second_offset = self.replid, self.offset + 1
                self.replid = new_replid
            log.info("Successful partial resynchronization with %s:%d", self.master_host, self.master_port)
        else:
            raise EOFError(f"unexpected reply to PSYNC: {reply!r}")
        self.link_up = True
        self.last_io = time.time()

    def _load(self, payload: bytes, replid: str, offset: int) -> None:
        """A full sync: replace the dataset by the RDB, adopt the primary's history."""
        from . import rdb  # rdb imports the command modules, which import us

        node = self.node
        parsed = rdb.load_rdb(payload, rdb.EncodingLimits.from_config(node.config))
        for db in node.keyspace.databases:
            db.flush()
        databases = node.keyspace.databases
        for entry in parsed.entries:
            if entry.db >= len(databases):
                continue
            db = databases[entry.db]
            db.set(entry.key, entry.value)
            if entry.expire_ms is not None:
                db.set_expire(entry.key, entry.expire_ms)
        node.dirty += 1
        # Our own replicas cannot follow a history we just dropped: they resync.
        for link in self.replicas:
            link.client.on_close()
        self.replicas = []
        self.replid = replid
        self.replid2, self.second_offset = "0" * 40, -1
        self.offset = offset
        self.backlog = bytearray()
        self.backlog_first_offset = offset + 1
        node.repl_feed = self
        self._drop_master_client()  # a fresh master client, in db 0
        log.info("MASTER <-> REPLICA sync: finished with success (%d keys)", len(parsed.entries))

    async def _apply_stream(self, reader: asyncio.StreamReader) -> None:
        from .dispatch import process_command

        parser = StreamParser()
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("connection lost")
            self.last_io = time.time()
            parser.feed(data)
            client = self._master_client()
            while True:
                command = parser.next_command()
                if command is None:
                    break
                args, raw = command
                # Our offset counts every byte of the stream, and our own replicas and
                # backlog get exactly those bytes (Redis proxies its primary's stream).
                if args and args[0].lower() == b"replconf" and len(args) >= 2 and args[1].lower() == b"getack":
                    self.feed(raw)
                    self._send_ack()
                    continue
                if args:
                    process_command(client, args)
                self.feed(raw)

    def _send_ack(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode_command([b"REPLCONF", b"ACK", b"%d" % self.offset]))

    async def _ack_every_second(self, writer: asyncio.StreamWriter) -> None:
        while True:
            self._send_ack()
            await asyncio.sleep(1)

    # -- INFO replication ---------------------------------------------------------------------

    def info_lines(self) -> list[str]:
        node, now = self.node, time.time()
        lines: list[str] = []
        if self.master_host is not None:
            lines += [
                "role:slave",
                f"master_host:{self.master_host}",
                f"master_port:{self.master_port}",
                "master_link_status:" + ("up" if self.link_up else "down"),
                f"master_last_io_seconds_ago:{int(now - self.last_io) if self.link_up else -1}",
                f"master_sync_in_progress:{int(self.sync_in_progress)}",
                f"slave_read_repl_offset:{self.offset}",
                f"slave_repl_offset:{self.offset}",
            ]
            if not self.link_up:
                lines.append(f"master_link_down_since_seconds:{int(now - self.link_down_since) if self.link_down_since else -1}")
            lines += [
                f"slave_priority:{node.config.replica_priority}",
                f"slave_read_only:{int(bool(node.config.replica_read_only))}",
                f"replica_announced:{int(bool(node.config.replica_announced))}",
            ]
        else:
            lines.append("role:master")
        self.replicas = [link for link in self.replicas if not link.client.killed]
        lines.append(f"connected_slaves:{len(self.replicas)}")
        for i, link in enumerate(self.replicas):
            lag = int(now - link.ack_time)
            lines.append(f"slave{i}:ip={link.ip},port={link.port},state=online,offset={link.ack_offset},lag={lag}")
        histlen = len(self.backlog) if self.backlog is not None else 0
        lines += [
            "master_failover_state:no-failover",
            f"master_replid:{self.replid}",
            f"master_replid2:{self.replid2}",
            f"master_repl_offset:{self.offset}",
            f"second_repl_offset:{self.second_offset}",
            f"repl_backlog_active:{int(self.backlog is not None)}",
            f"repl_backlog_size:{node.config.repl_backlog_size}",
            f"repl_backlog_first_byte_offset:{self.backlog_first_offset if self.backlog is not None else 0}",
            f"repl_backlog_histlen:{histlen}",
        ]
        return lines


def get_replication(node: Node) -> Replication:
    """The node's replication state, made on first use."""
    replication = node.replication
    if replication is None:
        replication = node.replication = Replication(node)
    return replication


# -- reading the handshake --------------------------------------------------------------------


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One reply line, skipping the bare newlines a primary sends as keepalives."""
    while True:
        line = await reader.readuntil(b"\n")
        line = line.rstrip(b"\r\n")
        if line:
            return line


async def _read_payload(reader: asyncio.StreamReader) -> bytes:
    """The RDB after +FULLRESYNC: ``$<len>\\r\\n<bytes>`` or ``$EOF:<40 bytes mark>\\r\\n...<mark>``."""
    header = await _read_line(reader)
    if not header.startswith(b"$"):
        raise EOFError(f"bad RDB header {header[:64]!r}")
    if header.startswith(b"$EOF:"):
        mark = header[5:]
        data = await reader.readuntil(mark)
        return data[: -len(mark)]
    return await reader.readexactly(int(header[1:]))


# -- Redis 7.0's rewrites of propagated commands ----------------------------------------------


def _expiry_state(c: Client, key: bytes) -> list[list[bytes]]:
    """After an expiry command: PEXPIREAT to the absolute time, PERSIST, or DEL if gone."""
    db = c.db
    if key not in db.data:
        return [[b"DEL", key]]
    when = db.expires.get(key)
    if when is None:
        return [[b"PERSIST", key]]
    return [[b"PEXPIREAT", key, b"%d" % when]]


def _rewrite_set(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
    key = args[1]
    kept: list[bytes] = [b"SET", key, args[2]]
    relative = False
    i = 3
    while i < len(args):
        word = args[i].upper()
        if word in (b"EX", b"PX", b"EXAT", b"PXAT"):
            relative = True
            i += 2
            continue
        kept.append(args[i])
        i += 1
    when = c.db.expires.get(key)
    if relative and when is not None:
        kept += [b"PXAT", b"%d" % when]
    return [kept]


def _rewrite_setex(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
    key = args[1]
    when = c.db.expires.get(key)
    command = [b"SET", key, args[3]]
    return [command + [b"PXAT", b"%d" % when] if when is not None else command]


def _rewrite_expire(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
    return _expiry_state(c, args[1])


def _rewrite_incrbyfloat(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
    value = c.db.data.get(args[1])
    return [[b"SET", args[1], value if isinstance(value, bytes) else bytes(reply), b"KEEPTTL"]]


def _rewrite_spop(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
    members = list(reply) if isinstance(reply, list | tuple) else [reply]
    members = [m for m in members if isinstance(m, bytes)]
    return [[b"SREM", args[1], *members]] if members else []


def _rewrite_bpop(name: bytes) -> Any:
    def rewrite(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
        return [[name, reply[0]]] if isinstance(reply, list) and reply else []

    return rewrite


def _rewrite_mpop(first: bytes, first_pop: bytes, second: bytes, second_pop: bytes) -> Any:
    """BLMPOP/BZMPOP as the pop they did: ``first_pop`` when the ``first`` side (or no side
    keyword, the default) was asked, else ``second_pop``, with the count popped."""

    def rewrite(c: Client, args: list[bytes], reply: Any) -> list[list[bytes]]:
        if not isinstance(reply, list) or len(reply) != 2:
            return []
        key, elements = reply
        where = next((a.upper() for a in args if a.upper() in (first, second)), first)
        return [[first_pop if where == first else second_pop, key, b"%d" % len(elements)]]

    return rewrite


#: Propagated even when they changed nothing (7.0's forceCommandPropagation): a replica
#: may hold keys the primary does not (a flush of an empty primary must reach it).
_ALWAYS_PROPAGATED = frozenset({"flushall", "flushdb"})

_REWRITES: dict[str, Any] = {
    "set": _rewrite_set,
    "setex": _rewrite_setex,
    "psetex": _rewrite_setex,
    "expire": _rewrite_expire,
    "pexpire": _rewrite_expire,
    "expireat": _rewrite_expire,
    "pexpireat": _rewrite_expire,
    "getex": _rewrite_expire,  # the key's expiry state, as for EXPIRE
    "incrbyfloat": _rewrite_incrbyfloat,
    "spop": _rewrite_spop,
    "blpop": _rewrite_bpop(b"LPOP"),
    "brpop": _rewrite_bpop(b"RPOP"),
    "bzpopmin": _rewrite_bpop(b"ZPOPMIN"),
    "bzpopmax": _rewrite_bpop(b"ZPOPMAX"),
    "brpoplpush": lambda c, args, reply: [[b"RPOPLPUSH", args[1], args[2]]],
    "blmove": lambda c, args, reply: [[b"LMOVE", *args[1:5]]],
    "blmpop": _rewrite_mpop(b"LEFT", b"LPOP", b"RIGHT", b"RPOP"),
    "bzmpop": _rewrite_mpop(b"MIN", b"ZPOPMIN", b"MAX", b"ZPOPMAX"),
}
