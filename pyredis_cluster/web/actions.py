"""The buttons of the live view: faults and cluster operations, as plain Redis commands.

Theory of operation
-------------------
Every button becomes one or more commands sent to nodes, in the same spelling a
teacher could type in ``redis-cli``, and every command sent is reported back as a
step (``"127.0.0.1:7001 ← CLUSTER FAILOVER: OK"``) that the server also adds to the
timeline, so the page teaches the commands along with the effect.

Faults use ``PYREDIS.FAULT`` (testing/faults.py), which a node refuses unless it was
started with ``enable-test-commands yes``:

=========  ==========================================================================
kill       ``PYREDIS.FAULT KILL``; if refused, ``SHUTDOWN NOSAVE`` (a process node exits)
pause      ``PYREDIS.FAULT PAUSE <ms>``: the node stops answering on both ports
isolate    ``PYREDIS.FAULT ISOLATE``: the node's bus links are cut, clients still reach it
heal       ``PYREDIS.FAULT HEAL`` on every node that answers
=========  ==========================================================================

Operations are Redis's own commands: ``CLUSTER FAILOVER [FORCE|TAKEOVER]`` on a
replica, and **move a slot** the way ``redis-cli --cluster reshard`` moves one:
``CLUSTER SETSLOT <slot> IMPORTING <source>`` on the target, ``... MIGRATING
<target>`` on the source, ``CLUSTER GETKEYSINSLOT`` + ``MIGRATE ... KEYS`` until the
slot is empty on the source, then ``CLUSTER SETSLOT <slot> NODE <target>`` on the
target, the source and every other primary. ``trace`` switches the trace channel on
or off on every node (``PYREDIS.TRACE ON CHANNEL`` / ``PYREDIS.TRACE OFF CHANNEL``).

The clock buttons do what ``python -m pyredis_cluster clock`` (clocktool.py) does, on
every node that answers: ``scale`` sends ``CONFIG SET cluster-time-scale <x>`` (slow
motion), ``freeze`` / ``resume`` / ``advance`` send ``PYREDIS.CLOCK FREEZE`` /
``RESUME`` / ``ADVANCE <ms>``, and ``step`` asks every node ``PYREDIS.CLOCK`` and sends
``PYREDIS.CLOCK STEP`` to the one holding the cluster's oldest message (the choice is
clocktool's :func:`~pyredis_cluster.clocktool.oldest_holder`), so its reply, the
message delivered, lands in the timeline.

A node that is killed closes the connection instead of replying, so ``kill`` counts a
closed connection as success, and therefore first checks with ``PING`` that the node
answers at all. A refused command raises :class:`ActionError` with the node's own error text, which
the page shows; the steps done before it stay in the result.

MIGRATE is atomic, as in Redis: the source serves no other client until the target has
answered. Our nodes wait without blocking the event loop (``server/busy.py``), so a
slot with keys moves between nodes of one in-process harness cluster as well as
between node processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..clocktool import clock_fields, oldest_holder
from .model import SLOT_COUNT, Role, Snapshot
from .poller import text

#: Sends one command to one node address and returns the reply.
Sender = Callable[..., Awaitable[Any]]
#: Keys moved per MIGRATE, as redis-cli's default pipeline.
MIGRATE_BATCH = 10
MIGRATE_TIMEOUT_MS = 5000
DEFAULT_PAUSE_MS = 10000
DEFAULT_ADVANCE_MS = 100  # one cron tick of protocol time


class ActionError(Exception):
    """A button could not do its job; ``str()`` is what the page shows."""


@dataclass
class ActionResult:
    action: str
    steps: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "ok": self.error is None, "steps": self.steps, "error": self.error}


class Actions:
    """Runs one button's commands against the cluster as the latest snapshot shows it."""

    def __init__(self, send: Sender, snapshot: Callable[[], Snapshot],
                 on_step: Callable[[str, str], None] | None = None) -> None:  # fmt: skip
        self._send = send
        self._snapshot = snapshot
        self._on_step = on_step  # (address, step text): the server adds it to the timeline

    async def run(self, request: Mapping[str, Any]) -> ActionResult:
        """Dispatch ``{"action": name, ...arguments}``; never raises for a refused command."""
        name = str(request.get("action", ""))
        handler = _HANDLERS.get(name)
        result = ActionResult(name)
        if handler is None:
            result.error = f"unknown action '{name}' (one of: {', '.join(sorted(_HANDLERS))})"
            return result
        try:
            await handler(self, result, request)
        except ActionError as err:
            result.error = str(err)
        return result

    # -- helpers ------------------------------------------------------------------------

    async def _call(self, result: ActionResult, address: str, *args: str | int | bytes,
                    closes: bool = False) -> Any:  # fmt: skip
        """Send one command, record it as a step; ``closes``: a dropped connection is success."""
        shown = " ".join(text(arg) for arg in args)
        try:
            reply = await self._send(address, *args)
        except ResponseError as err:
            self._step(result, address, f"{shown}: (error) {err}")
            raise ActionError(f"{address} refused {shown}: {err}") from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as err:
            if closes:
                self._step(result, address, f"{shown}: connection closed (the node went away)")
                return None
            self._step(result, address, f"{shown}: no answer ({err})")
            raise ActionError(f"{address} did not answer {shown}: {err}") from None
        except RedisError as err:
            raise ActionError(f"{address}: {shown}: {err}") from None
        self._step(result, address, f"{shown}: {_show_reply(reply)}")
        return reply

    def _step(self, result: ActionResult, address: str, step: str) -> None:
        line = f"{address} ← {step}"
        result.steps.append(line)
        if self._on_step is not None:
            self._on_step(address, line)

    async def _on_every_node(self, result: ActionResult, *args: str | int) -> list[tuple[str, Any]]:
        """Send one command to every node not known to be dead; ``(address, reply)`` of each.

        A refusal does not stop the others (a heal or a resume should reach every node it
        can); the refusals are raised together at the end.
        """
        replies, errors = [], []
        for row in self._snapshot().nodes:
            if row.reachable is False:  # known dead: nothing to tell it
                continue
            try:
                replies.append((row.dialled, await self._call(result, row.dialled, *args)))
            except ActionError as err:
                errors.append(str(err))
        if errors:
            raise ActionError("; ".join(errors))
        return replies

    def _node_address(self, request: Mapping[str, Any]) -> str:
        node_id = str(request.get("node", ""))
        row = self._snapshot().node(node_id)
        if row is None:
            raise ActionError(f"no node with id '{node_id}' in the view")
        return row.dialled

    # -- the buttons --------------------------------------------------------------------

    async def kill(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        address = self._node_address(request)
        # A closed connection counts as success below, so first make sure the node answers:
        # a node that cannot be reached must not be reported as killed.
        try:
            await self._send(address, "PING")
        except RedisError as err:
            raise ActionError(f"{address} does not answer ({err}): nothing to kill") from None
        try:
            await self._call(result, address, "PYREDIS.FAULT", "KILL", closes=True)
        except ActionError:
            # Refused (test commands off, or a real redis-server): a process node can still
            # be stopped for good; SHUTDOWN closes the connection instead of replying.
            await self._call(result, address, "SHUTDOWN", "NOSAVE", closes=True)

    async def pause(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        address = self._node_address(request)
        milliseconds = _int_arg(request, "ms", DEFAULT_PAUSE_MS, minimum=1)
        await self._call(result, address, "PYREDIS.FAULT", "PAUSE", milliseconds)

    async def isolate(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        await self._call(result, self._node_address(request), "PYREDIS.FAULT", "ISOLATE")

    async def heal(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        await self._on_every_node(result, "PYREDIS.FAULT", "HEAL")

    async def failover(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        address = self._node_address(request)
        option = str(request.get("option", "")).upper()
        if option not in ("", "FORCE", "TAKEOVER"):
            raise ActionError(f"failover option must be FORCE or TAKEOVER, not '{option}'")
        await self._call(result, address, "CLUSTER", "FAILOVER", *([option] if option else []))

    async def trace(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        words = ("ON", "CHANNEL") if request.get("on", True) else ("OFF", "CHANNEL")
        await self._on_every_node(result, "PYREDIS.TRACE", *words)

    async def scale(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        factor = request.get("factor")
        try:
            factor_text = format(float(factor), "g")  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise ActionError("'factor' must be a number (1: real time, 10: ten times slower)") from None
        # The node checks the range itself (CONFIG SET's error names it), as from redis-cli.
        await self._on_every_node(result, "CONFIG", "SET", "cluster-time-scale", factor_text)

    async def freeze(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        await self._on_every_node(result, "PYREDIS.CLOCK", "FREEZE")

    async def resume(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        await self._on_every_node(result, "PYREDIS.CLOCK", "RESUME")

    async def advance(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        milliseconds = _int_arg(request, "ms", DEFAULT_ADVANCE_MS, minimum=1)
        await self._on_every_node(result, "PYREDIS.CLOCK", "ADVANCE", milliseconds)

    async def step(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        replies = await self._on_every_node(result, "PYREDIS.CLOCK")
        holder = oldest_holder((address, clock_fields(reply)) for address, reply in replies)
        if holder is None:
            raise ActionError("no node holds a message: freeze the cluster, then advance its time")
        await self._call(result, holder, "PYREDIS.CLOCK", "STEP")

    async def move_slot(self, result: ActionResult, request: Mapping[str, Any]) -> None:
        snapshot = self._snapshot()
        slot = _int_arg(request, "slot", None, minimum=0)
        if slot >= SLOT_COUNT:
            raise ActionError(f"slot must be below {SLOT_COUNT}")
        target = snapshot.node(str(request.get("target", "")))
        if target is None or target.role is not Role.PRIMARY:
            raise ActionError("the target must be a primary of the cluster")
        source_id = snapshot.owners[slot]
        source = snapshot.node(source_id) if source_id else None
        if source is None:
            raise ActionError(f"slot {slot} has no owner to move it from")
        if source.id == target.id:
            raise ActionError(f"slot {slot} is already served by {target.address}")
        await self._call(result, target.dialled, "CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
        await self._call(result, source.dialled, "CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)
        # MIGRATE dials the target from the source: the address the cluster announces, as redis-cli.
        target_host, target_port = target.address.rsplit(":", 1)
        while True:
            keys = await self._call(result, source.dialled, "CLUSTER", "GETKEYSINSLOT", slot, MIGRATE_BATCH)
            if not keys:
                break
            await self._call(result, source.dialled, "MIGRATE", target_host, target_port, "", 0,
                             MIGRATE_TIMEOUT_MS, "KEYS", *keys)  # fmt: skip
        others = [row for row in snapshot.nodes if row.role is Role.PRIMARY and row.reachable is not False
                  and row.id not in (source.id, target.id)]  # fmt: skip
        for row in [target, source, *others]:
            await self._call(result, row.dialled, "CLUSTER", "SETSLOT", slot, "NODE", target.id)


_HANDLERS: dict[str, Callable[[Actions, ActionResult, Mapping[str, Any]], Awaitable[None]]] = {
    "kill": Actions.kill,
    "pause": Actions.pause,
    "isolate": Actions.isolate,
    "heal": Actions.heal,
    "failover": Actions.failover,
    "move_slot": Actions.move_slot,
    "trace": Actions.trace,
    "scale": Actions.scale,
    "freeze": Actions.freeze,
    "resume": Actions.resume,
    "advance": Actions.advance,
    "step": Actions.step,
}


def _int_arg(request: Mapping[str, Any], name: str, default: int | None, *, minimum: int) -> int:
    value = request.get(name, default)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ActionError(f"'{name}' must be an integer") from None
    if number < minimum:
        raise ActionError(f"'{name}' must be at least {minimum}")
    return number


def _show_reply(reply: Any) -> str:
    if reply is None:
        return "(nil)"
    if isinstance(reply, list):
        return f"{len(reply)} item(s)"
    if isinstance(reply, bool):
        return "OK" if reply else "(false)"
    return text(reply)
