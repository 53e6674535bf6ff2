"""Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.

Theory of operation
-------------------
The tables and the delivery live in :mod:`..pubsub`; this module is the command
surface. The (un)subscribe commands answer with one push per name (see
:class:`~..pubsub.PubSub`) and no regular reply, so their handlers return
:data:`NO_REPLY` (an empty raw reply). Pushes go straight to the client's output, so
inside MULTI/EXEC they land in the EXEC reply in command order, as in Redis, and
CLIENT REPLY OFF does not silence them.

Which commands a subscribed client may still send is the dispatch pipeline's business
(RESP2 only; RESP3 clients may run anything while subscribed).

SSUBSCRIBE refuses to run inside EXEC ("DENY BLOCKING client"), while SUBSCRIBE and
PSUBSCRIBE are allowed there, for backward compatibility, as in Redis 7.0.

Sharded pub/sub is node-local for now; in cluster mode the router sends SSUBSCRIBE and
SPUBLISH to the slot owner of the channel (their key specs mark the channels as
``not_key`` keys, so routing and CROSSSLOT come from the command table).
"""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import Raw
from .. import errors
from ..client import Client
from ..command_table import KeySpec, command, container
from ..errors import CommandError
from .server import help_reply

#: What a command whose answer was sent as pushes returns: nothing more to write.
NO_REPLY = Raw(b"")


@command("subscribe", -2, "pubsub noscript loading stale", "",
         group="pubsub", since="2.0.0",
         summary="Listen for messages published to the given channels",
         complexity="O(N) where N is the number of channels to subscribe to.")  # fmt: skip
def subscribe(c: Client, args: list[bytes]) -> Any:
    pubsub = c.node.pubsub
    for channel in args[1:]:
        pubsub.subscribe(c, channel)
    return NO_REPLY


@command("unsubscribe", -1, "pubsub noscript loading stale", "",
         group="pubsub", since="2.0.0",
         summary="Stop listening to the given channels, or to all of them",
         complexity="O(N) where N is the number of channels named (or subscribed to, without names).")  # fmt: skip
def unsubscribe(c: Client, args: list[bytes]) -> Any:
    c.node.pubsub.unsubscribe(c, args[1:])
    return NO_REPLY


@command("psubscribe", -2, "pubsub noscript loading stale", "",
         group="pubsub", since="2.0.0",
         summary="Listen for messages published to channels matching the given glob patterns",
         complexity="O(N) where N is the number of patterns to subscribe to.")  # fmt: skip
def psubscribe(c: Client, args: list[bytes]) -> Any:
    pubsub = c.node.pubsub
    for pattern in args[1:]:
        pubsub.psubscribe(c, pattern)
    return NO_REPLY


@command("punsubscribe", -1, "pubsub noscript loading stale", "",
         group="pubsub", since="2.0.0",
         summary="Stop listening to the given patterns, or to all of them",
         complexity="O(N+M) where N is the number of patterns the client has and M the number of patterns on the server.")  # fmt: skip
def punsubscribe(c: Client, args: list[bytes]) -> Any:
    c.node.pubsub.punsubscribe(c, args[1:])
    return NO_REPLY


@command("ssubscribe", -2, "pubsub noscript loading stale", "",
         keys=[KeySpec("not_key", index=1, lastkey=-1)],
         group="pubsub", since="7.0.0",
         summary="Listen for messages published to the given shard channels",
         complexity="O(N) where N is the number of shard channels to subscribe to.")  # fmt: skip
def ssubscribe(c: Client, args: list[bytes]) -> Any:
    if c.in_exec:
        # Redis refuses it to a client that must get one reply per command (EXEC, scripts).
        raise CommandError(errors.DENY_BLOCKING_SUBSCRIBE.format("SSUBSCRIBE"))
    pubsub = c.node.pubsub
    for channel in args[1:]:
        pubsub.ssubscribe(c, channel)
    return NO_REPLY


@command("sunsubscribe", -1, "pubsub noscript loading stale", "",
         keys=[KeySpec("not_key", index=1, lastkey=-1)],
         group="pubsub", since="7.0.0",
         summary="Stop listening to the given shard channels, or to all of them",
         complexity="O(N) where N is the number of shard channels named (or subscribed to, without names).")  # fmt: skip
def sunsubscribe(c: Client, args: list[bytes]) -> Any:
    c.node.pubsub.sunsubscribe(c, args[1:])
    return NO_REPLY


@command("publish", 3, "pubsub loading stale fast", "",
         group="pubsub", since="2.0.0",
         summary="Post a message to a channel",
         complexity="O(N+M) where N is the number of subscribers of the channel and M the number of patterns on the server.")  # fmt: skip
def publish(c: Client, args: list[bytes]) -> Any:
    return c.node.publish(args[1], args[2])


@command("spublish", 3, "pubsub loading stale fast", "",
         keys=[KeySpec("not_key", index=1)],
         group="pubsub", since="7.0.0",
         summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of subscribers of the shard channel.")  # fmt: skip
def spublish(c: Client, args: list[bytes]) -> Any:
    return c.node.publish(args[1], args[2], sharded=True)


container("pubsub", group="pubsub", since="2.8.0",
          summary="Introspection of the pub/sub state", complexity="Depends on the subcommand.")  # fmt: skip


def _optional_pattern(args: list[bytes]) -> bytes | None:
    """The pattern of CHANNELS / SHARDCHANNELS (at most one; more is a syntax error)."""
    if len(args) > 3:
        raise CommandError(errors.subcommand_syntax(args[1], args[0]))
    return args[2] if len(args) == 3 else None


@command("pubsub|channels", -2, "pubsub loading stale", "",
         group="pubsub", since="2.8.0",
         summary="List the channels that have subscribers, optionally those matching a pattern",
         complexity="O(N) where N is the number of active channels (pattern matching assumed cheap).")  # fmt: skip
def pubsub_channels(c: Client, args: list[bytes]) -> Any:
    pubsub = c.node.pubsub
    return pubsub.matching(pubsub.channels, _optional_pattern(args))


@command("pubsub|shardchannels", -2, "pubsub loading stale", "",
         group="pubsub", since="7.0.0",
         summary="List the shard channels that have subscribers, optionally those matching a pattern",
         complexity="O(N) where N is the number of active shard channels (pattern matching assumed cheap).")  # fmt: skip
def pubsub_shardchannels(c: Client, args: list[bytes]) -> Any:
    pubsub = c.node.pubsub
    return pubsub.matching(pubsub.shard_channels, _optional_pattern(args))


def _subscriber_counts(table: dict[bytes, Any], names: list[bytes]) -> list[Any]:
    """NUMSUB's flat array: each name followed by its subscriber count (an array in RESP3 too)."""
    reply: list[Any] = []
    for name in names:
        reply.append(name)
        reply.append(len(table.get(name, ())))
    return reply


@command("pubsub|numsub", -2, "pubsub loading stale", "",
         group="pubsub", since="2.8.0",
         summary="Count the subscribers of the given channels (pattern subscribers excluded)",
         complexity="O(N) for the N channels named.")  # fmt: skip
def pubsub_numsub(c: Client, args: list[bytes]) -> Any:
    return _subscriber_counts(c.node.pubsub.channels, args[2:])


@command("pubsub|shardnumsub", -2, "pubsub loading stale", "",
         group="pubsub", since="7.0.0",
         summary="Count the subscribers of the given shard channels",
         complexity="O(N) for the N shard channels named.")  # fmt: skip
def pubsub_shardnumsub(c: Client, args: list[bytes]) -> Any:
    return _subscriber_counts(c.node.pubsub.shard_channels, args[2:])


@command("pubsub|numpat", 2, "pubsub loading stale", "",
         group="pubsub", since="2.8.0",
         summary="Count the distinct patterns that have subscribers",
         complexity="O(1)")  # fmt: skip
def pubsub_numpat(c: Client, args: list[bytes]) -> Any:
    return len(c.node.pubsub.patterns)


@command("pubsub|help", 2, "loading stale", "",
         group="pubsub", since="6.2.0",
         summary="Describe the PUBSUB subcommands", complexity="O(1)")  # fmt: skip
def pubsub_help(c: Client, args: list[bytes]) -> Any:
    return help_reply("PUBSUB", [
        ("CHANNELS [<pattern>]", "List the channels with subscribers, those matching <pattern> if given."),
        ("NUMPAT", "Count the patterns that have subscribers."),
        ("NUMSUB [<channel> ...]", "Count the subscribers of each channel (pattern subscribers excluded)."),
        ("SHARDCHANNELS [<pattern>]", "List the shard channels with subscribers, those matching <pattern> if given."),
        ("SHARDNUMSUB [<shardchannel> ...]", "Count the subscribers of each shard channel."),
    ])  # fmt: skip
