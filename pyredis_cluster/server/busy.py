"""The busy gate: one client's command has the node to itself until it ends (MIGRATE).

Theory of operation
-------------------
Redis 7.0 runs MIGRATE synchronously: it talks to the target over a blocking socket,
so its event loop, and every other client, waits until the target has answered. For
clients the command is therefore atomic: nobody sees or changes the keys half way.

Our node cannot block its event loop: in the in-process test double every node of a
cluster shares that loop, so the target could never answer, and the node's own
cluster bus and replication links must keep running (a real Redis keeps its
*process* alive too; only its command processing stops). So the network exchange
runs as an asyncio task, and meanwhile the node is **busy**: ``node.busy`` holds a
:class:`BusyGate`, and the dispatch pipeline's first step
(:func:`~.dispatch.process_command`) holds the command of every other client instead
of running it:

* the held client is blocked like a BLPOP on no key (``Blocked([], 0, None)``,
  through the usual :class:`~.blocking.BlockingManager`), so its connection stops
  reading commands: what it pipelined behind stays in its parser; a new connection is
  accepted and its first command is held the same way;
* the owner of the gate (the MIGRATE caller) is blocked too, on the Blocked its
  handler returned, until :meth:`BusyGate.finish`;
* the connection from our primary (on a replica) is never held: the replication
  stream applies as it arrives, as the bus keeps running (a replica refuses MIGRATE
  anyway, unless replica-read-only is off);
* timers that would answer a client (a BLPOP timeout) are postponed to the end
  (:meth:`BusyGate.defer`), and the cron's active expiry pauses, because Redis's cron
  does not run during a MIGRATE either (the keys in flight cannot expire under it).

:meth:`BusyGate.finish` ends it in Redis's order: the command's last effects (MIGRATE:
delete the acknowledged keys) run inside a replication frame, as if still inside
``dispatch.call``, so what they propagate (``DEL``) goes out exactly as from a
command; then the owner gets its reply and its pipelined commands run (the rest of
its query buffer, as Redis's processInputBuffer goes on with it); then the deferred
timers; then the held commands through the whole pipeline again, in arrival order. A
command that makes the node busy again meanwhile (a second MIGRATE, pipelined by the
owner or held) holds the ones after it, in the same order. Commands released by
other means while busy (the end of a CLIENT PAUSE) go through the gate too.

The owner may leave meanwhile (it disconnects, or the harness closes its connection;
a CLIENT KILL sent by another client is itself held, so it lands after the reply):
the command still finishes, its effects still happen, the reply is dropped, and the
gate is released. A node that closes cancels the command (:meth:`BusyGate.close`):
the process "died" mid-command; the held clients are being disconnected anyway.

Cost when idle: one attribute test per command (``c.node.busy``, about 18 ns, ~1% of
a GET's trip through the pipeline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..protocol.encoder import ErrorReply
from .client import Blocked, Client
from .errors import INTERNAL_ERROR, CommandError

if TYPE_CHECKING:
    from .command_table import CommandSpec
    from .node import Node

log = logging.getLogger("pyredis_cluster")


class BusyGate:
    """``node.busy`` while ``owner``'s command (``spec``/``args``) runs its network part."""

    def __init__(self, owner: Client, spec: CommandSpec, args: list[bytes], blocked: Blocked) -> None:
        node = owner.node
        assert node.busy is None, "one busy command at a time: others are held by the gate"
        self.node: Node = node
        self.owner = owner
        self.spec = spec
        self.args = args
        #: the Blocked the owner's handler returned: the owner waits on it until finish()
        self.blocked = blocked
        #: held commands of other clients, in arrival order, each with the Blocked that holds it
        self.held: list[tuple[Client, list[bytes], Blocked]] = []
        self.deferred: list[Callable[[], None]] = []
        self.task: asyncio.Task[None] | None = None
        node.busy = self

    # -- while busy ------------------------------------------------------------------------

    def hold(self, c: Client, args: list[bytes]) -> Blocked:
        """Keep ``c``'s command for later; ``c`` is blocked until :meth:`finish`."""
        blocked = Blocked([], 0, None)
        spec = _spec_or_none(args)
        self.node.blocking.block(c, spec, args, blocked)  # type: ignore[arg-type]
        self.held.append((c, args, blocked))
        return blocked

    def defer(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the gate is released (a timer that would answer a client)."""
        self.deferred.append(callback)

    def run(self, work: Coroutine[Any, Any, Callable[[], Any]]) -> None:
        """Run ``work`` on the loop; it returns the command's final step, given to :meth:`finish`."""

        async def runner() -> None:
            try:
                final_step = await work
            except asyncio.CancelledError:
                self.abort()
                raise
            except Exception:  # a bug of ours must not leave the node busy forever
                log.exception("internal error while running %r", self.args[:8])
                self.finish(lambda: ErrorReply(INTERNAL_ERROR))
                return
            self.finish(final_step)

        self.task = asyncio.get_running_loop().create_task(runner())

    # -- the end ---------------------------------------------------------------------------

    def finish(self, final_step: Callable[[], Any]) -> None:
        """Run the command's last effects, answer the owner, then let everybody else in."""
        node, owner = self.node, self.owner
        reply = _in_command_frame(owner, self.spec, self.args, final_step)
        node.busy = None
        if owner.blocked is self.blocked:  # else it left: the reply is dropped
            node.blocking.unblock(owner)
            if type(reply) is ErrorReply:
                node.stats.record_failed(self.spec, reply)
            owner.reply(reply)
            owner.on_unblocked()  # its pipelined commands: scheduled first (call_soon)
        # call_soon, not a timer: FIFO behind the owner's pipeline (scheduled just above) and
        # ahead of any input that arrives meanwhile, so nobody overtakes the held commands.
        asyncio.get_running_loop().call_soon(self._release)

    def abort(self) -> None:
        """Release the gate without an end: the command never answers, nothing held runs
        (the node is closing, its clients are being disconnected)."""
        if self.node.busy is self:
            self.node.busy = None
        self.held.clear()
        self.deferred.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def close(self) -> None:
        """The node closes: cancel the command, as if the process died in the middle of it."""
        self.abort()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _release(self) -> None:

        node = self.node
        deferred, self.deferred = self.deferred, []
        for callback in deferred:
            callback()
        held, self.held = self.held, []
        for index, (client, args, blocked) in enumerate(held):
            if node.busy is not None:
                # A held command (a second MIGRATE) made the node busy again: the rest
                # wait for that one, ahead of anything held since.
                node.busy.held[:0] = [entry for entry in held[index:] if _still_waiting(entry)]
                return
            if _still_waiting((client, args, blocked)):
                node.blocking.rerun(client, args)


def _still_waiting(entry: tuple[Client, list[bytes], Blocked]) -> bool:
    client, _, blocked = entry
    return not client.killed and client.blocked is blocked


def _spec_or_none(args: list[bytes]) -> CommandSpec | None:
    """The held command's spec, for CLIENT LIST's cmd= and CLIENT UNBLOCK (None if unknown)."""
    from .command_table import lookup

    return lookup(args[0]) if args else None


def _in_command_frame(c: Client, spec: CommandSpec, args: list[bytes], step: Callable[[], Any]) -> Any:
    """Run ``step`` as the end of ``c``'s command: what it propagates (``c.propagate_as``)
    reaches replicas as from inside ``dispatch.call``; its own args are never propagated."""
    node = c.node
    node.keyspace.now_ms = int(time.time() * 1000)
    feed = node.repl_feed
    if feed is not None:
        feed.enter()
    try:
        reply = step()
    except CommandError as err:
        reply = err.reply
    except Exception:  # never a traceback to the client, never a node left busy
        log.exception("internal error while finishing %r", args[:8])
        reply = ErrorReply(INTERNAL_ERROR)
    finally:
        if feed is not None:
            feed.leave(c, spec, args, None, False)
    return reply
