"""Server commands: FLUSHALL/FLUSHDB, DBSIZE, TIME, SWAPDB, persistence stubs, SHUTDOWN,
MONITOR, DEBUG, INFO, CONFIG, and a minimal FUNCTION container.

Theory of operation
-------------------
These commands act on the node as a whole rather than on one key. Their replies follow
Redis 7.0 byte for byte; where we have no machinery behind a command yet (RDB
persistence, Lua functions), the command answers in the shape Redis would give for an
empty or freshly saved server, and its docstring says so.

* FLUSHALL / FLUSHDB empty the databases and invalidate WATCHes on keys that existed
  (Redis's ``touchAllWatchedKeysInDb``). Like Redis, FLUSHALL with ``save`` points
  configured is followed by a save, which resets the dirty counter and LASTSAVE.
* FUNCTION is a placeholder until scripting lands: the library set is always empty,
  so LIST is empty, DUMP is the empty payload (RDB version + CRC64 footer), RESTORE
  accepts exactly that payload, and everything that would need a library fails with
  Redis's own "not found" errors.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from ...config import IMMUTABLE, OPTIONS, PROTECTED, REDIS_VERSION, ConfigError, canonical_name
from ...protocol.encoder import OK, Double, ErrorReply, Map, Raw, SetReply, Status, Verbatim, encode
from .. import errors
from ..args import parse_int, parse_int_range
from ..client import Client
from ..command_table import COMMANDS, KeySpec, command, container
from ..errors import CommandError
from ..eviction import perform_evictions, used_memory
from ..stats import bucket_top
from .migrate import socket_cache

log = logging.getLogger("pyredis_cluster")

# -- flushing ---------------------------------------------------------------------------


def _flush_mode(args: list[bytes]) -> None:
    """Validate the optional ASYNC|SYNC word (we always flush synchronously)."""
    if len(args) == 2 and args[1].lower() in (b"sync", b"async"):
        return
    if len(args) != 1:
        raise CommandError(errors.SYNTAX)


@command("flushall", -1, "write", "@keyspace @dangerous", group="server", since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Delete every key of every database",
         complexity="O(N) in the total number of keys")  # fmt: skip
def flushall(c: Client, args: list[bytes]) -> Any:
    """FLUSHALL [ASYNC|SYNC]. ASYNC is accepted; the flush is done at once either way."""
    _flush_mode(args)
    node = c.node
    removed = sum(db.flush() for db in node.keyspace.databases)
    node.dirty += removed
    if node.config.save:
        # Redis saves the (now empty) dataset right away when save points exist,
        # which zeroes the dirty counter; we keep that visible effect.
        node.dirty = 0
        node.lastsave = int(time.time())
    return OK


@command("flushdb", -1, "write", "@keyspace @dangerous", group="server", since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Delete every key of the selected database",
         complexity="O(N) in the number of keys of the database")  # fmt: skip
def flushdb(c: Client, args: list[bytes]) -> Any:
    """FLUSHDB [ASYNC|SYNC]."""
    _flush_mode(args)
    c.node.dirty += c.db.flush()
    return OK


@command("dbsize", 1, "readonly fast", "@keyspace", group="server", since="1.0.0",
         tips="request_policy:all_shards response_policy:agg_sum",
         summary="Count the keys of the selected database", complexity="O(1)")  # fmt: skip
def dbsize(c: Client, args: list[bytes]) -> Any:
    return len(c.db)


@command("time", 1, "loading stale fast", "", group="server", since="2.6.0",
         tips="nondeterministic_output",
         summary="The server's clock, as seconds and microseconds", complexity="O(1)")  # fmt: skip
def time_(c: Client, args: list[bytes]) -> Any:
    now_us = time.time_ns() // 1000
    return [b"%d" % (now_us // 1_000_000), b"%d" % (now_us % 1_000_000)]


# -- FUNCTION (placeholder until scripting) ---------------------------------------------

container("function", group="scripting", since="7.0.0",
          summary="Manage server-side function libraries", complexity="Depends on the subcommand.")  # fmt: skip


def _subcommand_syntax_error(args: list[bytes]) -> CommandError:
    return CommandError(errors.subcommand_syntax(args[1], args[0]))


@command("function|flush", -2, "write noscript", "@scripting", group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Delete every function library",
         complexity="O(N) in the number of functions")  # fmt: skip
def function_flush(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise _subcommand_syntax_error(args)
    if len(args) == 3 and args[2].lower() not in (b"sync", b"async"):
        raise CommandError(errors.FUNCTION_FLUSH_MODE)
    c.node.dirty += 1
    return OK


@command("function|list", -2, "noscript", "@scripting", group="scripting", since="7.0.0",
         tips="nondeterministic_output_order",
         summary="List the function libraries and their functions",
         complexity="O(N) in the number of functions")  # fmt: skip
def function_list(c: Client, args: list[bytes]) -> Any:
    with_code = False
    library_name: bytes | None = None
    i = 2
    while i < len(args):
        word = args[i].lower()
        if not with_code and word == b"withcode":
            with_code = True
        elif library_name is None and word == b"libraryname":
            if i >= len(args) - 1:
                raise CommandError(errors.FUNCTION_LIBRARY_NAME_MISSING)
            i += 1
            library_name = args[i]
        else:
            raise CommandError(errors.unknown_argument(args[i]))
        i += 1
    return []  # no libraries until scripting exists


@command("function|stats", 2, "noscript allow_busy", "@scripting", group="scripting", since="7.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="The running function and the engines' statistics", complexity="O(1)")  # fmt: skip
def function_stats(c: Client, args: list[bytes]) -> Any:
    engines = Map([(b"LUA", Map([(b"libraries_count", 0), (b"functions_count", 0)]))])
    return Map([(b"running_script", None), (b"engines", engines)])


@command("function|dump", 2, "noscript", "@scripting", group="scripting", since="7.0.0",
         summary="Serialize every function library into a payload",
         complexity="O(N) in the number of functions")  # fmt: skip
def function_dump(c: Client, args: list[bytes]) -> Any:
    from ..rdb import seal_dump_payload  # rdb imports the command modules: import on use

    return seal_dump_payload(b"")


@command("function|restore", -3, "write denyoom noscript", "@scripting", group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Restore function libraries from a FUNCTION DUMP payload",
         complexity="O(N) in the number of functions in the payload")  # fmt: skip
def function_restore(c: Client, args: list[bytes]) -> Any:
    """Only the empty library set can be restored until scripting exists."""
    if len(args) > 4:
        raise _subcommand_syntax_error(args)
    if len(args) == 4 and args[3].lower() not in (b"append", b"replace", b"flush"):
        raise CommandError(errors.FUNCTION_RESTORE_POLICY)
    from ..rdb import verify_dump_payload  # rdb imports the command modules: import on use

    payload = args[2]
    if not verify_dump_payload(payload):
        raise CommandError(errors.DUMP_PAYLOAD_INVALID)
    if len(payload) > 10:
        raise CommandError(errors.FUNCTIONS_UNSUPPORTED)
    return OK


@command("function|delete", 3, "write noscript", "@scripting", group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Delete a function library", complexity="O(1)")  # fmt: skip
def function_delete(c: Client, args: list[bytes]) -> Any:
    raise CommandError(errors.FUNCTION_LIBRARY_NOT_FOUND)


@command("function|load", -3, "write denyoom noscript", "@scripting", group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Create a function library from its source code",
         complexity="O(1), plus compiling the code")  # fmt: skip
def function_load(c: Client, args: list[bytes]) -> Any:
    raise CommandError(errors.FUNCTIONS_UNSUPPORTED)


@command("function|kill", 2, "noscript allow_busy", "@scripting", group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:one_succeeded",
         summary="Stop the function that is running", complexity="O(1)")  # fmt: skip
def function_kill(c: Client, args: list[bytes]) -> Any:
    raise CommandError(errors.NOTBUSY)


@command("function|help", 2, "loading stale", "@scripting", group="scripting", since="7.0.0",
         summary="Describe the FUNCTION subcommands", complexity="O(1)")  # fmt: skip
def function_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("FUNCTION", [
        ("LOAD [REPLACE] <FUNCTION CODE>", "Create a library from its code; REPLACE overwrites one of the same name."),
        ("DELETE <LIBRARY NAME>", "Remove a library and its functions."),
        ("LIST [LIBRARYNAME PATTERN] [WITHCODE]", "Describe the libraries, optionally filtered by name, with their code."),
        ("STATS", "The function running now (or nil) and the available engines."),
        ("KILL", "Stop the function running now."),
        ("FLUSH [ASYNC|SYNC]", "Remove every library."),
        ("DUMP", "Serialize every library into a payload for FUNCTION RESTORE."),
        ("RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]", "Load libraries from a payload; the policy says what happens to existing ones."),
    ])  # fmt: skip


# -- shared helpers -----------------------------------------------------------------------


def help_reply(container_name: str, entries: list[tuple[str, str]]) -> list[Any]:
    """A container's HELP reply, in Redis's shape: status lines, usage first, HELP last."""
    lines = [f"{container_name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for usage, text in entries + [("HELP", "Prints this help.")]:
        lines.append(usage)
        lines.append("    " + text)
    return [Status(line) for line in lines]


# -- databases ----------------------------------------------------------------------------


@command("swapdb", 3, "write fast", "@keyspace @dangerous", group="server", since="4.0.0",
         summary="Exchange the contents of two databases",
         complexity="O(N) in the number of clients watching or blocked on keys of the two databases")  # fmt: skip
def swapdb(c: Client, args: list[bytes]) -> Any:
    """SWAPDB a b: WATCHes on keys of either db fail, clients blocked on keys wake up."""
    node = c.node
    if node.config.cluster_enabled:
        raise CommandError(errors.SWAPDB_IN_CLUSTER)
    first = parse_int_range(args[1], -(2**31), 2**31 - 1, errors.SWAPDB_FIRST_INDEX)
    second = parse_int_range(args[2], -(2**31), 2**31 - 1, errors.SWAPDB_SECOND_INDEX)
    databases = node.keyspace.databases
    if not (0 <= first < len(databases) and 0 <= second < len(databases)):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    if first != second:
        db1, db2 = databases[first], databases[second]
        for this, other in ((db1, db2), (db2, db1)):
            for key in list(this.watched):
                if key in this.data or key in other.data:
                    this.touch(key)
        db1.swap_contents(db2)
        _signal_blocked_keys(node.keyspace, (db1, db2))
    node.dirty += 1
    return OK


def _signal_blocked_keys(keyspace: Any, dbs: tuple[Any, ...]) -> None:
    """After SWAPDB: keys clients wait on may now hold a value they can take."""
    from ..keyspace import BLOCKABLE_TYPES

    by_index = {db.index: db for db in dbs}
    for index, key in list(keyspace.blocked_on):
        db = by_index.get(index)
        if db is None:
            continue
        value = db.data.get(key)
        if value is not None and type(value) is not bytes and value.TYPE_NAME in BLOCKABLE_TYPES:
            keyspace.ready_keys.append((db, key))


# -- persistence (no RDB yet) --------------------------------------------------------------


def _pretend_saved(c: Client) -> None:
    """What a successful save leaves behind: no pending changes, a new LASTSAVE."""
    node = c.node
    node.dirty = 0
    node.lastsave = int(time.time())
    node.rdb_saves = getattr(node, "rdb_saves", 0) + 1


@command("lastsave", 1, "loading stale fast", "@admin @dangerous", group="server", since="1.0.0",
         tips="nondeterministic_output",
         summary="Unix time of the last successful save", complexity="O(1)")  # fmt: skip
def lastsave(c: Client, args: list[bytes]) -> Any:
    return c.node.lastsave


@command("save", 1, "admin noscript no_async_loading no_multi", "", group="server", since="1.0.0",
         summary="Save the dataset synchronously", complexity="O(N) in the number of keys")  # fmt: skip
def save(c: Client, args: list[bytes]) -> Any:
    """SAVE. There is no RDB persistence yet: the save is only pretended (OK, LASTSAVE moves)."""
    _pretend_saved(c)
    return OK


@command("bgsave", -1, "admin noscript no_async_loading", "", group="server", since="1.0.0",
         summary="Save the dataset in the background", complexity="O(N) in the number of keys")  # fmt: skip
def bgsave(c: Client, args: list[bytes]) -> Any:
    """BGSAVE [SCHEDULE]. Pretended like SAVE (no RDB yet), with Redis's replies."""
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"schedule"):
        raise CommandError(errors.SYNTAX)
    _pretend_saved(c)
    return Status("Background saving started")


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", "", group="server", since="1.0.0",
         summary="Save (if asked or configured) and stop the server", complexity="O(N) in the number of keys when saving")  # fmt: skip
def shutdown(c: Client, args: list[bytes]) -> Any:
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the client gets no reply, the node stops.

    There are no replicas to wait for and no RDB to write, so NOW and FORCE change
    nothing, and ABORT always finds no shutdown in progress.
    """
    nosave = save_flag = abort = False
    for word in args[1:]:
        lowered = word.lower()
        if lowered == b"nosave":
            nosave = True
        elif lowered == b"save":
            save_flag = True
        elif lowered in (b"now", b"force"):
            pass
        elif lowered == b"abort":
            abort = True
        else:
            raise CommandError(errors.SYNTAX)
    if (abort and len(args) != 2) or (nosave and save_flag):
        raise CommandError(errors.SYNTAX)
    if abort:
        raise CommandError(errors.NO_SHUTDOWN_IN_PROGRESS)
    c.node.request_shutdown()
    c.close_after_reply = True
    return Raw(b"")


# -- MONITOR ----------------------------------------------------------------------------------


@command("monitor", 1, "admin noscript loading stale", "", group="server", since="1.0.0",
         summary="Stream every command the server runs", complexity="O(1)")  # fmt: skip
def monitor(c: Client, args: list[bytes]) -> Any:
    """MONITOR: from now on the client receives a status line per command run (see Node.feed_monitors)."""
    if c.in_exec:
        raise CommandError(errors.MONITOR_DENY_BLOCKING)
    if c.is_monitor:
        return Raw(b"")  # Redis ignores a second MONITOR silently
    c.is_monitor = True
    c.node.monitors.append(c)
    return OK


# -- DEBUG ------------------------------------------------------------------------------------


def _is_local(c: Client) -> bool:
    host = c.addr.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "[::1]", "localhost") or host.startswith("::ffff:127.")


def protected_action_allowed(setting: str, c: Client) -> bool:
    """enable-debug-command / enable-protected-configs: 'yes', or 'local' for loopback clients."""
    return setting == "yes" or (setting == "local" and _is_local(c))


def _lenient_float(arg: bytes) -> float:
    """C's atof: the longest numeric prefix, 0 when there is none (DEBUG SLEEP's parsing)."""
    import re

    match = re.match(rb"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", arg)
    return float(match.group(0)) if match else 0.0


def _lenient_int(arg: bytes) -> int:
    """C's atoi."""
    import re

    match = re.match(rb"\s*[-+]?\d+", arg)
    return int(match.group(0)) if match else 0


def _debug_object(c: Client, args: list[bytes]) -> Any:
    from .keys import value_encoding

    db = c.db
    value = db.peek(args[2]) if hasattr(db, "peek") else db.get(args[2])
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    encoding = value_encoding(value)
    refcount = 1
    if type(value) is bytes and encoding == "int" and 0 <= int(value) < 10000:
        refcount = 2**31 - 1  # Redis's shared small integers
    idle_ms = db.idle_ms(args[2]) if hasattr(db, "idle_ms") else 0
    lru_clock = (int(time.time()) & ((1 << 24) - 1))
    extra = ""
    if encoding == "quicklist":
        size = len(value)
        extra = (
            f" ql_nodes:1 ql_avg_node:{size:.2f} ql_listpack_max:{c.node.config.list_max_listpack_size}"
            f" ql_compressed:{int(bool(c.node.config.list_compress_depth))} ql_uncompressed_size:{_approx_size(value)}"
        )
    return Status(
        f"Value at:0x{id(value):x} refcount:{refcount} encoding:{encoding} "
        f"serializedlength:{_approx_size(value)} lru:{(lru_clock - idle_ms // 1000) & ((1 << 24) - 1)} "
        f"lru_seconds_idle:{idle_ms // 1000}{extra}"
    )


def _approx_size(value: Any) -> int:
    """A stand-in for the serialized length: the bytes of the value's elements (no RDB yet)."""
    if type(value) is bytes:
        return len(value) + 1
    try:
        return sum(len(item) + 1 if isinstance(item, bytes) else 9 for item in value) + 1
    except TypeError:
        return 1


def _digest_value(value: Any) -> bytes:
    """A SHA1 over a value's canonical form. Equal for equal values of this process; not Redis's digest."""
    import hashlib

    if type(value) is bytes:
        canonical = b"string:" + value
    else:
        state = getattr(value, "__dict__", None) or {slot: getattr(value, slot, None) for slot in getattr(value, "__slots__", ())}
        canonical = repr((value.TYPE_NAME, sorted(state.items(), key=repr))).encode()
    return hashlib.sha1(canonical).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def _debug_digest(c: Client) -> bytes:
    """DEBUG DIGEST: 40 zeros for an empty dataset, else an order-independent mix of every key."""
    import hashlib

    digest = bytes(20)
    for db in c.node.keyspace.databases:
        for key, value in db.data.items():
            entry = hashlib.sha1(b"%d\0%s\0" % (db.index, key) + _digest_value(value))
            expire = db.expires.get(key)
            if expire is not None:
                entry.update(b"expire:%d" % expire)
            digest = _xor(digest, entry.digest())
    return digest.hex().encode()


def _debug_protocol(c: Client, kind: bytes) -> Any:
    """DEBUG PROTOCOL <type>: one reply of each RESP type, to test clients."""
    resp3 = c.resp == 3
    kind = kind.lower()
    if kind == b"string":
        return b"Hello World"
    if kind == b"integer":
        return 12345
    if kind == b"double":
        return Double(3.141)
    if kind == b"bignum":
        number = b"1234567999999999999999999999999999999"
        return Raw(b"(%s\r\n" % number) if resp3 else number
    if kind == b"null":
        return None
    if kind == b"array":
        return [0, 1, 2]
    if kind == b"set":
        return SetReply([0, 1, 2])
    if kind == b"map":
        return Map([(0, False), (1, True), (2, False)])
    if kind == b"attrib":
        text = b"Some real reply following the attribute"
        if resp3:
            return Raw(b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n" + encode(text, 3))
        return text
    if kind == b"push":
        if not resp3:
            raise CommandError(errors.DEBUG_PUSH_RESP2)
        return Raw(b">2\r\n$6\r\nserver\r\n$14\r\nHello Redis 6!\r\n")  # reply follows in Redis too
    if kind == b"verbatim":
        return Verbatim(b"This is a verbatim\nstring")
    if kind == b"true":
        return True
    if kind == b"false":
        return False
    raise CommandError(errors.DEBUG_PROTOCOL_TYPE)


def _debug_populate(c: Client, args: list[bytes]) -> Any:
    count = parse_int(args[2])
    if count < 0:
        raise CommandError(errors.POSITIVE_COUNT)
    prefix = args[3] if len(args) > 3 else b"key"
    size = parse_int(args[4]) if len(args) > 4 else 0
    db = c.db
    for i in range(count):
        key = b"%s:%d" % (prefix, i)
        if db.get(key) is not None:
            continue
        value = b"value:%d" % i
        if size:
            value = value[:size].ljust(size, b"\0")
        db.add(key, value)
    return OK


def _debug_clusterlink_kill(c: Client, direction: bytes, node_id: bytes) -> Any:
    """DEBUG CLUSTERLINK KILL to|from|all <node-id>: close bus links; the cron reconnects."""
    support = c.node.cluster
    if support is None or support.state is None or support.bus is None:
        raise CommandError(errors.DEBUG_CLUSTER_ONLY)
    name = node_id.decode("utf-8", "replace")
    if support.state.lookup(name) is None:
        raise CommandError(errors.CLUSTER_UNKNOWN_NODE.format(name))
    which = direction.lower()
    if which not in (b"to", b"from", b"all"):
        # 7.0 sends the error and then +OK anyway: two replies to one command.
        text = errors.DEBUG_UNKNOWN_DIRECTION.format(direction.decode("utf-8", "replace"))
        return Raw(b"-%s\r\n+OK\r\n" % text.encode())
    if name != support.state.myid:  # 7.0 crashes on its own id; we just have no such link
        support.bus.kill_links(name, which.decode())
    return OK


_DEBUG_HELP = [
    ("CHANGE-REPL-ID", "Give the replication stream a new replication ID."),
    ("CLUSTERLINK KILL <to|from|all> <node-id>", "Close the cluster bus links to/from a node (both: all)."),
    ("DROP-CLUSTER-PACKET-FILTER <packet-type>", "Drop incoming cluster bus packets of a type (-1: none)."),
    ("PAUSE-CRON <0|1>", "Stop (1) or resume (0) the periodic background jobs, the cluster cron too."),
    ("DIGEST", "A digest of the whole dataset (ours: equal datasets give equal digests)."),
    ("DIGEST-VALUE <key> [<key> ...]", "A digest per key value."),
    ("ERROR <string>", "Reply with the given error."),
    ("LOG <message>", "Write a line to the server log."),
    ("OBJECT <key>", "Low level facts about a key's value."),
    ("POPULATE <count> [<prefix>] [<size>]", "Create <count> keys named <prefix>:<n> (prefix 'key')."),
    ("PROTOCOL <type>", "Reply with a sample of a RESP type: string, integer, double, bignum, null, array, "
                        "set, map, attrib, push, verbatim, true or false."),
    ("QUICKLIST-PACKED-THRESHOLD <size>", "Accepted for compatibility; no effect here."),
    ("RELOAD [MERGE] [NOFLUSH] [NOSAVE]", "Save and reload the dataset (the data stays in memory here)."),
    ("SET-ACTIVE-EXPIRE <0|1>", "Turn the background expiry of keys off or on."),
    ("SLEEP <seconds>", "Stop the whole server for the given (fractional) number of seconds."),
]  # fmt: skip


@command("debug", -2, "admin noscript loading stale", "", group="server", since="1.0.0",
         summary="Tools for testing and inspecting the server", complexity="Depends on the subcommand")  # fmt: skip
def debug(c: Client, args: list[bytes]) -> Any:
    """DEBUG, refused unless ``enable-debug-command`` allows it for this client.

    Implemented: HELP, SLEEP (blocks the whole server, like Redis), OBJECT, DIGEST,
    DIGEST-VALUE, POPULATE, PROTOCOL, LOG, ERROR, SET-ACTIVE-EXPIRE, CHANGE-REPL-ID,
    QUICKLIST-PACKED-THRESHOLD (no effect), RELOAD (nothing to do: without persistence
    the dataset already is what a reload would give back).
    """
    node = c.node
    if not protected_action_allowed(str(node.config.enable_debug_command), c):
        raise CommandError(errors.DEBUG_COMMAND_NOT_ALLOWED)
    sub = args[1].lower()
    argc = len(args)
    if sub == b"help" and argc == 2:
        return help_reply("DEBUG", _DEBUG_HELP)
    if sub == b"sleep" and argc == 3:
        time.sleep(max(0.0, _lenient_float(args[2])))
        return OK
    if sub == b"object" and argc == 3:
        return _debug_object(c, args)
    if sub == b"set-active-expire" and argc == 3:
        node.active_expire_enabled = bool(_lenient_int(args[2]))
        return OK
    if sub == b"quicklist-packed-threshold" and argc == 3:
        from ...config import parse_memory

        if parse_memory(args[2].decode("utf-8", "replace")) is None:
            raise CommandError(errors.DEBUG_MEMORY_VALUE)
        return OK
    if sub == b"reload":
        for word in args[2:]:
            if word.lower() not in (b"merge", b"noflush", b"nosave"):
                raise CommandError(errors.DEBUG_RELOAD_OPTIONS)
        return OK
    if sub == b"change-repl-id" and argc == 2:
        node.replid = os.urandom(20).hex()
        return OK
    if sub == b"digest" and argc == 2:
        return Status(_debug_digest(c).decode())
    if sub == b"digest-value" and argc >= 2:
        return [_digest_value(v).hex().encode() if (v := c.db.get(key)) is not None else b"0" * 40 for key in args[2:]]
    if sub == b"populate" and 3 <= argc <= 5:
        return _debug_populate(c, args)
    if sub == b"protocol" and argc == 3:
        return _debug_protocol(c, args[2])
    if sub == b"log" and argc == 3:
        log.warning("DEBUG LOG: %s", args[2].decode("utf-8", "replace"))
        return OK
    if sub == b"error" and argc == 3:
        text = args[2].decode("utf-8", "replace")
        return ErrorReply(text[1:] if text.startswith("-") else "ERR " + text)
    if sub == b"pause-cron" and argc == 3:
        # serverCron stops, and with it the cluster cron (PINGs, failure detection).
        node.cron_paused = bool(_lenient_int(args[2]))
        if node.cluster is not None and node.cluster.bus is not None:
            node.cluster.bus.paused = node.cron_paused
        return OK
    if sub == b"drop-cluster-packet-filter" and argc == 3:
        packet_type = parse_int(args[2])
        if node.cluster is not None and node.cluster.bus is not None:
            node.cluster.bus.set_drop_filter(packet_type)
        return OK
    if sub == b"clusterlink" and argc == 5 and args[2].lower() == b"kill":
        return _debug_clusterlink_kill(c, args[3], args[4])
    if sub in (b"set-disable-deny-scripts", b"replybuffer") and argc == 3:
        return OK
    raise _subcommand_syntax_error(args)


# -- INFO ---------------------------------------------------------------------------------------

#: Sections in the order Redis prints them; the bool says whether "default" includes it.
INFO_SECTIONS: tuple[tuple[str, bool], ...] = (
    ("server", True), ("clients", True), ("memory", True), ("persistence", True), ("stats", True),
    ("replication", True), ("cpu", True), ("modules", True), ("commandstats", False),
    ("errorstats", True), ("latencystats", False), ("cluster", True), ("keyspace", True),
)  # fmt: skip


def info_sections(args: list[bytes]) -> list[str]:
    """The sections INFO prints for its arguments (names are case-insensitive)."""
    if not args:
        return [name for name, default in INFO_SECTIONS if default]
    wanted: set[str] = set()
    everything = False
    for arg in args:
        name = arg.decode("utf-8", "replace").lower()
        if name == "default":
            wanted |= {section for section, default in INFO_SECTIONS if default}
        elif name in ("all", "everything"):
            everything = True
        elif name == "module_list":
            wanted.add("modules")
        else:
            wanted.add(name)
    return [name for name, _ in INFO_SECTIONS if everything or name in wanted]


def info_text(node: Any, sections: list[str]) -> bytes:
    """INFO's text: ``# Section`` headers, ``field:value`` lines, CRLF, a blank line between sections."""
    blocks = []
    for name in sections:
        lines = _INFO_BUILDERS[name](node)
        title = "# " + ("CPU" if name == "cpu" else name.capitalize())
        blocks.append("".join(f"{line}\r\n" for line in [title, *lines]))
    return "\r\n".join(blocks).encode("utf-8", "surrogateescape")


@command("info", -1, "loading stale", "@dangerous", group="server", since="1.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="Facts and statistics about the server", complexity="O(1)")  # fmt: skip
def info(c: Client, args: list[bytes]) -> Any:
    return Verbatim(info_text(c.node, info_sections(args[1:])))


def bytes_to_human(n: int) -> str:
    """Redis's bytesToHuman: 1023B, 1.00K, 1.50M..."""
    for unit, power in (("P", 5), ("T", 4), ("G", 3), ("M", 2), ("K", 1)):
        if n >= 1024**power:
            return f"{n / 1024**power:.2f}{unit}"
    return f"{n}B"


#: Resident memory of the process: what INFO calls used_memory (and maxmemory compares).
_rss_bytes = used_memory


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def replication_id(node: Any) -> str:
    """The node's replication ID (40 hex digits), made on first use."""
    replid = getattr(node, "replid", None)
    if replid is None:
        replid = node.replid = os.urandom(20).hex()
    return replid


def _info_server(node: Any) -> list[str]:
    config = node.config
    uptime = int(time.time() - node.started_at)
    uname = os.uname()
    now_us = time.time_ns() // 1000
    return [
        f"redis_version:{REDIS_VERSION}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        "redis_mode:" + ("cluster" if config.cluster_enabled else "standalone"),
        f"os:{uname.sysname} {uname.release} {uname.machine}",
        f"arch_bits:{struct.calcsize('P') * 8}",
        "monotonic_clock:POSIX clock_gettime",
        "multiplexing_api:epoll",
        "atomicvar_api:c11-builtin",
        "gcc_version:0.0.0",
        f"process_id:{os.getpid()}",
        "process_supervised:no",
        f"run_id:{node.run_id}",
        f"tcp_port:{node.port}",
        f"server_time_usec:{now_us}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{max(1, min(500, config.hz or 10))}",
        f"configured_hz:{config.hz}",
        f"lru_clock:{(now_us // 1_000_000) & ((1 << 24) - 1)}",
        f"executable:{os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''}",
        f"config_file:{config.path or ''}",
        "io_threads_active:0",
    ]


def _info_clients(node: Any) -> list[str]:
    clients = node.clients.values()
    return [
        # Redis: every client but the replicas' links (the primary's link on a replica counts)
        f"connected_clients:{sum(1 for client in clients if not client.is_replica)}",
        "cluster_connections:0",
        f"maxclients:{node.config.maxclients}",
        "client_recent_max_input_buffer:0",
        "client_recent_max_output_buffer:0",
        f"blocked_clients:{node.blocking.blocked_clients}",
        "tracking_clients:0",
        f"clients_in_timeout_table:{sum(1 for client in clients if client.blocked is not None and client.blocked.deadline_ms)}",
    ]


def _info_memory(node: Any) -> list[str]:
    rss = _rss_bytes()
    peak = max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    system = _total_system_memory()
    maxmemory = int(node.config.maxmemory)
    return [
        f"used_memory:{rss}",
        f"used_memory_human:{bytes_to_human(rss)}",
        f"used_memory_rss:{rss}",
        f"used_memory_rss_human:{bytes_to_human(rss)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{bytes_to_human(peak)}",
        f"used_memory_peak_perc:{100 * rss / peak if peak else 100:.2f}%",
        "used_memory_overhead:0",
        "used_memory_startup:0",
        f"used_memory_dataset:{rss}",
        "used_memory_dataset_perc:100.00%",
        f"allocator_allocated:{rss}",
        f"allocator_active:{rss}",
        f"allocator_resident:{rss}",
        f"total_system_memory:{system}",
        f"total_system_memory_human:{bytes_to_human(system)}",
        "used_memory_lua:32768",
        "used_memory_vm_eval:32768",
        "used_memory_lua_human:32.00K",
        "used_memory_scripts_eval:0",
        "number_of_cached_scripts:0",
        "number_of_functions:0",
        "number_of_libraries:0",
        "used_memory_vm_functions:32768",
        "used_memory_vm_total:65536",
        "used_memory_vm_total_human:64.00K",
        "used_memory_functions:0",
        "used_memory_scripts:0",
        "used_memory_scripts_human:0B",
        f"maxmemory:{maxmemory}",
        f"maxmemory_human:{bytes_to_human(maxmemory)}",
        f"maxmemory_policy:{node.config.maxmemory_policy}",
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        "rss_overhead_ratio:1.00",
        "rss_overhead_bytes:0",
        "mem_fragmentation_ratio:1.00",
        "mem_fragmentation_bytes:0",
        "mem_not_counted_for_evict:0",
        "mem_replication_backlog:0",
        "mem_total_replication_buffers:0",
        "mem_clients_slaves:0",
        "mem_clients_normal:0",
        "mem_cluster_links:0",
        "mem_aof_buffer:0",
        "mem_allocator:libc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:0",
        "lazyfreed_objects:0",
    ]


def _info_persistence(node: Any) -> list[str]:
    return [
        "loading:0",
        "async_loading:0",
        "current_cow_peak:0",
        "current_cow_size:0",
        "current_cow_size_age:0",
        "current_fork_perc:0.00",
        "current_save_keys_processed:0",
        "current_save_keys_total:0",
        f"rdb_changes_since_last_save:{node.dirty}",
        "rdb_bgsave_in_progress:0",
        f"rdb_last_save_time:{node.lastsave}",
        "rdb_last_bgsave_status:ok",
        "rdb_last_bgsave_time_sec:-1",
        "rdb_current_bgsave_time_sec:-1",
        f"rdb_saves:{getattr(node, 'rdb_saves', 0)}",
        "rdb_last_cow_size:0",
        "rdb_last_load_keys_expired:0",
        "rdb_last_load_keys_loaded:0",
        f"aof_enabled:{int(bool(node.config.appendonly))}",
        "aof_rewrite_in_progress:0",
        "aof_rewrite_scheduled:0",
        "aof_last_rewrite_time_sec:-1",
        "aof_current_rewrite_time_sec:-1",
        "aof_last_bgrewrite_status:ok",
        "aof_rewrites:0",
        "aof_rewrites_consecutive_failures:0",
        "aof_last_write_status:ok",
        "aof_last_cow_size:0",
        "module_fork_in_progress:0",
        "module_fork_last_cow_size:0",
    ]


def _info_stats(node: Any) -> list[str]:
    stats, keyspace, pubsub, replication = node.stats, node.keyspace, node.pubsub, node.replication
    return [
        f"total_connections_received:{stats.total_connections_received}",
        f"total_commands_processed:{stats.total_commands_processed}",
        f"instantaneous_ops_per_sec:{stats.instantaneous_ops_per_sec}",
        f"total_net_input_bytes:{stats.net_input_bytes}",
        f"total_net_output_bytes:{stats.net_output_bytes}",
        "total_net_repl_input_bytes:0",
        "total_net_repl_output_bytes:0",
        f"instantaneous_input_kbps:{stats.instantaneous_input_kbps:.2f}",
        f"instantaneous_output_kbps:{stats.instantaneous_output_kbps:.2f}",
        "instantaneous_input_repl_kbps:0.00",
        "instantaneous_output_repl_kbps:0.00",
        f"rejected_connections:{stats.rejected_connections}",
        f"sync_full:{replication.sync_full if replication else 0}",
        f"sync_partial_ok:{replication.sync_partial_ok if replication else 0}",
        f"sync_partial_err:{replication.sync_partial_err if replication else 0}",
        f"expired_keys:{keyspace.expired_keys}",
        "expired_stale_perc:0.00",
        "expired_time_cap_reached_count:0",
        "expire_cycle_cpu_milliseconds:0",
        f"evicted_keys:{getattr(keyspace, 'evicted_keys', 0)}",
        "evicted_clients:0",
        "total_eviction_exceeded_time:0",
        "current_eviction_exceeded_time:0",
        f"keyspace_hits:{keyspace.keyspace_hits}",
        f"keyspace_misses:{keyspace.keyspace_misses}",
        f"pubsub_channels:{len(pubsub.channels)}",
        f"pubsub_patterns:{len(pubsub.patterns)}",
        f"pubsubshard_channels:{len(pubsub.shard_channels)}",
        "latest_fork_usec:0",
        "total_forks:0",
        f"migrate_cached_sockets:{len(socket_cache(node).sockets)}",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        "tracking_total_keys:0",
        "tracking_total_items:0",
        "tracking_total_prefixes:0",
        "unexpected_error_replies:0",
        f"total_error_replies:{stats.total_error_replies}",
        "dump_payload_sanitizations:0",
        f"total_reads_processed:{stats.total_reads_processed}",
        f"total_writes_processed:{stats.total_writes_processed}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _info_replication(node: Any) -> list[str]:
    if node.replication is not None:  # server/replication.py, once anything replicated
        return node.replication.info_lines()
    return [
        "role:" + ("slave" if node.keyspace.is_replica else "master"),
        "connected_slaves:0",
        "master_failover_state:no-failover",
        f"master_replid:{replication_id(node)}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:0",
        "second_repl_offset:-1",
        "repl_backlog_active:0",
        f"repl_backlog_size:{node.config.repl_backlog_size}",
        "repl_backlog_first_byte_offset:0",
        "repl_backlog_histlen:0",
    ]


def _cpu_time(seconds: float) -> str:
    return f"{int(seconds)}.{int(round((seconds % 1) * 1e6)) % 1000000:06d}"


def _info_cpu(node: Any) -> list[str]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [
        f"used_cpu_sys:{_cpu_time(own.ru_stime)}",
        f"used_cpu_user:{_cpu_time(own.ru_utime)}",
        f"used_cpu_sys_children:{_cpu_time(children.ru_stime)}",
        f"used_cpu_user_children:{_cpu_time(children.ru_utime)}",
    ]
    if hasattr(resource, "RUSAGE_THREAD"):
        thread = resource.getrusage(resource.RUSAGE_THREAD)
        lines += [
            f"used_cpu_sys_main_thread:{_cpu_time(thread.ru_stime)}",
            f"used_cpu_user_main_thread:{_cpu_time(thread.ru_utime)}",
        ]
    return lines


def _info_modules(node: Any) -> list[str]:
    return []


def _info_safe(name: str) -> str:
    """Redis replaces ':', '#' and newlines in names it prints as INFO field names."""
    return name.translate(str.maketrans("#:\n\r", "____"))


def _specs_in_table_order() -> list[Any]:
    specs = []
    for spec in COMMANDS.values():
        specs.append(spec)
        specs.extend(spec.subcommands.values())
    return specs


def _info_commandstats(node: Any) -> list[str]:
    lines = []
    table = node.stats.commands
    for spec in _specs_in_table_order():
        entry = table.get(spec.name)
        if entry is None or not (entry.calls or entry.failed_calls or entry.rejected_calls):
            continue
        per_call = entry.usec / entry.calls if entry.calls else 0.0
        lines.append(
            f"cmdstat_{_info_safe(spec.name)}:calls={entry.calls},usec={int(entry.usec)},"
            f"usec_per_call={per_call:.2f},rejected_calls={entry.rejected_calls},failed_calls={entry.failed_calls}"
        )
    return lines


def _info_errorstats(node: Any) -> list[str]:
    errors_seen = node.stats.errors
    return [f"errorstat_{_info_safe(code)}:count={errors_seen[code]}" for code in sorted(errors_seen)]


def percentile_label(value: float) -> str:
    """50.0 -> '50', 99.9 -> '99.9' (how Redis names percentiles in INFO and CONFIG GET)."""
    return (f"{value:f}".rstrip("0").rstrip(".")) or "0"


def latency_percentiles(node: Any) -> list[float]:
    return [float(word) for word in str(node.config.latency_tracking_info_percentiles).split()]


def _info_latencystats(node: Any) -> list[str]:
    if not node.config.latency_tracking:
        return []
    percentiles = latency_percentiles(node)
    lines = []
    table = node.stats.commands
    for spec in _specs_in_table_order():
        entry = table.get(spec.name)
        if entry is None or entry.latency is None or not entry.latency.count:
            continue
        values = ",".join(f"p{percentile_label(p)}={entry.latency.percentile(p):.3f}" for p in percentiles)
        lines.append(f"latency_percentiles_usec_{_info_safe(spec.name)}:{values}")
    return lines


def _info_cluster(node: Any) -> list[str]:
    return [f"cluster_enabled:{int(bool(node.config.cluster_enabled))}"]


def _info_keyspace(node: Any) -> list[str]:
    lines = []
    for db in node.keyspace.databases:
        if db.data or db.expires:
            lines.append(f"db{db.index}:keys={len(db.data)},expires={len(db.expires)},avg_ttl={db.avg_ttl}")
    return lines


_INFO_BUILDERS: dict[str, Callable[[Any], list[str]]] = {
    "server": _info_server,
    "clients": _info_clients,
    "memory": _info_memory,
    "persistence": _info_persistence,
    "stats": _info_stats,
    "replication": _info_replication,
    "cpu": _info_cpu,
    "modules": _info_modules,
    "commandstats": _info_commandstats,
    "errorstats": _info_errorstats,
    "latencystats": _info_latencystats,
    "cluster": _info_cluster,
    "keyspace": _info_keyspace,
}


# -- CONFIG ---------------------------------------------------------------------------------------

container("config", group="server", since="2.0.0",
          summary="Read and change the server's configuration", complexity="Depends on the subcommand.")  # fmt: skip


@command("config|get", -3, "admin noscript loading stale", "", group="server", since="2.0.0",
         summary="The values of configuration options matching names or patterns",
         complexity="O(N) in the number of options")  # fmt: skip
def config_get(c: Client, args: list[bytes]) -> Any:
    """CONFIG GET name-or-pattern [...]: each option at most once (a Map in RESP3)."""
    found: dict[str, tuple[str, str]] = {}  # lower-case name -> (name as shown, value)
    config = c.node.config
    for arg in args[2:]:
        for name, value in config.get_matching(arg.decode("utf-8", "surrogateescape")):
            if name.lower() == "port" and c.node.port:
                value = str(c.node.port)  # the port we got when started with port 0
            found.setdefault(name.lower(), (name, value))
    return Map([(name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape"))
                for name, value in found.values()])  # fmt: skip


def _apply_config(node: Any, name: str) -> None:
    """Side effects of a changed option, applied after every value of a CONFIG SET was accepted."""
    config = node.config
    if name == "hz":
        config.hz = max(1, min(500, int(config.hz)))  # Redis clamps the effective and shown value
    elif name == "latency-tracking":
        node.stats.latency_tracking = bool(config.latency_tracking)
    elif name == "maxmemory":
        perform_evictions(node)  # as Redis does at once, firing "evicted" events
    elif name == "dir":
        os.chdir(config.dir)
        config.dir = os.getcwd()
    elif (name.startswith("cluster-") or name == "repl-ping-replica-period") and node.cluster is not None:
        node.cluster.apply_config()  # the cluster core's settings (failover uses the ping period)
    elif name == "port" and int(config.port) != node.port and node._servers:
        try:
            _listen_on_port(node, int(config.port))
        except OSError as err:
            raise ConfigError(f"Unable to listen on this port: {err.strerror}") from None


def _listen_on_port(node: Any, port: int) -> None:
    """CONFIG SET port: bind the new port on every bind address first (so a failure changes
    nothing), then close the old listeners; open connections stay, as in Redis."""
    from ..connection import ClientConnection

    sockets: list[socket.socket] = []
    try:
        for address in str(node.config.bind).split() or ["127.0.0.1"]:
            host = address.lstrip("-")
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, port))
            except OSError:
                if address.startswith("-"):  # optional address, as at start-up
                    sockets.pop().close()
                    continue
                raise
            sock.listen(511)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    loop = node._loop
    for server in node._servers:
        server.close()
    node._servers = []

    async def serve(sock: socket.socket) -> None:
        node._servers.append(await loop.create_server(lambda: ClientConnection(node), sock=sock))

    for sock in sockets:
        loop.create_task(serve(sock))
    if sockets:
        node.port = sockets[0].getsockname()[1]


@command("config|set", -4, "admin noscript loading stale", "", group="server", since="2.0.0",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Change configuration options, all or none",
         complexity="O(N) in the number of options set")  # fmt: skip
def config_set(c: Client, args: list[bytes]) -> Any:
    """CONFIG SET name value [name value ...]: every value is checked before any is stored,
    and a failing side effect (binding a new port) puts every old value back."""
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    node = c.node
    config = node.config
    pairs = [(args[i].decode("utf-8", "surrogateescape"), args[i + 1].decode("utf-8", "surrogateescape"))
             for i in range(2, len(args), 2)]  # fmt: skip
    for given, _ in pairs:
        if canonical_name(given) not in OPTIONS or canonical_name(given) in ("include", "rename-command", "user", "loadmodule"):
            raise CommandError(errors.config_set_unknown(given))
    seen: set[str] = set()
    protected_ok = protected_action_allowed(str(config.enable_protected_configs), c)
    for given, _ in pairs:
        name = canonical_name(given)
        if name in IMMUTABLE:
            raise CommandError(errors.config_set_failed(given, "can't set immutable config"))
        if name in PROTECTED and not protected_ok:
            raise CommandError(errors.config_set_failed(given, "can't set protected config"))
        if given.lower() in seen:
            raise CommandError(errors.config_set_failed(given, "duplicate parameter"))
        seen.add(given.lower())
    old = {canonical_name(given): config.get(given) for given, _ in pairs}
    try:
        for given, text in pairs:
            name = canonical_name(given)
            try:
                setattr(config, name, config.check_value(name, text))
            except ConfigError as err:
                raise CommandError(errors.config_set_failed(name, str(err))) from None
        for given, _ in pairs:
            name = canonical_name(given)
            try:
                _apply_config(node, name)
            except ConfigError as err:
                raise CommandError(errors.config_set_failed(name, str(err))) from None
    except CommandError:
        for name, value in old.items():
            setattr(config, name, value)
        raise
    return OK


@command("config|resetstat", 2, "admin noscript loading stale", "", group="server", since="2.0.0",
         summary="Zero the statistics INFO reports", complexity="O(1)")  # fmt: skip
def config_resetstat(c: Client, args: list[bytes]) -> Any:
    node = c.node
    node.stats.reset()
    keyspace = node.keyspace
    keyspace.expired_keys = keyspace.keyspace_hits = keyspace.keyspace_misses = 0
    if hasattr(keyspace, "evicted_keys"):
        keyspace.evicted_keys = 0
    slowlog = getattr(node, "slowlog", None)
    if slowlog is not None:
        slowlog.clear()
    return OK


@command("config|rewrite", 2, "admin noscript loading stale", "", group="server", since="2.8.0",
         summary="Write the running configuration into the config file",
         complexity="O(N) in the number of options")  # fmt: skip
def config_rewrite(c: Client, args: list[bytes]) -> Any:
    """CONFIG REWRITE: changed options are rewritten where they stand, new ones appended."""
    config = c.node.config
    if not config.path:
        raise CommandError(errors.CONFIG_NO_FILE)
    try:
        config.rewrite()
    except OSError as err:
        log.warning("CONFIG REWRITE failed: %s", err)
        raise CommandError(f"ERR Rewriting config file: {err.strerror}") from None
    log.info("CONFIG REWRITE executed with success.")
    return OK


@command("config|help", 2, "loading stale", "", group="server", since="5.0.0",
         summary="Describe the CONFIG subcommands", complexity="O(1)")  # fmt: skip
def config_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("CONFIG", [
        ("GET <pattern>", "The values of the options whose names match the glob-style pattern(s)."),
        ("SET <directive> <value>", "Change options; several directive/value pairs are set all or none."),
        ("RESETSTAT", "Zero the counters INFO reports."),
        ("REWRITE", "Write the running configuration back to the config file."),
    ])  # fmt: skip


# -- SLOWLOG, LATENCY, MEMORY, LOLWUT --------------------------------------------------------------
# Simple but correctly shaped: we keep no slow log and no latency events (the latency
# *histograms* of INFO latencystats are real, and LATENCY HISTOGRAM reports them).

container("slowlog", group="server", since="2.2.12",
          summary="Inspect the log of slow commands", complexity="Depends on the subcommand.")  # fmt: skip


@command("slowlog|get", -2, "admin loading stale", "", group="server", since="2.2.12",
         tips="request_policy:all_nodes nondeterministic_output",
         summary="Entries of the slow log (none are recorded here)", complexity="O(N) in the number of entries")  # fmt: skip
def slowlog_get(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise _subcommand_syntax_error(args)
    if len(args) == 3:
        count = parse_int(args[2], errors.SLOWLOG_COUNT)
        if count < -1:
            raise CommandError(errors.SLOWLOG_COUNT)
    return []


@command("slowlog|len", 2, "admin loading stale", "", group="server", since="2.2.12",
         tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
         summary="How many entries the slow log holds", complexity="O(1)")  # fmt: skip
def slowlog_len(c: Client, args: list[bytes]) -> Any:
    return 0


@command("slowlog|reset", 2, "admin loading stale", "", group="server", since="2.2.12",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Empty the slow log", complexity="O(N) in the number of entries")  # fmt: skip
def slowlog_reset(c: Client, args: list[bytes]) -> Any:
    return OK


@command("slowlog|help", 2, "loading stale", "", group="server", since="6.2.0",
         summary="Describe the SLOWLOG subcommands", complexity="O(1)")  # fmt: skip
def slowlog_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("SLOWLOG", [
        ("GET [<count>]", "The newest <count> entries (10 by default, -1 for all)."),
        ("LEN", "How many entries there are."),
        ("RESET", "Remove every entry."),
    ])  # fmt: skip


container("latency", group="server", since="2.8.13",
          summary="Latency diagnostics", complexity="Depends on the subcommand.")  # fmt: skip

_LATENCY_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"


@command("latency|latest", 2, "admin noscript loading stale", "", group="server", since="2.8.13", tips=_LATENCY_TIPS,
         summary="The latest latency spike of each event", complexity="O(1)")  # fmt: skip
def latency_latest(c: Client, args: list[bytes]) -> Any:
    return []


@command("latency|history", 3, "admin noscript loading stale", "", group="server", since="2.8.13", tips=_LATENCY_TIPS,
         summary="The latency spikes of an event", complexity="O(1)")  # fmt: skip
def latency_history(c: Client, args: list[bytes]) -> Any:
    return []


@command("latency|reset", -2, "admin noscript loading stale", "", group="server", since="2.8.13",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Forget the latency spikes of events", complexity="O(1)")  # fmt: skip
def latency_reset(c: Client, args: list[bytes]) -> Any:
    return 0


@command("latency|doctor", 2, "admin noscript loading stale", "", group="server", since="2.8.13", tips=_LATENCY_TIPS,
         summary="A human-readable latency analysis", complexity="O(1)")  # fmt: skip
def latency_doctor(c: Client, args: list[bytes]) -> Any:
    return Verbatim(b"No latency events are monitored by this server (latency-monitor-threshold has no effect here).\n")


@command("latency|graph", 3, "admin noscript loading stale", "", group="server", since="2.8.13", tips=_LATENCY_TIPS,
         summary="An ASCII graph of an event's latency", complexity="O(1)")  # fmt: skip
def latency_graph(c: Client, args: list[bytes]) -> Any:
    raise CommandError(errors.latency_no_samples(args[2]))


@command("latency|histogram", -2, "admin noscript loading stale", "", group="server", since="7.0.0", tips=_LATENCY_TIPS,
         summary="Latency histograms of commands", complexity="O(N) in the number of commands")  # fmt: skip
def latency_histogram(c: Client, args: list[bytes]) -> Any:
    """LATENCY HISTOGRAM [command ...]: cumulative counts per power-of-two microsecond bucket."""
    table = c.node.stats.commands
    if len(args) == 2:
        specs = [spec for spec in _specs_in_table_order() if spec.name in table]
    else:
        from .command_info import find_spec

        specs = []
        for name in args[2:]:
            spec = find_spec(name)
            if spec is not None:
                specs.extend([spec] if not spec.subcommands else list(spec.subcommands.values()))
    entries = []
    for spec in specs:
        stats = table.get(spec.name)
        if stats is None or stats.latency is None or not stats.latency.count:
            continue
        entries.append((spec.name.encode(), Map([(b"calls", stats.calls), (b"histogram_usec", Map(_power_buckets(stats.latency)))])))
    return Map(entries)


def _power_buckets(histogram: Any) -> list[tuple[int, int]]:
    """(power-of-two upper bound in usec, how many calls took at most that), as Redis reports."""
    bounds: dict[int, int] = {}
    for bucket, count in histogram.buckets.items():
        top = max(1, int(bucket_top(bucket)))
        bound = 1 << (top - 1).bit_length()
        bounds[bound] = bounds.get(bound, 0) + count
    cumulative, out = 0, []
    for bound in sorted(bounds):
        cumulative += bounds[bound]
        out.append((bound, cumulative))
    return out


@command("latency|help", 2, "loading stale", "", group="server", since="2.8.13",
         summary="Describe the LATENCY subcommands", complexity="O(1)")  # fmt: skip
def latency_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("LATENCY", [
        ("DOCTOR", "An analysis of the latency events."),
        ("GRAPH <event>", "An ASCII graph of an event's latency samples."),
        ("HISTORY <event>", "The latency samples of an event."),
        ("LATEST", "The latest sample of every event."),
        ("RESET [<event> ...]", "Forget the samples of the given events, or of all of them."),
        ("HISTOGRAM [<command> ...]", "Latency histograms of the given commands, or of all of them."),
    ])  # fmt: skip


container("memory", group="server", since="4.0.0",
          summary="Memory diagnostics", complexity="Depends on the subcommand.")  # fmt: skip

_MEMORY_TIPS = "nondeterministic_output request_policy:all_shards response_policy:special"


@command("memory|usage", -3, "readonly", "", keys=[KeySpec("RO", index=2)], group="server", since="4.0.0",
         summary="An estimate of the memory a key and its value use",
         complexity="O(N) in the number of sampled elements")  # fmt: skip
def memory_usage(c: Client, args: list[bytes]) -> Any:
    """MEMORY USAGE key [SAMPLES count]: an estimate from the value's size (not allocator truth)."""
    if len(args) == 5 and args[3].lower() == b"samples":
        if parse_int(args[4]) < 0:
            raise CommandError(errors.SYNTAX)
    elif len(args) != 3:
        raise CommandError(errors.SYNTAX)
    value = c.db.peek(args[2]) if hasattr(c.db, "peek") else c.db.get(args[2])
    if value is None:
        return None
    return 48 + len(args[2]) + _approx_size(value) + (0 if type(value) is bytes else 16 * len(value))


@command("memory|doctor", 2, "", "", group="server", since="4.0.0", tips=_MEMORY_TIPS,
         summary="A human-readable memory analysis", complexity="O(1)")  # fmt: skip
def memory_doctor(c: Client, args: list[bytes]) -> Any:
    return Verbatim(b"No memory problems detected (this server keeps no allocator statistics).\n")


@command("memory|stats", 2, "", "", group="server", since="4.0.0", tips=_MEMORY_TIPS,
         summary="Memory usage details", complexity="O(1)")  # fmt: skip
def memory_stats(c: Client, args: list[bytes]) -> Any:
    rss = _rss_bytes()
    peak = max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    dbs = [(f"db.{db.index}".encode(), Map([(b"overhead.hashtable.main", 0), (b"overhead.hashtable.expires", 0)]))
           for db in c.node.keyspace.databases if db.data]  # fmt: skip
    keys = sum(len(db.data) for db in c.node.keyspace.databases)
    return Map([
        (b"peak.allocated", peak), (b"total.allocated", rss), (b"startup.allocated", 0),
        (b"replication.backlog", 0), (b"clients.slaves", 0), (b"clients.normal", 0), (b"cluster.links", 0),
        (b"aof.buffer", 0), (b"lua.caches", 0), (b"functions.caches", 0), *dbs,
        (b"overhead.total", 0), (b"keys.count", keys), (b"keys.bytes-per-key", rss // keys if keys else 0),
        (b"dataset.bytes", rss), (b"dataset.percentage", Double(100.0)), (b"peak.percentage", Double(100.0 * rss / peak)),
        (b"allocator.allocated", rss), (b"allocator.active", rss), (b"allocator.resident", rss),
        (b"allocator-fragmentation.ratio", Double(1.0)), (b"allocator-fragmentation.bytes", 0),
        (b"allocator.rss-ratio", Double(1.0)), (b"allocator.rss-bytes", 0), (b"rss-overhead.ratio", Double(1.0)),
        (b"rss-overhead.bytes", 0), (b"fragmentation", Double(1.0)), (b"fragmentation.bytes", 0),
    ])  # fmt: skip


@command("memory|malloc-stats", 2, "", "", group="server", since="4.0.0", tips=_MEMORY_TIPS,
         summary="Allocator statistics", complexity="Depends on the allocator")  # fmt: skip
def memory_malloc_stats(c: Client, args: list[bytes]) -> Any:
    return Verbatim(b"Stats not supported for the current allocator\n")


@command("memory|purge", 2, "", "", group="server", since="4.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Ask the allocator to release memory", complexity="Depends on the allocator")  # fmt: skip
def memory_purge(c: Client, args: list[bytes]) -> Any:
    return OK


@command("memory|help", 2, "loading stale", "", group="server", since="4.0.0",
         summary="Describe the MEMORY subcommands", complexity="O(1)")  # fmt: skip
def memory_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("MEMORY", [
        ("DOCTOR", "An analysis of the memory use."),
        ("MALLOC-STATS", "Allocator statistics."),
        ("PURGE", "Ask the allocator to release memory."),
        ("STATS", "Memory usage details."),
        ("USAGE <key> [SAMPLES <count>]", "An estimate of the bytes a key and its value use."),
    ])  # fmt: skip


@command("lolwut", -1, "readonly fast", "", group="server", since="5.0.0",
         summary="The server's version, with computer art in real Redis", complexity="O(1)")  # fmt: skip
def lolwut(c: Client, args: list[bytes]) -> Any:
    """LOLWUT [VERSION v]: only the version line (Redis's art is its own work)."""
    if len(args) >= 3 and args[1].lower() == b"version":
        parse_int(args[2])
    return Verbatim(f"Redis ver. {REDIS_VERSION}\n".encode())
