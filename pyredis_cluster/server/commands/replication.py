"""Replication commands: SYNC, PSYNC, REPLCONF, REPLICAOF/SLAVEOF, WAIT.

The protocol itself (backlog, stream, the replica's link) is in ``server/replication.py``;
these handlers only parse, check and answer with Redis 7.0's replies and errors.
"""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import OK, ErrorReply, Raw, Status
from .. import errors
from ..args import parse_int
from ..client import Blocked, Client, ReplyMode
from ..command_table import command
from ..errors import CommandError
from ..replication import get_replication


def _start_sync(c: Client, replid: str | None, offset: int, psync: bool) -> Any:
    replication = get_replication(c.node)
    if replication.master_host is not None and not replication.link_up:
        return ErrorReply(errors.NOMASTERLINK)
    return Raw(replication.attach(c, replid, offset, psync))


@command("sync", 1, "admin noscript no_async_loading no_multi", "", group="server", since="1.0.0",
         summary="Old full resynchronisation request of a replica", complexity="O(N) in the size of the dataset")  # fmt: skip
def sync(c: Client, args: list[bytes]) -> Any:
    if c.is_master:
        return None
    return _start_sync(c, None, -1, psync=False)


@command("psync", -3, "admin noscript no_async_loading no_multi", "", group="server", since="2.8.0",
         summary="A replica asks for the stream from a replication ID and offset",
         complexity="O(N) in the size of the dataset for a full resync, O(1) plus the backlog otherwise")  # fmt: skip
def psync(c: Client, args: list[bytes]) -> Any:
    if c.is_master:
        return None
    try:
        offset = int(args[2])
    except ValueError:
        offset = -1
    return _start_sync(c, args[1].decode("utf-8", "replace"), offset, psync=True)


@command("replconf", -1, "admin noscript loading stale allow_busy", "", group="server", since="3.0.0",
         summary="Replica/primary handshake options and offset acknowledgements", complexity="O(1)")  # fmt: skip
def replconf(c: Client, args: list[bytes]) -> Any:
    if len(args) % 2 == 0:
        raise CommandError(errors.SYNTAX)
    replication = get_replication(c.node)
    for i in range(1, len(args), 2):
        option, value = args[i].lower(), args[i + 1]
        if option == b"listening-port":
            c.replica_port = parse_int(value)  # type: ignore[attr-defined]
        elif option == b"ip-address":
            c.replica_ip = value.decode("utf-8", "replace")  # type: ignore[attr-defined]
        elif option in (b"capa", b"rdb-only", b"rdb-filter-only"):
            pass  # we always understand EOF-less payloads and PSYNC2
        elif option == b"ack":
            # Acknowledgements get no reply, from anyone.
            try:
                replication.acknowledged(c, int(value))
            except ValueError:
                pass
            c.reply_mode = ReplyMode.SKIP if c.reply_mode is ReplyMode.ON else c.reply_mode
            return None
        elif option == b"getack":
            c.reply_mode = ReplyMode.SKIP if c.reply_mode is ReplyMode.ON else c.reply_mode
            return None  # the replica's link answers GETACK from its primary itself
        else:
            raise CommandError(errors.REPLCONF_UNKNOWN.format(args[i].decode("utf-8", "replace")))
    return OK


def _replicaof(c: Client, args: list[bytes]) -> Any:
    node = c.node
    if node.cluster is not None:
        raise CommandError(errors.REPLICAOF_CLUSTER)
    replication = get_replication(node)
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        replication.stop()
        return OK
    try:
        port = int(args[2])
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise CommandError(errors.INVALID_MASTER_PORT)
    host = args[1].decode("utf-8", "replace")
    if replication.master_host is not None and replication.master_host.lower() == host.lower() and replication.master_port == port:
        return Status("OK Already connected to specified master")
    replication.start(host, port)
    return OK


@command("replicaof", 3, "admin noscript stale no_async_loading", "", group="server", since="5.0.0",
         summary="Make this node a replica of another one, or a primary again (NO ONE)", complexity="O(1)")  # fmt: skip
def replicaof(c: Client, args: list[bytes]) -> Any:
    return _replicaof(c, args)


@command("slaveof", 3, "admin noscript stale no_async_loading", "", group="server", since="1.0.0",
         summary="Old name of REPLICAOF", complexity="O(1)")  # fmt: skip
def slaveof(c: Client, args: list[bytes]) -> Any:
    return _replicaof(c, args)


@command("wait", 3, "noscript", "@connection", group="generic", since="3.0.0",
         tips="request_policy:all_shards response_policy:agg_min",
         summary="Block until enough replicas acknowledged this client's writes, or a timeout",
         complexity="O(1)")  # fmt: skip
def wait(c: Client, args: list[bytes]) -> Any:
    node = c.node
    if node.keyspace.is_replica:
        raise CommandError(errors.WAIT_ON_REPLICA)
    wanted = parse_int(args[1])
    timeout = parse_int(args[2], errors.TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    replication = get_replication(node)
    # The offset this client's writes reach: everything fed so far (a slight
    # over-approximation of Redis's per-client woff, which only makes WAIT stricter).
    target = replication.offset
    acked = replication.replicas_at(target)
    if acked >= wanted or c.in_multi or c.in_exec:
        return acked
    replication.add_waiter(c, target, wanted)
    deadline = node.keyspace.now_ms + timeout if timeout else 0
    return Blocked([], deadline, acked)


@command("role", 1, "noscript loading stale fast", "@admin @dangerous", group="server", since="2.8.12",
         summary="This node's role in replication, with its offsets and replicas or primary",
         complexity="O(1)")  # fmt: skip
def role(c: Client, args: list[bytes]) -> Any:
    replication = get_replication(c.node)
    if replication.master_host is not None:
        state = b"connected" if replication.link_up else b"sync" if replication.sync_in_progress else b"connect"
        return [b"slave", replication.master_host.encode(), replication.master_port, state,
                replication.offset if replication.link_up else -1]  # fmt: skip
    replicas = [[link.ip.encode(), b"%d" % link.port, b"%d" % link.ack_offset]
                for link in replication.replicas if not link.client.killed]  # fmt: skip
    return [b"master", replication.offset, replicas]
