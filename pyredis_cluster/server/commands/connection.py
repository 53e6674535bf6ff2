"""Connection commands: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO and CLIENT.

Theory of operation
-------------------
These commands act on the calling connection's state (:class:`~..client.Client`):
its protocol version, selected db, name, authentication, reply mode. CLIENT also looks
at and acts on the other connections of the node (LIST, KILL, UNBLOCK, PAUSE); its
replies follow Redis 7.0 (CLIENT LIST fields and flag letters, KILL's two forms and
their errors). Client-side caching (TRACKING) is not implemented: its subcommands
answer as for a connection that never turned tracking on, and TRACKING ON is refused.
CLIENT PAUSE holds commands through a gate in the dispatch pipeline
(:class:`ClientPause`, ``node.client_pause``).
"""

from __future__ import annotations

import enum
import hmac
import time
from typing import Any

from ...config import REDIS_VERSION
from ...protocol.encoder import OK, PONG, ErrorReply, Map, SetReply, Status, Verbatim
from ...protocol.parser import strict_int
from .. import errors
from ..args import ArgCursor, parse_int
from ..client import Blocked, Client, ReplyMode
from ..command_table import command, container
from ..errors import CommandError


@command("ping", -1, "fast", "@connection", group="connection", since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Ping the server", complexity="O(1)")  # fmt: skip
def ping(c: Client, args: list[bytes]) -> Any:
    if len(args) > 2:
        raise CommandError(errors.wrong_arity("ping"))
    if c.resp == 2 and (c.channels or c.patterns or c.shard_channels):
        # A subscribed RESP2 client gets PONG in the shape of a pub/sub message.
        return [b"pong", args[1] if len(args) == 2 else b""]
    return args[1] if len(args) == 2 else PONG


@command("echo", 2, "loading stale fast", "@connection", group="connection", since="1.0.0",
         summary="Echo the given string", complexity="O(1)")  # fmt: skip
def echo(c: Client, args: list[bytes]) -> Any:
    return args[1]


@command("select", 2, "loading stale fast", "@connection", group="connection", since="1.0.0",
         summary="Change the selected database for the current connection", complexity="O(1)")  # fmt: skip
def select(c: Client, args: list[bytes]) -> Any:
    index = parse_int(args[1])
    if not -(2**31) <= index < 2**31:  # getIntFromObjectOrReply's range check comes first
        raise CommandError(errors.value_not_between(-(2**31), 2**31 - 1))
    if c.node.config.cluster_enabled and index != 0:
        raise CommandError(errors.SELECT_NOT_ALLOWED_IN_CLUSTER)
    if not 0 <= index < len(c.node.keyspace):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    c.select(index)
    return OK


@command("quit", -1, "noscript loading stale fast no_auth allow_busy", "@connection",
         group="connection", since="1.0.0", summary="Close the connection", complexity="O(1)")  # fmt: skip
def quit_(c: Client, args: list[bytes]) -> Any:
    c.close_after_reply = True
    return OK


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", "@connection",
         group="connection", since="6.2.0", summary="Reset the connection", complexity="O(1)")  # fmt: skip
def reset(c: Client, args: list[bytes]) -> Any:
    node = c.node
    c.reset_multi()
    node.unsubscribe_all(c)
    c.select(0)
    c.resp = 2
    c.name = b""
    c.reply_mode = ReplyMode.ON
    c.asking = False
    c.readonly = False
    c.no_evict = False
    c.no_touch = False
    c.authenticated = not node.config.requirepass
    return Status("RESET")


def _check_password(c: Client, username: bytes, password: bytes) -> bool:
    """The default user is the only user: its password is requirepass (or none)."""
    required = c.node.config.requirepass
    if username != b"default":
        return False
    if not required:
        return True
    return hmac.compare_digest(password, required.encode())


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", "@connection",
         group="connection", since="1.0.0", summary="Authenticate to the server",
         complexity="O(N) where N is the number of passwords defined for the user")  # fmt: skip
def auth(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        if not c.node.config.requirepass:
            raise CommandError(errors.AUTH_NOT_CONFIGURED)
        username, password = b"default", args[1]
    else:
        username, password = args[1], args[2]
    if not _check_password(c, username, password):
        raise CommandError(errors.WRONGPASS)
    c.authenticated = True
    return OK


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", "@connection",
         group="connection", since="6.0.0", summary="Handshake with the server", complexity="O(1)")  # fmt: skip
def hello(c: Client, args: list[bytes]) -> Any:
    version = c.resp
    cursor = ArgCursor(args, 1)
    if cursor:
        version = parse_int(cursor.take(), errors.HELLO_PROTOVER_NOT_INTEGER)
        if version not in (2, 3):
            raise CommandError(errors.NOPROTO)
    new_name: bytes | None = None
    while cursor:
        option = cursor.keyword()
        if option == "AUTH" and cursor.remaining >= 2:
            username, password = cursor.take(), cursor.take()
            if not _check_password(c, username, password):
                raise CommandError(errors.WRONGPASS)
            c.authenticated = True
        elif option == "SETNAME" and cursor.remaining >= 1:
            new_name = cursor.take()
            check_client_name(new_name)
        else:
            raise CommandError(errors.HELLO_SYNTAX.format(args[cursor.pos - 1].decode("utf-8", "replace")))
    if not c.authenticated:
        raise CommandError(errors.HELLO_NOAUTH)
    if new_name is not None:
        c.name = new_name
    c.resp = version
    node = c.node
    return Map(
        [
            (b"server", b"redis"),
            (b"version", REDIS_VERSION.encode()),
            (b"proto", version),
            (b"id", c.id),
            (b"mode", b"cluster" if node.config.cluster_enabled else b"standalone"),
            (b"role", b"replica" if node.keyspace.is_replica else b"master"),
            (b"modules", []),
        ]
    )


def check_client_name(name: bytes) -> None:
    """Client names may not contain spaces, newlines or other special characters."""
    if any(byte < 33 or byte > 126 for byte in name):
        raise CommandError(errors.CLIENT_NAME_CHARS)


# -- CLIENT ---------------------------------------------------------------------------------

container("client", group="connection", since="2.4.0",
          summary="Inspect and manage client connections", complexity="Depends on the subcommand.")  # fmt: skip

#: CLIENT LIST/KILL TYPE names; "slave" and "replica" are the same type.
CLIENT_TYPES = ("normal", "master", "replica", "slave", "pubsub")


def client_type(client: Client) -> str:
    if client.is_master:
        return "master"
    if client.is_monitor or client.is_replica:
        return "replica"  # Redis counts monitors as replicas (CLIENT_SLAVE)
    if client.channels or client.patterns or client.shard_channels:
        return "pubsub"
    return "normal"


def _client_flags(client: Client) -> str:
    """The flags field of CLIENT LIST, letters in Redis's order ('N' when none)."""
    flags = ""
    if client.is_monitor:
        flags += "O"
    elif client.is_replica:
        flags += "S"
    if client.is_master:
        flags += "M"
    if client.channels or client.patterns or client.shard_channels:
        flags += "P"
    if client.in_multi:
        flags += "x"
    if client.blocked is not None:
        flags += "b"
    if client.watch_dirty:
        flags += "d"
    if client.close_after_reply:
        flags += "c"
    if client.readonly:
        flags += "r"
    if client.no_evict:
        flags += "e"
    return flags or "N"


def _command_size(args: list[bytes]) -> int:
    """Bytes a command takes in the query buffer as a RESP multibulk."""
    size = len(b"*%d\r\n" % len(args))
    for arg in args:
        size += len(b"$%d\r\n" % len(arg)) + len(arg) + 2
    return size


def client_info_line(client: Client, caller: Client, caller_args: list[bytes] | None = None) -> str:
    """One CLIENT LIST line, with Redis 7.0's fields in Redis's order.

    Memory figures are estimates (we have no allocator statistics); the query buffer
    of the calling client holds its own CLIENT command, as in Redis.
    """
    now = time.time()
    is_caller = client is caller and caller_args is not None
    qbuf = _command_size(caller_args) if is_caller and caller_args is not None else 0
    argv_mem = sum(len(arg) for arg in caller_args) if is_caller and caller_args is not None else 0
    multi = len(client.multi_queue) if client.in_multi else -1
    multi_mem = sum(sum(len(arg) for arg in queued) for _, queued in client.multi_queue) if client.in_multi else 0
    if is_caller and caller_args is not None:
        cmd = "client|" + caller_args[1].decode("utf-8", "replace").lower()
    else:
        cmd = client.last_command
    name = client.name.decode("utf-8", "replace")
    return (
        f"id={client.id} addr={client.addr} laddr={client.laddr} fd={client.fd} name={name} "
        f"age={int(now - client.created)} idle={int(now - client.last_interaction)} flags={_client_flags(client)} "
        f"db={client.db.index} sub={len(client.channels)} psub={len(client.patterns)} ssub={len(client.shard_channels)} "
        f"multi={multi} qbuf={qbuf} qbuf-free={max(0, 20474 - qbuf)} argv-mem={argv_mem} multi-mem={multi_mem} "
        f"rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem={20480 + 16384 + argv_mem + multi_mem} events=r "
        f"cmd={cmd} user={'(superuser)' if client.is_master else 'default'} redir=-1 resp={client.resp}"
    )


def _parse_client_type(word: bytes) -> str:
    name = word.decode("utf-8", "replace").lower()
    if name not in CLIENT_TYPES:
        raise CommandError(errors.unknown_client_type(word))
    return "replica" if name == "slave" else name


@command("client|list", -2, "admin noscript loading stale", "@connection", group="connection", since="2.4.0",
         tips="nondeterministic_output",
         summary="Describe the connected clients", complexity="O(N) in the number of clients")  # fmt: skip
def client_list(c: Client, args: list[bytes]) -> Any:
    """CLIENT LIST [TYPE type] [ID id [id ...]]."""
    wanted_type: str | None = None
    wanted_ids: set[int] | None = None
    cursor = ArgCursor(args, 2)
    if cursor.remaining == 2 and cursor.peek_keyword() == "TYPE":
        cursor.keyword()
        wanted_type = _parse_client_type(cursor.take())
    elif cursor.remaining >= 2 and cursor.peek_keyword() == "ID":
        cursor.keyword()
        wanted_ids = set()
        while cursor:
            client_id = strict_int(cursor.take())
            if client_id is None:
                raise CommandError(errors.INVALID_CLIENT_ID)
            wanted_ids.add(client_id)
    elif cursor:
        raise CommandError(errors.SYNTAX)
    lines = []
    for client in list(c.node.clients.values()):
        if wanted_type is not None and client_type(client) != wanted_type:
            continue
        if wanted_ids is not None and client.id not in wanted_ids:
            continue
        lines.append(client_info_line(client, c, args) + "\n")
    return Verbatim("".join(lines).encode("utf-8", "replace"))


@command("client|info", 2, "noscript loading stale", "@connection", group="connection", since="6.2.0",
         tips="nondeterministic_output",
         summary="Describe the current connection", complexity="O(1)")  # fmt: skip
def client_info(c: Client, args: list[bytes]) -> Any:
    return Verbatim((client_info_line(c, c, args) + "\n").encode("utf-8", "replace"))


@command("client|id", 2, "noscript loading stale", "@connection", group="connection", since="5.0.0",
         summary="The current connection's ID", complexity="O(1)")  # fmt: skip
def client_id(c: Client, args: list[bytes]) -> Any:
    return c.id


@command("client|getname", 2, "noscript loading stale", "@connection", group="connection", since="2.6.9",
         summary="The current connection's name", complexity="O(1)")  # fmt: skip
def client_getname(c: Client, args: list[bytes]) -> Any:
    return c.name or None


@command("client|setname", 3, "noscript loading stale", "@connection", group="connection", since="2.6.9",
         summary="Name the current connection", complexity="O(1)")  # fmt: skip
def client_setname(c: Client, args: list[bytes]) -> Any:
    check_client_name(args[2])
    c.name = args[2]
    return OK


def _kill(c: Client, victim: Client) -> None:
    """Close a client's connection; the caller itself is closed after its reply."""
    if victim is c:
        c.close_after_reply = True
        return
    victim.on_close()
    c.node.forget_client(victim)


@command("client|kill", -3, "admin noscript loading stale", "@connection", group="connection", since="2.4.0",
         summary="Close client connections", complexity="O(N) in the number of clients")  # fmt: skip
def client_kill(c: Client, args: list[bytes]) -> Any:
    """CLIENT KILL addr:port (old form: OK or an error), or CLIENT KILL <filter> <value> ...
    with ID, TYPE, USER, ADDR, LADDR and SKIPME filters (new form: how many were killed)."""
    clients = list(c.node.clients.values())
    if len(args) == 3:
        addr = args[2].decode("utf-8", "replace")
        for client in clients:
            if client.addr == addr:
                _kill(c, client)
                return OK
        raise CommandError(errors.NO_SUCH_CLIENT)
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    filters: list[tuple[str, Any]] = []  # (what to compare, wanted value)
    skip_me = True
    for i in range(2, len(args), 2):
        option, value = args[i].lower(), args[i + 1]
        if option == b"id":
            wanted = strict_int(value)
            if wanted is None or wanted <= 0:
                raise CommandError(errors.CLIENT_ID_POSITIVE)
            filters.append(("id", wanted))
        elif option == b"type":
            kind = _parse_client_type(value)
            filters.append(("type", kind))
        elif option == b"user":
            if value != b"default":
                raise CommandError(errors.no_such_user(value))
        elif option == b"addr":
            filters.append(("addr", value.decode("utf-8", "replace")))
        elif option == b"laddr":
            filters.append(("laddr", value.decode("utf-8", "replace")))
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skip_me = value.lower() == b"yes"
        else:
            raise CommandError(errors.SYNTAX)
    killed = 0
    for client in clients:
        if (skip_me and client is c) or not all(_client_field(client, field) == wanted for field, wanted in filters):
            continue
        _kill(c, client)
        killed += 1
    return killed


def _client_field(client: Client, field: str) -> Any:
    return client_type(client) if field == "type" else getattr(client, field)


@command("client|pause", -3, "admin noscript loading stale", "@connection", group="connection", since="2.9.50",
         summary="Hold clients' commands for a while", complexity="O(1)")  # fmt: skip
def client_pause(c: Client, args: list[bytes]) -> Any:
    """CLIENT PAUSE timeout-ms [WRITE|ALL]: see :class:`ClientPause`."""
    timeout = parse_int(args[2], errors.TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    mode = "all"
    if len(args) == 4:
        mode = args[3].decode("utf-8", "replace").lower()
        if mode not in ("write", "all"):
            raise CommandError(errors.CLIENT_PAUSE_MODE)
    elif len(args) > 4:
        raise CommandError(errors.subcommand_syntax(args[1], args[0]))
    node = c.node
    if node.client_pause is None:
        node.client_pause = ClientPause(node)
    node.client_pause.pause(time.time() + timeout / 1000, mode == "all")
    return OK


@command("client|unpause", 2, "admin noscript loading stale", "@connection", group="connection", since="6.2.0",
         summary="Let paused clients run again", complexity="O(N) in the number of paused clients")  # fmt: skip
def client_unpause(c: Client, args: list[bytes]) -> Any:
    if c.node.client_pause is not None:
        c.node.client_pause.end(PausePurpose.CLIENT_COMMAND)  # a manual failover's pause stays
    return OK


class PausePurpose(enum.StrEnum):
    """Who paused the clients (7.0's pause_purpose): each purpose has its own end and
    mode, and ending one (CLIENT UNPAUSE) leaves the others running."""

    CLIENT_COMMAND = "client-command"  # CLIENT PAUSE / CLIENT UNPAUSE
    FAILOVER = "failover"  # a cluster manual failover, on the primary (server/cluster_node.py)


class ClientPause:
    """CLIENT PAUSE: commands of other clients wait (blocked, in arrival order) until it ends.

    ``WRITE`` holds commands that may change data or replicate (write and
    may_replicate flags, EXEC of a transaction holding one); ``ALL`` holds every
    command. Pauses are kept per :class:`PausePurpose`, as 7.0 does: a second pause of
    one purpose keeps the stricter mode and the later end; the pause in force has the
    strictest mode of the live purposes and the latest end among those of that mode.
    When a purpose ends (its time, or :meth:`end`) and the pause in force becomes less
    strict, the held commands run through the whole pipeline again, in order (some
    may be held again); with no purpose left, ``node.client_pause`` is None. While any
    pause lasts, keys are neither expired nor evicted (``keyspace.deletions_paused``), as
    in 7.0: the dataset, and so the replication offset a manual failover waits for, stay
    still.
    """

    def __init__(self, node: Any) -> None:
        self.node = node
        self.until = 0.0
        self.all = False
        self.held: list[tuple[Client, list[bytes]]] = []
        self._timer: Any = None
        self._purposes: dict[PausePurpose, tuple[float, bool]] = {}  # purpose -> (until, all)

    def pause(self, until: float, pause_all: bool, purpose: PausePurpose = PausePurpose.CLIENT_COMMAND) -> None:
        old_until, old_all = self._purposes.get(purpose, (0.0, False))
        self._purposes[purpose] = (max(old_until, until), old_all or pause_all)
        self._update()

    def postpones(self, c: Client, spec: Any) -> bool:
        if c.is_master or time.time() >= self.until:
            return False
        if self.all:
            return True
        if spec.flags & _MAY_REPLICATE:
            return True
        return spec.name == "exec" and any(queued.flags & _MAY_REPLICATE for queued, _ in c.multi_queue)

    def postpone(self, c: Client, spec: Any, args: list[bytes]) -> Blocked:
        blocked = Blocked([], 0, None)
        self.node.blocking.block(c, spec, args, blocked)
        self.held.append((c, args))
        return blocked

    def is_held(self, c: Client) -> bool:
        return any(client is c for client, _ in self.held)

    def pauses_for(self, purpose: PausePurpose) -> bool:
        """Is ``purpose`` among the live pauses?"""
        until, _ = self._purposes.get(purpose, (0.0, False))
        return until > time.time()

    def end(self, purpose: PausePurpose | None = None) -> None:
        """End one purpose's pause (None: every purpose), as unpauseClients does."""
        if purpose is None:
            self._purposes.clear()
        else:
            self._purposes.pop(purpose, None)
        self._update()

    def _update(self) -> None:
        """updateClientPauseTypeAndEndTime: the pause in force from the live purposes."""
        now = time.time()
        self._purposes = {p: (until, pause_all) for p, (until, pause_all) in self._purposes.items() if until > now}
        was_all, was_paused = self.all, self.until > 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.node.keyspace.deletions_paused = bool(self._purposes)  # no expiry nor eviction meanwhile
        if not self._purposes:
            self.until, self.all = 0.0, False
            self.node.client_pause = None
            self._release_held()
            return
        self.all = any(pause_all for _, pause_all in self._purposes.values())
        self.until = max(until for until, pause_all in self._purposes.values() if pause_all == self.all)
        # Wake up when the first purpose ends: the pause in force may change then.
        first_end = min(until for until, _ in self._purposes.values())
        self._timer = self.node._schedule(max(0.0, first_end - now), self._update)
        if was_paused and was_all and not self.all:
            self._release_held()  # ALL -> WRITE: reads run; writes are held again

    def _release_held(self) -> None:
        held, self.held = self.held, []
        for client, args in held:
            if not client.killed and client.blocked is not None:
                self.node.blocking.rerun(client, args)


_MAY_REPLICATE = frozenset({"write", "may_replicate"})


@command("client|reply", 3, "noscript loading stale", "@connection", group="connection", since="3.2.0",
         summary="Turn the server's replies to this connection on, off, or off for one command",
         complexity="O(1)")  # fmt: skip
def client_reply(c: Client, args: list[bytes]) -> Any:
    mode = args[2].lower()
    if mode == b"on":
        c.reply_mode = ReplyMode.ON
    elif mode == b"off":
        c.reply_mode = ReplyMode.OFF
    elif mode == b"skip":
        if c.reply_mode is ReplyMode.ON:
            c.reply_mode = ReplyMode.SKIP_NEXT
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|unblock", -3, "admin noscript loading stale", "@connection", group="connection", since="5.0.0",
         summary="End the wait of a client blocked on keys", complexity="O(log N) in the number of waiting clients")  # fmt: skip
def client_unblock(c: Client, args: list[bytes]) -> Any:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked on keys, else 0."""
    target_id = parse_int(args[2])
    as_error = False
    if len(args) == 4:
        reason = args[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError(errors.CLIENT_UNBLOCK_REASON)
        as_error = reason == b"error"
    elif len(args) > 4:
        raise CommandError(errors.subcommand_syntax(args[1], args[0]))
    node = c.node
    target = node.clients.get(target_id)
    if target is None or target.blocked is None or not target.blocked.keys:
        return 0
    if as_error:
        reply = ErrorReply(errors.UNBLOCKED)
        node.stats.record_failed(target.blocked_spec, reply)
    else:
        reply = target.blocked.timeout_reply
    node.blocking.unblock_with_reply(target, reply)
    return 1


@command("client|no-evict", 3, "admin noscript loading stale", "@connection", group="connection", since="7.0.0",
         summary="Protect the current connection from client eviction", complexity="O(1)")  # fmt: skip
def client_no_evict(c: Client, args: list[bytes]) -> Any:
    mode = args[2].lower()
    if mode not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    c.no_evict = mode == b"on"
    return OK


@command("client|tracking", -3, "noscript loading stale", "@connection", group="connection", since="6.0.0",
         summary="Client-side caching: turn key tracking on or off", complexity="O(1), or O(N) with prefixes")  # fmt: skip
def client_tracking(c: Client, args: list[bytes]) -> Any:
    """Key tracking is not implemented: OFF is accepted (it is the state), ON refused."""
    mode = args[2].lower()
    if mode == b"off" and len(args) == 3:
        return OK
    if mode not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    raise CommandError(errors.TRACKING_UNSUPPORTED)


@command("client|caching", 3, "noscript loading stale", "@connection", group="connection", since="6.0.0",
         summary="Client-side caching: track or skip the keys of the next command", complexity="O(1)")  # fmt: skip
def client_caching(c: Client, args: list[bytes]) -> Any:
    raise CommandError(errors.CLIENT_CACHING_NOT_TRACKING)


@command("client|getredir", 2, "noscript loading stale", "@connection", group="connection", since="6.0.0",
         summary="Client-side caching: where invalidations are redirected", complexity="O(1)")  # fmt: skip
def client_getredir(c: Client, args: list[bytes]) -> Any:
    return -1  # tracking is never on


@command("client|trackinginfo", 2, "noscript loading stale", "@connection", group="connection", since="6.2.0",
         summary="Client-side caching: the tracking state of the connection", complexity="O(1)")  # fmt: skip
def client_trackinginfo(c: Client, args: list[bytes]) -> Any:
    return Map([(b"flags", SetReply([b"off"])), (b"redirect", -1), (b"prefixes", [])])


@command("client|help", 2, "loading stale", "@connection", group="connection", since="5.0.0",
         summary="Describe the CLIENT subcommands", complexity="O(1)")  # fmt: skip
def client_help(c: Client, args: list[bytes]) -> Any:
    from .server import help_reply

    return help_reply("CLIENT", [
        ("CACHING (YES|NO)", "Client-side caching: track the keys of the next command (not supported)."),
        ("GETREDIR", "Client-side caching: the client invalidations go to, -1 for none."),
        ("ID", "The ID of this connection."),
        ("INFO", "A description of this connection, in the CLIENT LIST format."),
        ("KILL <ip:port>", "Close the connection of the client at that address."),
        ("KILL <option> <value> [<option> <value> [...]]",
         "Close the connections matching every filter: ID, TYPE, USER, ADDR, LADDR, SKIPME (yes|no)."),
        ("LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]", "Describe the connections."),
        ("UNPAUSE", "End a CLIENT PAUSE."),
        ("PAUSE <timeout> [WRITE|ALL]", "Hold the commands of clients (writes only with WRITE) for <timeout> ms."),
        ("REPLY (ON|OFF|SKIP)", "Turn replies to this connection on or off, or skip the next one."),
        ("SETNAME <name>", "Name this connection."),
        ("GETNAME", "The name of this connection."),
        ("TRACKING (ON|OFF) ...", "Client-side caching: key tracking (only OFF is supported)."),
        ("TRACKINGINFO", "Client-side caching: the tracking state of this connection."),
        ("UNBLOCK <clientid> [TIMEOUT|ERROR]", "End the wait of a client blocked on keys, as a timeout or an error."),
        ("NO-EVICT (ON|OFF)", "Protect this connection from client eviction."),
    ])  # fmt: skip
