"""The command pipeline: from a parsed request to a reply, in Redis's order.

Theory of operation
-------------------
:func:`process_command` is Redis's ``processCommand``: a sequence of gates, each of
which may answer with an error instead of running the command. The order matters and
is Redis's, because clients (and Redis's own tests) observe which error wins:

1. look the command (and subcommand) up in the table: unknown command/subcommand;
2. check the arity;
3. authentication: NOAUTH until AUTH succeeds, except for ``no_auth`` commands;
3b. scripted replies of the test double (testing/faults.py), only while a test has
   scripted some: ``node.scripted_replies`` is None otherwise;
4. cluster routing: MOVED / ASK / CROSSSLOT / TRYAGAIN / CLUSTERDOWN, when cluster
   mode is on (the router is a pure function plugged in by the cluster layer);
4b. maxmemory (only when set): evict keys, or refuse denyoom commands with OOM
   (server/eviction.py); min-replicas-to-write (only when set): NOREPLICAS for writes;
5. a RESP2 client in subscribed state may only run the pub/sub commands;
6. inside MULTI, every command but EXEC/DISCARD/MULTI/WATCH/QUIT/RESET is queued;
   a command refused by gates 1-4 flags the transaction so EXEC answers EXECABORT;
7. :func:`call` runs the handler with the time frozen for the command's duration,
   turns a :class:`~.errors.CommandError` into an error reply, and never lets any
   other exception reach the client as a traceback.

Before all of them, gate 0: while the node is busy with a MIGRATE (server/busy.py),
every other client's command is held, untouched, and runs through this pipeline when
the MIGRATE ends, as a Redis blocked in MIGRATE reads nothing meanwhile.

After a command, clients blocked on keys it made ready are served (in the order they
blocked), before the next command runs, as Redis does.
"""

from __future__ import annotations

import logging
import time
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..protocol.encoder import QUEUED, ErrorReply
from . import errors
from .client import Blocked, Client
from .command_table import CommandSpec, lookup
from .eviction import perform_evictions
from .extensions import find_extension

if TYPE_CHECKING:
    pass

log = logging.getLogger("pyredis_cluster")

#: Commands a RESP2 client may send while subscribed to channels or patterns.
_SUBSCRIBED_ALLOWED = frozenset(
    {"ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "quit", "reset"}
)
#: Commands that run at once inside MULTI instead of being queued.
_NOT_QUEUED = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})


def resolve(args: list[bytes]) -> CommandSpec | ErrorReply:
    """Find the spec for a request (with its subcommand) and check the arity."""
    spec = lookup(args[0])
    if spec is None:
        return ErrorReply(errors.unknown_command(args[0], args[1:]))
    # A container called alone is checked against its own arity, as Redis does:
    # CONFIG alone is a wrong-arity error, COMMAND alone runs COMMAND's own handler.
    if spec.subcommands and len(args) >= 2:
        sub = spec.subcommands.get(args[1].decode("utf-8", "replace").lower())
        if sub is None:
            return ErrorReply(errors.unknown_subcommand(args[1], spec.name))
        spec = sub
    arity = spec.arity
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        return ErrorReply(errors.wrong_arity(spec.name))
    return spec


def process_command(c: Client, args: list[bytes]) -> Any:
    """Run one request from client ``c``; return the reply (or a :class:`Blocked`)."""
    busy = c.node.busy  # gate 0: a MIGRATE in flight has the node to itself (server/busy.py)
    if busy is not None and not c.is_master:
        return busy.hold(c, args)
    reply = _process_command(c, args)
    if c.asking and not c.in_multi and args[0].lower() != b"asking":
        c.asking = False  # ASKING is one-shot, except that it lasts until EXEC
    return reply


def _process_command(c: Client, args: list[bytes]) -> Any:
    node = c.node
    spec = lookup(args[0])
    # resolve() inlined for the common case, a known command without subcommands and
    # with the right arity (the same test resolve makes); anything else goes through
    # resolve() itself, which gives the error or finds the subcommand.
    if spec is None or spec.subcommands or (spec.arity > 0 and len(args) != spec.arity) or len(args) < -spec.arity:
        spec = resolve(args)
    if type(spec) is ErrorReply:
        extension = find_extension(args[0])  # PYREDIS.* commands, outside the table (extensions.py)
        if extension is not None:
            return extension(c, args)
        return _reject(c, _spec_for_stats(args), spec)
    assert isinstance(spec, CommandSpec)
    name = spec.name

    if not c.authenticated and "no_auth" not in spec.flags:
        return _reject(c, spec, ErrorReply(errors.NOAUTH))

    scripted = node.scripted_replies
    if scripted:  # the test double's scripted errors (testing/faults.py); None in production
        reply = scripted.answer(c, spec, args)
        if reply is not None:  # an error is a gate's refusal; a dropped connection has no reply
            return _reject(c, spec, reply, redirect=True) if type(reply) is ErrorReply else reply

    router = node.cluster_router
    if router is not None and not c.is_master:
        redirect = router(c, spec, args)
        if redirect is not None:
            return _reject(c, spec, redirect, redirect=True)

    config = node.config
    if config.maxmemory and not _memory_allows(c, spec, name):
        return _reject(c, spec, ErrorReply(errors.OOM))
    if config.min_replicas_to_write and not _enough_replicas(c, spec, name):
        return _reject(c, spec, ErrorReply(errors.NOREPLICAS))
    replication = node.replication  # server/replication.py; None until anything replicates
    if replication is not None and replication.refuses_write(c, spec):
        return _reject(c, spec, ErrorReply(errors.READONLY_REPLICA))

    if c.resp == 2 and (c.channels or c.patterns or c.shard_channels):
        base = spec.parent.name if spec.parent else name
        if base not in _SUBSCRIBED_ALLOWED:
            # Redis names the command by its full name here ('config|get').
            return _reject(c, spec, ErrorReply(errors.SUBSCRIBE_CONTEXT.format(name)), flag_multi=False)

    # CLIENT PAUSE: the command waits (the client is blocked) until the pause ends.
    pause = node.client_pause
    if pause is not None and pause.postpones(c, spec):
        return pause.postpone(c, spec, args)

    if c.in_multi and (spec.parent.name if spec.parent else name) not in _NOT_QUEUED:
        if "no_multi" in spec.flags:
            return _reject(c, spec, ErrorReply(errors.NOT_ALLOWED_IN_MULTI))
        c.multi_queue.append((spec, args))
        return QUEUED

    reply = call(c, spec, args)
    if type(reply) is Blocked:
        node.blocking.block(c, spec, args, reply)
    return reply


def _memory_allows(c: Client, spec: CommandSpec, name: str) -> bool:
    """Redis's maxmemory gate: evict if over maxmemory; refuse denyoom commands if still over.

    EXEC counts as denyoom when it would run a denyoom command; inside MULTI every
    command but EXEC/DISCARD/QUIT/RESET is refused (queueing would use memory too).
    """
    if perform_evictions(c.node):
        return True
    if name == "exec":
        return not any("denyoom" in queued.flags for queued, _ in c.multi_queue)
    if c.in_multi and name not in ("discard", "quit", "reset"):
        return False
    return "denyoom" not in spec.flags


def _enough_replicas(c: Client, spec: CommandSpec, name: str) -> bool:
    """min-replicas-to-write: a primary refuses writes without that many good replicas.

    This node never has replicas of its own (there is no replication stream), so with
    min-replicas-to-write set (and min-replicas-max-lag non-zero, as Redis requires)
    every write is refused, EXEC included when it would run one; a replica is exempt.
    """
    if not c.node.config.min_replicas_max_lag or c.node.keyspace.is_replica:
        return True
    if name == "exec":
        return not any("write" in queued.flags for queued, _ in c.multi_queue)
    return "write" not in spec.flags


def _reject(
    c: Client, spec: CommandSpec | None, reply: ErrorReply, flag_multi: bool = True, redirect: bool = False
) -> ErrorReply:
    """A gate refused the command: flag a surrounding MULTI, count a rejected call."""
    if flag_multi and c.in_multi:
        c.multi_error = True
    c.node.stats.record_rejected(spec, reply)
    if spec is not None and spec.name == "exec":
        # Redis's execCommandAbort: a refused EXEC ends the transaction (in MULTI or not)
        # and says why; a cluster redirection only discards it.
        c.reset_multi()
        if not redirect:
            reason = reply[4:] if reply.startswith("ERR ") else reply
            return ErrorReply(errors.EXECABORT_BECAUSE.format(reason))
    return reply


def _spec_for_stats(args: list[bytes]) -> CommandSpec | None:
    """The (sub)command a refused request named, if it exists (for rejected_calls)."""
    spec = lookup(args[0])
    if spec is not None and spec.subcommands and len(args) >= 2:
        return spec.subcommands.get(args[1].decode("utf-8", "replace").lower())
    return spec


def call(c: Client, spec: CommandSpec, args: list[bytes]) -> Any:
    """Execute a resolved command (Redis's ``call()``): used by the pipeline and by EXEC."""
    node = c.node
    keyspace = node.keyspace
    if not c.in_exec:
        keyspace.now_ms = int(time.time() * 1000)
    # A blocked client's command re-run because its keys became ready: Redis counts
    # the call and shows it to MONITOR once, when it first ran.
    reprocessing = c.blocked is not None
    feed = node.repl_feed  # replication (server/replication.py); None: nothing to propagate
    if feed is not None:
        dirty_before = node.dirty
        feed.enter()
    started = perf_counter()
    try:
        reply = spec.handler(c, args)  # type: ignore[misc]
    except errors.CommandError as err:
        reply = err.reply
    except Exception:  # a bug of ours must never reach the client as a traceback
        log.exception("internal error while running %r", args[:8])
        reply = ErrorReply("ERR internal error while executing the command (see the server log)")
    if feed is not None:
        feed.leave(c, spec, args, reply, node.dirty > dirty_before)
    if not reprocessing:
        node.stats.record_call(spec, perf_counter() - started, reply)
        # After running, as Redis 7.0 does: MULTI/EXEC show in order, SELECT shows its new db.
        if node.monitors and "skip_monitor" not in spec.flags and "admin" not in spec.flags:
            node.feed_monitors(c, args)
    elif type(reply) is ErrorReply:
        node.stats.record_failed(spec, reply)
    c.last_command = spec.name
    # The handler may have changed in_exec/in_multi/blocked (EXEC, MULTI): read them again.
    if type(reply) is Blocked and (c.in_exec or c.in_multi):
        return reply.timeout_reply
    if keyspace.ready_keys and not c.in_exec and c.blocked is None:
        node.blocking.serve_ready_keys()
    return reply
