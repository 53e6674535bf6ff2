"""MIGRATE as the source node (Redis 7.0 ``cluster.c`` ``migrateCommand`` semantics).

Theory of operation
-------------------
``MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
[KEYS key ...]`` moves keys to another node: it serializes each one with DUMP's
payload format and replays it there with ``RESTORE`` (``RESTORE-ASKING`` when this
node runs in cluster mode, so the target accepts it on a slot it is importing).

Like Redis 7.0, MIGRATE is **synchronous**: the handler talks to the target over a
blocking socket and the node serves nobody else meanwhile. Every socket operation has
the command's timeout (milliseconds; 0 or less means 1000 ms). As in 7.0, a connect
that is refused or times out is only noticed when writing (see :func:`_blocking_connect`).

Steps, in Redis's order (clients see the first error that applies):

1. options after the 5th argument, any order; ``KEYS`` ends them and everything after
   it is a key (the key argument must then be ""); an unknown option or a missing
   AUTH/AUTH2 value is a syntax error; then the timeout and the db must be integers;
2. the keys are looked up (counting hits and misses); when none exists the reply is
   the status ``+NOKEY``;
3. a connection to ``host:port`` comes from a per-node cache (at most 64 sockets,
   closed after 10 s idle, each remembering the db it last selected); a failed connect
   answers ``IOERR error or timeout connecting to the client``;
4. one pipelined buffer: ``AUTH`` if asked, ``SELECT db`` when the socket's db differs,
   then per key ``RESTORE[-ASKING] key ttl payload [REPLACE]`` with the remaining TTL in
   ms (0 for none, at least 1 otherwise); it is written in 64 KB chunks;
5. one reply per command is read; an error reply from AUTH or SELECT fails every key.
   The first error becomes ``ERR Target instance replied with error: <error>`` (and the
   socket's db is forgotten); every acknowledged key is deleted locally unless COPY;
6. a socket error closes the cached socket. If it was not a timeout and no RESTORE was
   acknowledged yet, the whole exchange is retried once on a fresh connection (a cached
   socket the target closed while idle is the usual cause); otherwise the reply is
   ``IOERR error or timeout writing|reading to target instance``.

For replication the command is rewritten as ``DEL`` of the keys that moved (through
``Client.propagate_as`` when the node has it); with COPY or nothing moved, nothing is sent.
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
from dataclasses import dataclass, field
from typing import Any

from ...protocol.encoder import OK, Status
from ...protocol.reply_parser import NEED_DATA, ReplyParser
from .. import errors, rdb
from ..args import parse_int
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError

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
        self._sweep_scheduled = False

    def get(self, name: bytes, host: str, port: int, timeout: float) -> _CachedSocket | None:
        """The cached socket for ``name``, or a new connection; None if connecting fails."""
        self.close_idle()
        cached = self.sockets.get(name)
        if cached is not None:
            cached.last_use = time.monotonic()
            return cached
        if len(self.sockets) >= SOCKET_CACHE_ITEMS:
            self.close(random.choice(list(self.sockets)))  # Redis drops a random one too
        sock = _blocking_connect(host, port, timeout)
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
        for name in [n for n, s in self.sockets.items() if s.last_use < deadline]:
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


def _blocking_connect(host: str, port: int, timeout: float) -> socket.socket | None:
    """Connect as 7.0's ``connBlockingConnect``: only an immediate failure is an error.

    Redis starts a non-blocking connect, waits up to the timeout for the socket to be
    writable and then calls it connected whatever happened: a refused or timed-out
    connect shows up at the first write ("error or timeout writing"). Only a name that
    does not resolve, or a connect that fails at once, is "connecting to the client".
    """
    try:
        addresses = socket.getaddrinfo(host, str(port), socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # ValueError: a NUL byte in the name
        return None
    for family, kind, proto, _, address in addresses:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:
            continue
        sock.setblocking(False)
        if sock.connect_ex(address) in (0, errno.EINPROGRESS):
            select.select([], [sock], [], timeout)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock.close()
    return None


_caches: weakref.WeakKeyDictionary[Any, MigrateSocketCache] = weakref.WeakKeyDictionary()


def socket_cache(node: Any) -> MigrateSocketCache:
    """The node's MIGRATE socket cache (INFO's ``migrate_cached_sockets`` is its size)."""
    cache = _caches.get(node)
    if cache is None:
        cache = _caches[node] = MigrateSocketCache()
    return cache


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


class _SocketError(Exception):
    """A write or read failed; ``retryable`` unless it timed out or a RESTORE was answered."""

    def __init__(self, writing: bool, timed_out: bool) -> None:
        self.direction = "writing" if writing else "reading"
        super().__init__(self.direction)
        self.retryable = not timed_out
        self.target_error: bytes | None = None  # an error reply read before the failure


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
    cache = socket_cache(c.node)
    name = request.host + b":" + request.port
    may_retry = True
    while True:
        cached = cache.get(name, request.host.decode("utf-8", "replace"), _atoi(request.port), request.timeout)
        if cached is None:
            raise CommandError(errors.MIGRATE_CONNECT_FAILED)
        try:
            return _exchange(c, request, found, cached)
        except _SocketError as err:
            cache.close(name)
            if err.target_error is not None:
                raise _target_error(err.target_error) from None
            if may_retry and err.retryable:
                may_retry = False
                continue
            raise CommandError(errors.MIGRATE_IO_FAILED.format(err.direction)) from None


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


def _exchange(c: Client, request: _Request, keys: list[bytes], cached: _CachedSocket) -> Any:
    """One attempt: send the pipeline, read the replies, delete what was acknowledged."""
    db = c.db
    now_ms = c.node.keyspace.now_ms
    limits = rdb.EncodingLimits.from_config(c.node.config)
    restore = b"RESTORE-ASKING" if c.node.config.cluster_enabled else b"RESTORE"
    out: list[bytes] = []
    if request.password is not None:
        user = [request.username] if request.username is not None else []
        out.append(_encode([b"AUTH", *user, request.password]))
    select = cached.last_dbid != request.dbid
    if select:
        out.append(_encode([b"SELECT", str(request.dbid).encode()]))
    sent: list[bytes] = []
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
        out.append(_encode(parts))
        sent.append(key)

    sock = cached.sock
    sock.settimeout(request.timeout)
    buffer = b"".join(out)
    try:
        for pos in range(0, len(buffer), WRITE_CHUNK):
            sock.sendall(buffer[pos : pos + WRITE_CHUNK])
    except TimeoutError:
        raise _SocketError(writing=True, timed_out=True) from None
    except OSError:
        raise _SocketError(writing=True, timed_out=False) from None

    parser = ReplyParser()
    auth_error = _read_line(sock, parser) if request.password is not None else None
    select_error = _read_line(sock, parser) if select else None
    first_error: bytes | None = None
    moved: list[bytes] = []  # acknowledged and deleted: what replication must see as DEL
    for index, key in enumerate(sent):
        try:
            restore_error = _read_line(sock, parser)
        except _SocketError as err:
            if first_error is not None:  # the target's error wins (the caller closes the socket)
                err.target_error = first_error
            err.retryable = err.retryable and index == 0  # some RESTORE was answered: never twice
            raise
        error = auth_error or select_error or restore_error
        if error is not None:
            if first_error is None:
                first_error = error
                cached.last_dbid = -1  # the target's db is unknown now: SELECT next time
        elif not request.copy:
            db.delete(key)
            c.modified(key)
            c.notify("g", "del", key)
            moved.append(key)
    # Redis propagates MIGRATE as ``DEL <moved keys>`` (nothing when none moved): a replica
    # must never run MIGRATE itself. (getattr: Client.propagate_as is arriving with replication.)
    propagate_as = getattr(c, "propagate_as", None)
    if moved and propagate_as is not None:
        propagate_as([b"DEL", *moved])
    if first_error is not None:
        raise _target_error(first_error)
    cached.last_dbid = request.dbid
    return OK


def _target_error(text: bytes) -> CommandError:
    """The client's error for the target's first error reply (its text without the '-')."""
    return CommandError(errors.MIGRATE_TARGET_ERROR.format(text.decode("utf-8", "replace")))


def _read_line(sock: socket.socket, parser: ReplyParser) -> bytes | None:
    """Read one reply: None for a success, the error text (without '-') for an error."""
    while True:
        item = parser.next_reply()
        if item is not NEED_DATA:
            _, raw = item  # type: ignore[misc]
            return raw[1:-2] if raw[:1] == b"-" else None
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise _SocketError(writing=False, timed_out=True) from None
        except OSError:
            raise _SocketError(writing=False, timed_out=False) from None
        if not data:
            raise _SocketError(writing=False, timed_out=False)
        parser.feed(data)


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
