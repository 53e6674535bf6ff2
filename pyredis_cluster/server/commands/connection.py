"""Connection commands: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO (and CLIENT)."""

from __future__ import annotations

import hmac
from typing import Any

from ...config import REDIS_VERSION
from ...protocol.encoder import OK, PONG, Map, Status
from .. import errors
from ..args import ArgCursor, parse_int
from ..client import Client, ReplyMode
from ..command_table import command
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
    for table, names in (
        (node.pubsub.channels, c.channels),
        (node.pubsub.patterns, c.patterns),
        (node.pubsub.shard_channels, c.shard_channels),
    ):
        for name in names:
            subscribers = table.get(name)
            if subscribers is not None:
                subscribers.pop(c, None)
                if not subscribers:
                    del table[name]
        names.clear()
    if c in node.monitors:
        node.monitors.remove(c)
    c.is_monitor = False
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
