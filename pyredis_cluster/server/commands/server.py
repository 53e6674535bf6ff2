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

import time
from typing import Any

import crcmod

from ...protocol.encoder import OK, Map
from .. import errors
from ..client import Client
from ..command_table import command, container
from ..errors import CommandError

#: The RDB version whose payloads we write and accept (Redis 7.0 writes 10).
RDB_VERSION = 10
#: Redis's CRC64 (Jones polynomial, reflected), used to seal DUMP payloads.
crc64 = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)


def dump_payload_footer(body: bytes) -> bytes:
    """A DUMP-style payload: ``body``, the RDB version (2 bytes LE) and the CRC64 (8 bytes LE)."""
    sealed = body + RDB_VERSION.to_bytes(2, "little")
    return sealed + crc64(sealed).to_bytes(8, "little")


def verify_dump_payload(payload: bytes) -> bool:
    """True if the payload's footer is a known RDB version and its CRC64 matches."""
    if len(payload) < 10:
        return False
    version = int.from_bytes(payload[-10:-8], "little")
    if version > RDB_VERSION:
        return False
    return crc64(payload[:-8]).to_bytes(8, "little") == payload[-8:]


# -- flushing ---------------------------------------------------------------------------


def _flush_mode(args: list[bytes]) -> None:
    """Validate the optional ASYNC|SYNC word (we always flush synchronously)."""
    if len(args) == 2 and args[1].lower() in (b"sync", b"async"):
        return
    if len(args) != 1:
        raise CommandError(errors.SYNTAX)


@command("flushall", -1, "write", "@keyspace", group="server", since="1.0.0",
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


@command("flushdb", -1, "write", "@keyspace", group="server", since="1.0.0",
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
    return dump_payload_footer(b"")


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
    from ...protocol.encoder import Status

    lines = [f"{container_name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for usage, text in entries + [("HELP", "Print this help.")]:
        lines.append(usage)
        lines.append("    " + text)
    return [Status(line) for line in lines]
