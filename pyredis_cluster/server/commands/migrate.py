"""MIGRATE as the source node (Redis 7.0 ``cluster.c`` ``migrateCommand`` semantics).

Theory of operation
-------------------
``MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
[KEYS key ...]`` moves keys to another node: it serializes each one with DUMP's
payload format and replays it there with ``RESTORE`` (``RESTORE-ASKING`` when this
node runs in cluster mode, so the target accepts it on a slot it is importing).

**Atomic, without blocking the loop.** Redis 7.0 runs MIGRATE synchronously, over a
blocking socket: nobody else is served until the target has answered, so for clients
the command is atomic. Our nodes cannot block their event loop: the nodes of the
in-process test double share one, so a target there could never answer, and a node's
own cluster bus and replication must keep running. So the handler serializes the keys
at once (as Redis does when the command runs), makes the node *busy*
(``server/busy.py``: every other client's command is held, in arrival order, until the
end) and runs the network exchange as an asyncio task; the caller is blocked until
then. At the end the acknowledged keys are deleted (and ``DEL`` propagated), the caller
gets its reply, and the held commands run. Clients see what Redis shows them.

Two places keep the blocking socket: inside MULTI/EXEC (EXEC runs its queue in one
go and cannot be suspended half way; between processes that is what Redis does, but
in the in-process harness a MIGRATE inside a transaction to a node of the same loop
times out), and where no event loop runs. The exchange is written once,
:func:`_transfer`, a coroutine over a transport: :class:`_LoopIO` (the socket made
non-blocking, ``loop.sock_*``, each wait bounded by the command's timeout) or
:class:`_BlockingIO` (socket timeouts; its coroutines never suspend, so
:func:`_run_to_completion` runs the whole exchange in one step). The same socket cache
serves both.

Every socket operation has the command's timeout (milliseconds; 0 or less means
1000 ms): the connect, each 64 KB write, each read. As in 7.0, a connect that is
refused or times out is only noticed when writing (see :func:`_start_connect`).

Steps, in Redis's order (clients see the first error that applies):

1. options after the 5th argument, any order; ``KEYS`` ends them and everything after
   it is a key (the key argument must then be ""); an unknown option or a missing
   AUTH/AUTH2 value is a syntax error; then the timeout and the db must be integers;
2. the keys are looked up (counting hits and misses); when none exists the reply is
   the status ``+NOKEY``; the others are serialized now, each with its remaining TTL
   in ms (0 for none, at least 1 otherwise) into ``RESTORE[-ASKING] key ttl payload
   [REPLACE]``;
3. a connection to ``host:port`` comes from a per-node cache (at most 64 sockets,
   closed after 10 s idle, each remembering the db it last selected); a failed connect
   answers ``IOERR error or timeout connecting to the client``;
4. one pipelined buffer: ``AUTH`` if asked, ``SELECT db`` when the socket's db differs,
   then the RESTOREs; it is written in 64 KB chunks;
5. one reply line per command is read (as Redis's syncReadLine: a line starting with
   '-' is an error, any other a success); an error from AUTH or SELECT fails every key.
   The first error becomes ``ERR Target instance replied with error: <error>`` (and the
   socket's db is forgotten); every acknowledged key is deleted locally unless COPY;
6. a socket error closes the cached socket. If it was not a timeout and no RESTORE was
   answered yet, the whole exchange is retried once on a fresh connection (a cached
   socket the target closed while idle is the usual cause); otherwise the reply is
   ``IOERR error or timeout writing|reading to target instance`` (or the target's
   first error, if one was read), and the keys acknowledged before the error are
   deleted all the same.

For replication the command is rewritten as ``DEL`` of the keys that moved (through
``Client.propagate_as``); with COPY or nothing moved, nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import select
import socket
import time
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...protocol.encoder import OK, ErrorReply, Status
from .. import errors, rdb
from ..args import parse_int
from ..busy import BusyGate
from ..client import Blocked, Client
from ..command_table import KeySpec, command, lookup
from ..errors import CommandError
from ..keyspace import Database

#: Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL (seconds).
SOCKET_CACHE_ITEMS = 64
SOCKET_CACHE_TTL = 10.0
#: connSyncWrite chunk size used by Redis when sending the pipelined buffer.
WRITE_CHUNK = 64 * 1024
DEFAULT_TIMEOUT_MS = 1000
#: Socket timeouts are capped here (about three years): Python's select and socket
#: timeouts overflow on the huge values C's ``long`` allows, which mean "forever" anyway.
MAX_TIMEOUT_SECONDS = 1e8

_NOKEY = Status("NOKEY")


def migrate_getkeys(args: list[bytes]) -> list[int]:
    """Key positions, as 7.0's ``migrateGetKeys``: argument 3, or everything after KEYS.

    AUTH's and AUTH2's values are skipped so a password spelled "keys" is no keyword;
    KEYS with a non-empty argument 3 has no keys at all.
    """
    i = 6
    while i < len(args):
        word = args[i].lower()
        if word == b"auth":
            i += 1
        elif word == b"auth2":
            i += 2
        elif word == b"keys":
            if args[3]:
                return []
            return list(range(i + 1, len(args)))
        i += 1
    return [3]


# -- transports: one exchange, blocking or on the event loop ---------------------------


class _IOFailure(Exception):
    """A socket operation failed (``timed_out``: it ran out of time); ``direction`` is
    "writing" or "reading", as the IOERR text says."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timeout" if timed_out else "error")
        self.timed_out = timed_out
        self.direction = "writing"


class _Transport(Protocol):
    def adopt(self, sock: socket.socket, timeout: float) -> None: ...
    async def connect(self, host: str, port: int, timeout: float) -> socket.socket | None: ...
    async def send(self, sock: socket.socket, data: memoryview, timeout: float) -> None: ...
    async def recv(self, sock: socket.socket, timeout: float) -> bytes: ...


class _BlockingIO:
    """Socket timeouts, as Redis's connSync* calls: the node waits. Its coroutines never
    suspend (see :func:`_run_to_completion`)."""

    def adopt(self, sock: socket.socket, timeout: float) -> None:
        sock.settimeout(timeout)

    async def connect(self, host: str, port: int, timeout: float) -> socket.socket | None:
        sock = _start_connect(_addresses(host, port))
        if sock is not None:
            select.select([], [sock], [], timeout)
            _no_delay(sock)
        return sock

    async def send(self, sock: socket.socket, data: memoryview, timeout: float) -> None:
        try:
            sock.sendall(data)
        except TimeoutError:  # before OSError: TimeoutError is one
            raise _IOFailure(timed_out=True) from None
        except OSError:
            raise _IOFailure(timed_out=False) from None

    async def recv(self, sock: socket.socket, timeout: float) -> bytes:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise _IOFailure(timed_out=True) from None
        except OSError:
            raise _IOFailure(timed_out=False) from None
        if not data:
            raise _IOFailure(timed_out=False)
        return data


class _LoopIO:
    """The same operations on the running event loop: the node is busy, the loop is not."""

    def adopt(self, sock: socket.socket, timeout: float) -> None:
        sock.setblocking(False)  # loop.sock_* need it (a blocking MIGRATE may have used it)

    async def connect(self, host: str, port: int, timeout: float) -> socket.socket | None:
        sock = _start_connect(await _addresses_without_blocking(host, port))
        if sock is None:
            return None
        loop = asyncio.get_running_loop()
        writable: asyncio.Future[None] = loop.create_future()
        loop.add_writer(sock.fileno(), _settle, writable)
        try:
            await asyncio.wait_for(writable, timeout)
        except TimeoutError:
            pass  # as Redis: not connected in time shows up at the first write
        finally:
            loop.remove_writer(sock.fileno())
        _no_delay(sock)
        return sock

    async def send(self, sock: socket.socket, data: memoryview, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, data), timeout)
        except TimeoutError:
            raise _IOFailure(timed_out=True) from None
        except OSError:
            raise _IOFailure(timed_out=False) from None

    async def recv(self, sock: socket.socket, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), timeout)
        except TimeoutError:
            raise _IOFailure(timed_out=True) from None
        except OSError:
            raise _IOFailure(timed_out=False) from None
        if not data:
            raise _IOFailure(timed_out=False)
        return data


BLOCKING_IO = _BlockingIO()
LOOP_IO = _LoopIO()


def _run_to_completion(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (every await reaches :class:`_BlockingIO`)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a blocking MIGRATE exchange suspended")


def _addresses(host: str, port: int, flags: int = 0) -> list[Any] | None:
    try:
        return socket.getaddrinfo(host, str(port), socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)
    except (OSError, UnicodeError, ValueError):  # ValueError: a NUL byte in the name
        return None


async def _addresses_without_blocking(host: str, port: int) -> list[Any] | None:
    """A numeric address at once; a name through the loop's resolver (a thread), so a
    slow DNS does not stop the loop."""
    numeric = _addresses(host, port, socket.AI_NUMERICHOST)
    if numeric is not None:
        return numeric
    try:
        return await asyncio.get_running_loop().getaddrinfo(host, str(port), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None


def _start_connect(addresses: list[Any] | None) -> socket.socket | None:
    """Start a non-blocking connect as 7.0's ``connBlockingConnect``: only an immediate
    failure is an error. Redis then waits up to the timeout for the socket to be
    writable and calls it connected whatever happened: a refused or timed-out connect
    shows up at the first write ("error or timeout writing"). Only a name that does not
    resolve, or a connect that fails at once, is "connecting to the client"."""
    for family, kind, proto, _, address in addresses or ():
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:
            continue
        sock.setblocking(False)
        if sock.connect_ex(address) in (0, errno.EINPROGRESS):
            return sock
        sock.close()
    return None


def _no_delay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- the connection cache --------------------------------------------------------------


@dataclass
class _CachedSocket:
    sock: socket.socket
    last_dbid: int = -1  # -1: SELECT must be sent before anything else
    last_use: float = field(default_factory=time.monotonic)


class MigrateSocketCache:
    """One node's sockets to MIGRATE targets, keyed by the ``host:port`` text given."""

    def __init__(self) -> None:
        self.sockets: dict[bytes, _CachedSocket] = {}
        #: the socket a MIGRATE is using right now: never closed as idle under it
        self.in_use: bytes | None = None
        self._sweep_scheduled = False

    def get(self, name: bytes, host: str, port: int, timeout: float) -> _CachedSocket | None:
        """The cached socket for ``name``, or a new (blocking) connection; None if connecting fails."""
        return _run_to_completion(self.acquire(name, host, port, timeout, BLOCKING_IO))

    async def acquire(
        self, name: bytes, host: str, port: int, timeout: float, io: _Transport
    ) -> _CachedSocket | None:
        """The cached socket for ``name``, or a new connection through ``io``; None if connecting fails."""
        self.close_idle()
        cached = self.sockets.get(name)
        if cached is not None:
            cached.last_use = time.monotonic()
            return cached
        if len(self.sockets) >= SOCKET_CACHE_ITEMS:
            self.close(random.choice(list(self.sockets)))  # Redis drops a random one too
        sock = await io.connect(host, port, timeout)
        if sock is None:
            return None
        cached = self.sockets[name] = _CachedSocket(sock)
        self._schedule_sweep()
        return cached

    def close(self, name: bytes) -> None:
        cached = self.sockets.pop(name, None)
        if cached is not None:
            cached.sock.close()

    def close_idle(self) -> None:
        """Close sockets idle for more than the TTL (Redis does it from serverCron)."""
        deadline = time.monotonic() - SOCKET_CACHE_TTL
        for name in [n for n, s in self.sockets.items() if s.last_use < deadline and n != self.in_use]:
            self.close(name)

    def _schedule_sweep(self) -> None:
        if self._sweep_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the node's loop (pure tests): lazy sweeps only
            return
        self._sweep_scheduled = True
        loop.call_later(SOCKET_CACHE_TTL + 1, self._sweep)

    def _sweep(self) -> None:
        self._sweep_scheduled = False
        self.close_idle()
        if self.sockets:
            self._schedule_sweep()


_caches: weakref.WeakKeyDictionary[Any, MigrateSocketCache] = weakref.WeakKeyDictionary()


def socket_cache(node: Any) -> MigrateSocketCache:
    """The node's MIGRATE socket cache (INFO's ``migrate_cached_sockets`` is its size)."""
    cache = _caches.get(node)
    if cache is None:
        cache = _caches[node] = MigrateSocketCache()
    return cache


def close_socket_cache(node: Any) -> None:
    """Close the node's cached MIGRATE sockets (the node is closing)."""
    cache = _caches.pop(node, None)
    if cache is not None:
        for name in list(cache.sockets):
            cache.close(name)


# -- the command -----------------------------------------------------------------------


@dataclass
class _Request:
    host: bytes
    port: bytes
    dbid: int
    timeout: float  # seconds
    copy: bool = False
    replace: bool = False
    username: bytes | None = None
    password: bytes | None = None
    keys: list[bytes] = field(default_factory=list)


@dataclass
class _Batch:
    """The keys to send, each with its serialized RESTORE command (made when MIGRATE runs)."""

    keys: list[bytes] = field(default_factory=list)
    restores: list[bytes] = field(default_factory=list)


@dataclass
class _Outcome:
    """What the exchange came to: the keys the target acknowledged, and the caller's reply."""

    acknowledged: list[bytes]
    reply: Any  # OK or an ErrorReply


@command("migrate", -6, "write", "@keyspace @dangerous",
    keys=[KeySpec("RW access delete", index=3),
          KeySpec("RW access delete incomplete", keyword="KEYS", startfrom=-2, lastkey=-1)],
    group="generic", since="2.6.0", tips="nondeterministic_output", getkeys=migrate_getkeys,
    summary="Move keys to another Redis instance, atomically from the caller's point of view",
    complexity="O(N) per key to serialize it and send it, plus the round trip to the target")  # fmt: skip
def migrate(c: Client, args: list[bytes]) -> Any:
    request = _parse(args)
    db = c.db
    found = [key for key in request.keys if db.lookup_read(key) is not None]
    if not found:
        return _NOKEY
    batch = _serialize(c, request, found)
    cache = socket_cache(c.node)
    if c.in_exec or not _loop_running():
        outcome = _run_to_completion(_transfer(BLOCKING_IO, cache, request, batch))
        return _conclude(c, db, request, outcome)
    blocked = Blocked([], 0, None)  # the caller waits; dispatch blocks it on this
    spec = lookup(args[0])
    assert spec is not None
    gate = BusyGate(c, spec, args, blocked)  # from now on, every other client waits
    gate.run(_in_flight(c, db, request, batch, cache))
    return blocked


async def _in_flight(
    c: Client, db: Database, request: _Request, batch: _Batch, cache: MigrateSocketCache
) -> Any:
    """The exchange on the loop; returns the final step, which the gate runs at the end."""
    outcome = await _transfer(LOOP_IO, cache, request, batch)
    return lambda: _conclude(c, db, request, outcome)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _parse(args: list[bytes]) -> _Request:
    copy = replace = False
    username = password = None
    keys = [args[3]]
    i = 6
    while i < len(args):
        word = args[i].lower()
        more = len(args) - 1 - i
        if word == b"copy":
            copy = True
        elif word == b"replace":
            replace = True
        elif word == b"auth":
            if more < 1:
                raise CommandError(errors.SYNTAX)
            password = args[i + 1]
            i += 1
        elif word == b"auth2":
            if more < 2:
                raise CommandError(errors.SYNTAX)
            username, password = args[i + 1], args[i + 2]
            i += 2
        elif word == b"keys":
            if args[3]:
                raise CommandError(errors.MIGRATE_KEYS_NEED_EMPTY_KEY)
            keys = args[i + 1 :]
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    timeout_ms = parse_int(args[5])
    dbid = parse_int(args[4])
    if timeout_ms <= 0:
        timeout_ms = DEFAULT_TIMEOUT_MS
    timeout = min(timeout_ms / 1000.0, MAX_TIMEOUT_SECONDS)
    return _Request(args[1], args[2], dbid, timeout, copy, replace, username, password, keys)


def _serialize(c: Client, request: _Request, keys: list[bytes]) -> _Batch:
    """Each key's RESTORE[-ASKING] command, with the value and TTL it has now."""
    db = c.db
    now_ms = c.node.keyspace.now_ms
    limits = rdb.EncodingLimits.from_config(c.node.config)
    restore = b"RESTORE-ASKING" if c.node.config.cluster_enabled else b"RESTORE"
    batch = _Batch()
    for key in keys:
        value = db.get(key)
        if value is None:
            continue
        ttl = 0
        expire = db.get_expire(key)
        if expire is not None:
            ttl = expire - now_ms
            if ttl < 0:
                continue  # expired since the lookup
            ttl = max(ttl, 1)
        parts = [restore, key, str(ttl).encode(), rdb.create_dump_payload(value, limits)]
        if request.replace:
            parts.append(b"REPLACE")
        batch.keys.append(key)
        batch.restores.append(_encode(parts))
    return batch


async def _transfer(io: _Transport, cache: MigrateSocketCache, request: _Request, batch: _Batch) -> _Outcome:
    """Steps 3 to 6 of the module docstring: connect (or reuse), exchange, maybe retry once."""
    name = request.host + b":" + request.port
    host, port = request.host.decode("utf-8", "replace"), _atoi(request.port)
    may_retry = True
    while True:
        cached = await cache.acquire(name, host, port, request.timeout, io)
        if cached is None:
            return _Outcome([], ErrorReply(errors.MIGRATE_CONNECT_FAILED))
        cache.in_use = name
        try:
            header, replies, failure = await _exchange(io, cached, request, batch)
        except BaseException:  # cancelled (the node closes) half way: the stream is garbage
            cache.close(name)
            raise
        finally:
            cache.in_use = None
        restore_replies = replies[header:]
        if failure is not None:
            cache.close(name)
            if not restore_replies and may_retry and not failure.timed_out:
                may_retry = False  # nothing was acknowledged: once more, on a fresh socket
                continue
        header_error = next((reply for reply in replies[:header] if reply is not None), None)
        acknowledged: list[bytes] = []
        first_error: bytes | None = None
        for key, reply in zip(batch.keys, restore_replies):
            error = header_error if header_error is not None else reply  # b"" is an error too ('-' alone)
            if error is None:
                acknowledged.append(key)
            elif first_error is None:
                first_error = error
        if first_error is not None:
            cached.last_dbid = -1  # the target's db is unknown now: SELECT next time
            return _Outcome(
                acknowledged,
                ErrorReply(errors.MIGRATE_TARGET_ERROR.format(first_error.decode("utf-8", "replace"))),
            )
        if failure is not None:
            return _Outcome(acknowledged, ErrorReply(errors.MIGRATE_IO_FAILED.format(failure.direction)))
        cached.last_dbid = request.dbid
        return _Outcome(acknowledged, OK)


async def _exchange(io: _Transport, cached: _CachedSocket, request: _Request,
                    batch: _Batch) -> tuple[int, list[bytes | None], _IOFailure | None]:  # fmt: skip
    """Send the pipeline, read one reply per command (None: success, else the error's
    text without '-'). Returns how many replies answer AUTH/SELECT, the replies read,
    and the failure that cut the exchange short, if any.

    A reply is one line, as Redis's syncReadLine reads it: a line starting with '-' is
    an error, any other line a success (the target is expected to answer +OK)."""
    commands: list[bytes] = []
    if request.password is not None:
        user = [request.username] if request.username is not None else []
        commands.append(_encode([b"AUTH", *user, request.password]))
    if cached.last_dbid != request.dbid:
        commands.append(_encode([b"SELECT", str(request.dbid).encode()]))
    header = len(commands)
    commands += batch.restores
    buffer = memoryview(b"".join(commands))
    sock, timeout = cached.sock, request.timeout
    io.adopt(sock, timeout)
    replies: list[bytes | None] = []
    try:
        for pos in range(0, len(buffer), WRITE_CHUNK):
            await io.send(sock, buffer[pos : pos + WRITE_CHUNK], timeout)
    except _IOFailure as failure:
        return header, replies, failure
    pending = bytearray()  # what was received past the last complete line
    try:
        while len(replies) < len(commands):
            end = pending.find(b"\n")
            if end < 0:
                pending += await io.recv(sock, timeout)
                continue
            line = bytes(pending[:end]).removesuffix(b"\r")
            del pending[: end + 1]
            replies.append(line[1:] if line[:1] == b"-" else None)
    except _IOFailure as failure:
        failure.direction = "reading"
        return header, replies, failure
    return header, replies, None


def _conclude(c: Client, db: Database, request: _Request, outcome: _Outcome) -> Any:
    """Delete what the target acknowledged (unless COPY), propagate that as DEL, answer."""
    moved: list[bytes] = []
    if not request.copy:
        for key in outcome.acknowledged:
            if db.delete(key):  # gone already only if the bus took the slot meanwhile
                c.modified(key)
                c.notify("g", "del", key)
                moved.append(key)
    # Redis propagates MIGRATE as ``DEL <moved keys>`` (nothing when none moved): a
    # replica must never run MIGRATE itself.
    if moved:
        c.propagate_as([b"DEL", *moved])
    return outcome.reply


def _encode(parts: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def _atoi(text: bytes) -> int:
    """C's atoi, as Redis reads the port: leading digits, 0 when there are none."""
    text = text.lstrip()
    sign = -1 if text[:1] == b"-" else 1
    if text[:1] in (b"-", b"+"):
        text = text[1:]
    digits = b""
    for byte in text:
        if not 48 <= byte <= 57:
            break
        digits += bytes([byte])
    return sign * int(digits) if digits else 0
