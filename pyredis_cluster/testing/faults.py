"""Faults on demand for a cluster of our nodes: broken nodes, cut or slow links, scripted errors.

Theory of operation
-------------------
Every fault lives on the node it changes, in one :class:`NodeFaults` object per node
(:func:`faults_of`), so the Python API of the harness (``cluster.kill(node)``,
``cluster.partition(...)``...) and the ``PYREDIS.FAULT`` admin command a node answers
over RESP are the same code. Each fault is undone cleanly.

**Node faults**

* ``kill``: the node stops at once, as if its process died. In-process, it is closed:
  both listeners, every client connection and every bus link, its timers stop. A node
  that is a whole process (``python -m pyredis_cluster``) exits without saving
  (``os._exit``). Peers see their links break and, after ``cluster-node-timeout``,
  flag it PFAIL then FAIL. Killed is final for that :class:`Node` object (the harness's
  ``restart`` builds a new one from its nodes.conf).
* ``pause`` / ``resume``: the node stops answering on both ports, as under SIGSTOP.
  Its two crons stop (no PINGs, no failure detection, no expiry); every client
  connection, open or opened during the pause, stops having its commands run
  (requests pile up and are served, in order, on ``resume``); its bus links stop
  being read (``pause_reading``: peers' packets wait in the socket buffers and are
  read on ``resume``, as after SIGCONT); a link a peer opens during the pause is paused
  as the bus registers it, before its first read (the bus's ``links`` table is swapped
  for one that pauses what is added to it, and given back on ``resume``). ``pause(ms)``
  resumes by itself after ``ms``.
* ``slow(seconds)``: every reply to a client reaches its socket that much later (order
  kept); ``close_clients`` closes every client connection.

**Network faults** (:class:`BusFaults`, installed as the bus's ``receive_hook`` and
``send_hook`` while any is on, removed when the last one is healed). Rules are per peer
node id and direction, seen from the node that holds them:

* ``drop(peer, IN)``: packets whose header names ``peer`` as sender are discarded on
  arrival, unseen by the core (lost on the wire: not even counted as received);
  ``drop(peer, OUT)``: packets to ``peer`` (on any link bound to it) are never written.
* ``delay(peer, seconds, IN|OUT)``: the same packets are held, in a FIFO per link, and
  handed back that much later (an incoming one to the core, an outgoing one to the
  socket). A packet never overtakes an earlier one on its link, and nothing is released
  while the node is paused.
* ``isolate``: every packet, both ways, to and from everyone (nodes met later too).
* ``heal``: removes every rule; packets still held are released at once, in order.

Delays are wall-clock time (the loop's timers), also in a cluster whose protocol time is
scaled or manual (timecontrol.py); drops work the same in every mode.

A partition of a cluster is DROP rules on each node for the peers in other groups
(:meth:`ClusterFaults.partition` in-process, :func:`partition_over_resp` for nodes in
other processes).

**Scripted replies** (:class:`ScriptedReplies`, one table per node, consulted by the
dispatch pipeline after authentication and before the cluster routing gate): a rule
answers the next N matching requests (or every one until cleared) with one of
Redis's own error texts (``MOVED``, ``ASK``, ``TRYAGAIN``, ``CLUSTERDOWN``,
``LOADING``, ``BUSY``, ``READONLY``) or drops the connection without a reply
(``DROP``). A rule matches a key, a slot, a command name, or (none given) any command
that has keys. The table is ``None`` on a node until a rule is added, so production
dispatch pays one falsy attribute test. The rules count their ``hits``.

**PYREDIS.FAULT**, refused unless the node was started with ``enable-test-commands yes``
(it cannot be switched on at run time)::

    PYREDIS.FAULT KILL                                  -> no reply: the node is gone
    PYREDIS.FAULT PAUSE <ms>                            -> OK, then silence for ms
    PYREDIS.FAULT ISOLATE | HEAL                        -> OK
    PYREDIS.FAULT DROP <node-id> [IN|OUT|BOTH]          -> OK (default BOTH)
    PYREDIS.FAULT DELAY <node-id> <ms> [IN|OUT|BOTH]    -> OK (default BOTH)
    PYREDIS.FAULT SLOW <ms>                             -> OK (0: back to normal)
    PYREDIS.FAULT CLOSE-CLIENTS                         -> the number closed (this one after the reply)
    PYREDIS.FAULT REPLY <kind> [KEY k | SLOT s | COMMAND name] [TIMES n] [TARGET host:port]
    PYREDIS.FAULT CLEAR                                 -> the number of scripted rules removed
    PYREDIS.FAULT LIST                                  -> one line per rule, then per fault

PYREDIS.FAULT is not in the command table (COMMAND, COMMAND COUNT and ACL stay
Redis's): it is registered in ``server/extensions.py``.
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cluster.nodes import NodeFlags
from ..cluster.slots import key_hash_slot
from ..protocol.encoder import OK, ErrorReply, Raw
from ..server import errors
from ..server.args import ArgCursor, parse_int
from ..server.errors import CommandError

if TYPE_CHECKING:
    from ..cluster.bus import ClusterBus
    from ..cluster.effects import LinkId
    from ..server.client import Client
    from ..server.command_table import CommandSpec
    from ..server.node import Node

HOST = "127.0.0.1"
_POLL_SECONDS = 0.002

#: Scripted reply kinds and their fixed texts (MOVED and ASK are built per request).
_FIXED_TEXTS = {
    "TRYAGAIN": errors.TRYAGAIN,
    "CLUSTERDOWN": errors.CLUSTERDOWN_STATE,
    "LOADING": errors.LOADING,
    "BUSY": errors.BUSY_SCRIPT,
    "READONLY": errors.READONLY_REPLICA,
}
_REDIRECTS = {"MOVED": errors.MOVED, "ASK": errors.ASK}
KINDS = frozenset({*_FIXED_TEXTS, *_REDIRECTS, "DROP"})


class WaitTimeout(TimeoutError):
    """A wait of the test double ran out of time; the message says what was awaited."""


#: The name the first fault waits used (kept: tests and users catch it).
FaultTimeout = WaitTimeout


# ----------------------------------------------------------------------------
# Scripted replies
# ----------------------------------------------------------------------------
@dataclass
class ScriptedRule:
    kind: str  # one of KINDS
    key: bytes | None = None
    slot: int | None = None
    command: str | None = None  # lower-case command name ("set", "cluster")
    times: int | None = None  # None: until cleared
    target: str | None = None  # "host:port" for MOVED / ASK
    hits: int = 0

    def matches(self, name: str, keys: Callable[[], list[bytes]]) -> bool:
        if self.command is not None and self.command != name:
            return False
        if self.key is not None:
            return self.key in keys()
        if self.slot is not None:
            return any(key_hash_slot(key) == self.slot for key in keys())
        return self.command is not None or bool(keys())

    def describe(self) -> str:
        parts = [self.kind]
        if self.key is not None:
            parts.append(f"key={self.key.decode('utf-8', 'replace')}")
        if self.slot is not None:
            parts.append(f"slot={self.slot}")
        if self.command is not None:
            parts.append(f"command={self.command}")
        if self.target is not None:
            parts.append(f"target={self.target}")
        parts.append(f"times={'forever' if self.times is None else self.times}")
        parts.append(f"hits={self.hits}")
        return " ".join(parts)


class ScriptedReplies:
    """One node's rule table (``node.scripted_replies``); falsy when it has no rule."""

    def __init__(self) -> None:
        self.rules: list[ScriptedRule] = []

    def __bool__(self) -> bool:
        return bool(self.rules)

    def add(self, rule: ScriptedRule) -> ScriptedRule:
        if rule.kind not in KINDS:
            raise ValueError(errors.FAULT_UNKNOWN_KIND.format(rule.kind))
        if rule.kind in _REDIRECTS and rule.target is None:
            raise ValueError(errors.FAULT_NEEDS_TARGET.format(rule.kind))
        self.rules.append(rule)
        return rule

    def clear(self) -> int:
        removed = len(self.rules)
        self.rules.clear()
        return removed

    def answer(self, c: Client, spec: CommandSpec, args: list[bytes]) -> Any:
        """The scripted reply for this request, or None to process it normally."""
        name = spec.parent.name if spec.parent else spec.name
        found: list[list[bytes]] = []

        def keys() -> list[bytes]:  # computed once, only if a rule looks at keys
            if not found:
                found.append(list(spec.keys(args)) if (spec.key_specs or spec.getkeys) else [])
            return found[0]

        for rule in self.rules:
            if rule.matches(name, keys):
                return self._fire(c, rule, keys)
        return None

    def _fire(self, c: Client, rule: ScriptedRule, keys: Callable[[], list[bytes]]) -> Any:
        rule.hits += 1
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                self.rules.remove(rule)
        if rule.kind == "DROP":
            c.on_close()  # closes the socket: whatever is written after this is discarded
            return Raw(b"")
        if rule.kind in _REDIRECTS:
            slot = rule.slot
            if slot is None:
                found = keys()
                slot = key_hash_slot(found[0]) if found else 0
            return ErrorReply(_REDIRECTS[rule.kind].format(slot, rule.target))
        return ErrorReply(_FIXED_TEXTS[rule.kind])


def script_reply(
    node: Node,
    error: str,
    *,
    key: bytes | str | None = None,
    slot: int | None = None,
    command: str | None = None,
    times: int | None = 1,
    target: Node | str | None = None,
) -> ScriptedRule:
    """Add a rule to ``node``'s table (see the module docstring); returns it (``.hits``)."""
    if node.scripted_replies is None:
        node.scripted_replies = ScriptedReplies()
    if target is not None and not isinstance(target, str):
        target = f"{HOST}:{target.port}"
    return node.scripted_replies.add(ScriptedRule(
        error.upper(),
        key=key.encode() if isinstance(key, str) else key,
        slot=slot,
        command=command.lower() if command is not None else None,
        times=times,
        target=target,
    ))  # fmt: skip


def clear_scripted_replies(node: Node) -> int:
    table = node.scripted_replies
    return table.clear() if table is not None else 0


def fault_command(c: Client, args: list[bytes]) -> Any:
    """PYREDIS.FAULT (module docstring); refused unless enable-test-commands is on."""
    if not c.node.config.enable_test_commands:
        return ErrorReply(errors.TEST_COMMANDS_DISABLED)
    try:
        return _fault_command(c, args)
    except CommandError as err:
        return err.reply
    except ValueError as err:
        return ErrorReply(str(err))


def _fault_command(c: Client, args: list[bytes]) -> Any:
    node = c.node
    cursor = ArgCursor(args, 1)
    action = cursor.keyword() if cursor else ""
    handler = _ACTIONS.get(action)
    if handler is None:
        raise CommandError(errors.FAULT_UNKNOWN_ACTION.format(action))
    return handler(c, node, cursor)


def _no_more(cursor: ArgCursor, action: str) -> None:
    if cursor:
        raise CommandError(errors.FAULT_USAGE[action])


def _positive_ms(value: bytes, action: str, *, zero_ok: bool = False) -> int:
    ms = parse_int(value, errors.FAULT_USAGE[action])
    if ms < 0 or (ms == 0 and not zero_ok):
        raise CommandError(errors.FAULT_USAGE[action])
    return ms


def _direction(cursor: ArgCursor, action: str) -> Direction:
    if not cursor:
        return Direction.BOTH
    word = cursor.keyword()
    _no_more(cursor, action)
    try:
        return Direction(word)
    except ValueError:
        raise CommandError(errors.FAULT_USAGE[action]) from None


def _known_peer(node: Node, cursor: ArgCursor, action: str) -> str:
    peer = cursor.take(errors.FAULT_USAGE[action]).decode("utf-8", "replace")
    state = node.cluster.state if node.cluster is not None else None
    if state is None:
        raise CommandError(errors.CLUSTER_DISABLED)
    if peer not in state.nodes or peer == state.myid:
        raise CommandError(errors.CLUSTER_UNKNOWN_NODE.format(peer))
    return peer


def _action_reply(c: Client, node: Node, cursor: ArgCursor) -> Any:
    if not cursor:
        raise CommandError(errors.FAULT_SYNTAX)
    kind = cursor.keyword()
    if kind not in KINDS:
        raise CommandError(errors.FAULT_UNKNOWN_KIND.format(kind))
    options: dict[str, Any] = {}
    while cursor:
        option = cursor.keyword()
        value = cursor.take(errors.FAULT_SYNTAX)
        if option == "KEY":
            options["key"] = value
        elif option == "SLOT":
            options["slot"] = parse_int(value, errors.FAULT_SYNTAX)
        elif option == "COMMAND":
            options["command"] = value.decode("utf-8", "replace")
        elif option == "TIMES":
            times = parse_int(value, errors.FAULT_SYNTAX)
            options["times"] = times if times > 0 else None  # 0: until cleared
        elif option == "TARGET":
            options["target"] = value.decode("utf-8", "replace")
        else:
            raise CommandError(errors.FAULT_SYNTAX)
    script_reply(node, kind, **options)
    return OK


def _action_clear(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "CLEAR")
    return clear_scripted_replies(node)


def _action_list(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "LIST")
    table = node.scripted_replies
    rules = [rule.describe() for rule in (table.rules if table is not None else [])]
    return [line.encode() for line in rules + faults_of(node).describe()]


def _action_kill(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "KILL")
    if node.owns_process:
        os._exit(1)  # a crash: nothing saved, nothing answered
    _spawn(faults_of(node).kill())
    return Raw(b"")  # no reply: the connection closes with the node


def _action_pause(c: Client, node: Node, cursor: ArgCursor) -> Any:
    ms = _positive_ms(cursor.take(errors.FAULT_USAGE["PAUSE"]), "PAUSE")
    _no_more(cursor, "PAUSE")
    faults_of(node).pause(ms / 1000)
    return OK  # written now; this connection, like every other, is then held too


def _action_isolate(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "ISOLATE")
    if node.cluster is None:
        raise CommandError(errors.CLUSTER_DISABLED)
    faults_of(node).isolate()
    return OK


def _action_drop(c: Client, node: Node, cursor: ArgCursor) -> Any:
    peer = _known_peer(node, cursor, "DROP")
    faults_of(node).drop(peer, _direction(cursor, "DROP"))
    return OK


def _action_delay(c: Client, node: Node, cursor: ArgCursor) -> Any:
    peer = _known_peer(node, cursor, "DELAY")
    ms = _positive_ms(cursor.take(errors.FAULT_USAGE["DELAY"]), "DELAY")
    faults_of(node).delay(peer, ms / 1000, _direction(cursor, "DELAY"))
    return OK


def _action_slow(c: Client, node: Node, cursor: ArgCursor) -> Any:
    ms = _positive_ms(cursor.take(errors.FAULT_USAGE["SLOW"]), "SLOW", zero_ok=True)
    _no_more(cursor, "SLOW")
    faults_of(node).slow(ms / 1000)
    return OK


def _action_close_clients(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "CLOSE-CLIENTS")
    closed = faults_of(node).close_clients(keep=c)
    c.close_after_reply = True  # the caller gets the count, then is closed like the others
    return closed + 1


def _action_heal(c: Client, node: Node, cursor: ArgCursor) -> Any:
    _no_more(cursor, "HEAL")
    faults_of(node).heal_network()
    return OK


_ACTIONS: dict[str, Callable[[Client, Node, ArgCursor], Any]] = {
    "REPLY": _action_reply,
    "CLEAR": _action_clear,
    "LIST": _action_list,
    "KILL": _action_kill,
    "PAUSE": _action_pause,
    "ISOLATE": _action_isolate,
    "DROP": _action_drop,
    "DELAY": _action_delay,
    "SLOW": _action_slow,
    "CLOSE-CLIENTS": _action_close_clients,
    "HEAL": _action_heal,
}

_background: set[asyncio.Task[Any]] = set()  # tasks started by a command, kept until done


def _spawn(coroutine: Any) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


# ----------------------------------------------------------------------------
# Network faults: one node's bus
# ----------------------------------------------------------------------------
class Direction(enum.Enum):
    """Which packets a rule touches, seen from the node holding it."""

    IN = "IN"  # from the peer to this node
    OUT = "OUT"  # from this node to the peer
    BOTH = "BOTH"

    @property
    def inbound(self) -> bool:
        return self is not Direction.OUT

    @property
    def outbound(self) -> bool:
        return self is not Direction.IN


@dataclass
class _HeldPackets:
    """Packets of one link and direction waiting for their release time (FIFO)."""

    items: deque[tuple[float, Any]] = field(default_factory=deque)  # (loop time due, packet)
    timer: asyncio.TimerHandle | None = None


class BusFaults:
    """One node's network faults, as its bus's ``receive_hook`` / ``send_hook`` (module docstring)."""

    def __init__(self, bus: ClusterBus) -> None:
        self.bus = bus
        self.isolated = False
        self.drop_in: set[str] = set()  # peer node ids
        self.drop_out: set[str] = set()
        self.delay_in: dict[str, float] = {}  # peer node id -> seconds
        self.delay_out: dict[str, float] = {}
        self._held: dict[tuple[bool, LinkId], _HeldPackets] = {}  # (inbound?, link id) -> queue
        bus.receive_hook = self.on_receive
        bus.send_hook = self.on_send

    @property
    def idle(self) -> bool:
        return not (self.isolated or self.drop_in or self.drop_out or self.delay_in or self.delay_out or self._held)

    def uninstall(self) -> None:
        for held in self._held.values():
            if held.timer is not None:
                held.timer.cancel()
        self._held.clear()
        if self.bus.receive_hook == self.on_receive:
            self.bus.receive_hook = None
        if self.bus.send_hook == self.on_send:
            self.bus.send_hook = None

    # -- rules ------------------------------------------------------------------------------

    def drop(self, peer: str, direction: Direction) -> None:
        if direction.inbound:
            self.drop_in.add(peer)
        if direction.outbound:
            self.drop_out.add(peer)

    def delay(self, peer: str, seconds: float, direction: Direction) -> None:
        if direction.inbound:
            self.delay_in[peer] = seconds
        if direction.outbound:
            self.delay_out[peer] = seconds

    def clear(self) -> None:
        """No rule any more; what is held goes out now, in order (heal)."""
        self.isolated = False
        self.drop_in.clear()
        self.drop_out.clear()
        self.delay_in.clear()
        self.delay_out.clear()
        for key in list(self._held):
            self._release(key, everything=True)

    def describe(self) -> list[str]:
        lines = ["ISOLATED"] if self.isolated else []
        for name, peers in (("IN", self.drop_in), ("OUT", self.drop_out)):
            lines += [f"DROP node={peer} direction={name}" for peer in sorted(peers)]
        for name, delays in (("IN", self.delay_in), ("OUT", self.delay_out)):
            lines += [f"DELAY node={peer} ms={round(s * 1000)} direction={name}" for peer, s in sorted(delays.items())]
        return lines

    # -- the hooks ------------------------------------------------------------------------------

    def on_receive(self, link_id: LinkId, message: Any) -> bool:
        if self.isolated:
            return True
        header = getattr(message, "header", None)
        sender = header.sender if header is not None else None
        if sender in self.drop_in:
            return True
        return self._maybe_hold(True, link_id, message, self.delay_in.get(sender))  # type: ignore[arg-type]

    def on_send(self, link_id: LinkId, data: bytes) -> bool:
        if self.isolated:
            return True
        link = self.bus.state.link(link_id)
        peer = link.node.name if link is not None and link.node is not None else None
        if peer in self.drop_out:
            return True
        return self._maybe_hold(False, link_id, data, self.delay_out.get(peer))  # type: ignore[arg-type]

    # -- holding -------------------------------------------------------------------------------

    def _maybe_hold(self, inbound: bool, link_id: LinkId, packet: Any, delay: float | None) -> bool:
        key = (inbound, link_id)
        held = self._held.get(key)
        if held is None and delay is None:
            return False  # not delayed, and nothing earlier on this link to wait behind
        loop = asyncio.get_running_loop()
        if held is None:
            held = self._held[key] = _HeldPackets()
        due = loop.time() + (delay or 0.0)
        if held.items:
            due = max(due, held.items[-1][0])  # never overtake an earlier packet
        held.items.append((due, packet))
        if held.timer is None:
            held.timer = loop.call_at(held.items[0][0], self._release, key)
        return True

    def _release(self, key: tuple[bool, LinkId], everything: bool = False) -> None:
        held = self._held.get(key)
        if held is None:
            return
        if held.timer is not None:
            held.timer.cancel()
            held.timer = None
        if self.bus.paused and not everything:
            return  # a paused node neither reads nor writes: NodeFaults.resume releases
        loop = asyncio.get_running_loop()
        now = loop.time()
        inbound, link_id = key
        while held.items and (everything or held.items[0][0] <= now):
            _, packet = held.items.popleft()
            if inbound:
                if link_id in self.bus.links:  # a packet on a broken connection is lost
                    self.bus.receive(link_id, packet)
            else:
                self.bus.write_now(link_id, packet)
        if held.items:
            held.timer = loop.call_at(held.items[0][0], self._release, key)
        else:
            del self._held[key]

    def release_due(self) -> None:
        """After a pause: hand back what came due meanwhile."""
        for key in list(self._held):
            self._release(key)


# ----------------------------------------------------------------------------
# One node's faults
# ----------------------------------------------------------------------------
def _bus(node: Node) -> ClusterBus:
    assert node.cluster is not None and node.cluster.bus is not None, "not a started cluster node"
    return node.cluster.bus


def node_id(node: Node) -> str:
    assert node.cluster is not None and node.cluster.state is not None, "not a started cluster node"
    return node.cluster.state.myid


class _PausingLinks(dict):  # type: ignore[type-arg]
    """A paused bus's ``links``: a link registered during the pause stops being read at
    once (asyncio starts reading a new connection only after ``connection_made``)."""

    def __init__(self, links: dict[Any, Any]) -> None:
        super().__init__(links)
        self.paused_transports: list[Any] = []
        for link in links.values():
            self._pause(link)

    def __setitem__(self, link_id: Any, link: Any) -> None:
        super().__setitem__(link_id, link)
        self._pause(link)

    def _pause(self, link: Any) -> None:
        if link.transport is not None and not link.transport.is_closing():
            link.transport.pause_reading()
            self.paused_transports.append(link.transport)


class NodeFaults:
    """Every fault applied to one node (module docstring); get it with :func:`faults_of`."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.killed = False
        self._paused_links: _PausingLinks | None = None
        self._resume_timer: asyncio.TimerHandle | None = None
        self._slow_seconds = 0.0
        #: client id -> the client's own sink, while slowed (client ids never repeat).
        self._sinks: dict[int, Callable[[bytes], None]] = {}
        self._network: BusFaults | None = None

    # -- kill ------------------------------------------------------------------------------

    async def kill(self) -> None:
        if self.killed:
            return
        self.killed = True
        self._cancel_resume_timer()
        self._paused_links = None
        if self._network is not None:
            self._network.uninstall()
            self._network = None
        await self.node.close()

    # -- pause / resume ---------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused_links is not None

    def pause(self, seconds: float | None = None) -> None:
        """Stop answering on both ports; by itself again after ``seconds`` (None: until resume)."""
        if self.killed:
            return
        self._cancel_resume_timer()
        if seconds is not None:
            self._resume_timer = asyncio.get_running_loop().call_later(seconds, self.resume)
        if self.paused:
            return
        node = self.node
        node.cron_paused = True
        if node.cluster is not None and node.cluster.bus is not None:
            bus = node.cluster.bus
            bus.paused = True
            bus.links = self._paused_links = _PausingLinks(bus.links)
        else:
            self._paused_links = _PausingLinks({})
        for client in node.clients.values():
            self._apply_client_faults(client)
        self._hook_new_clients()

    def resume(self) -> None:
        self._cancel_resume_timer()
        links, self._paused_links = self._paused_links, None
        if links is None or self.killed:
            return
        node = self.node
        self._hook_new_clients()
        node.cron_paused = False
        if node.cluster is not None and node.cluster.bus is not None:
            bus = node.cluster.bus
            bus.paused = False
            bus.links = dict(links)
        for transport in links.paused_transports:
            if not transport.is_closing():
                transport.resume_reading()
        if self._network is not None:
            self._network.release_due()
        for client in list(node.clients.values()):
            client.paused = False
            client.on_unblocked()  # runs the requests that arrived during the pause

    def _cancel_resume_timer(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None

    # -- client connections -------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        """Every reply to a client (connected now or later) reaches the socket ``seconds``
        late, in order; ``slow(0)`` undoes it (replies already delayed still arrive late).
        A reply followed by a close (QUIT) is lost: the close is not delayed."""
        node = self.node
        self._slow_seconds = max(0.0, seconds)
        if not self._slow_seconds:
            for client in node.clients.values():
                original = self._sinks.pop(client.id, None)
                if original is not None:
                    client.sink = original
            self._sinks.clear()  # clients that left while slowed
        else:
            for client in node.clients.values():
                self._apply_client_faults(client)
        self._hook_new_clients()

    def close_clients(self, keep: Any = None) -> int:
        """Close every client connection but ``keep`` (as a network blip would); how many."""
        clients = [client for client in self.node.clients.values() if client is not keep]
        for client in clients:
            client.on_close()
        return len(clients)

    def _apply_client_faults(self, client: Any) -> None:
        if self.paused:
            client.paused = True
        delay = self._slow_seconds
        if delay:
            original = self._sinks.setdefault(client.id, client.sink)
            loop = asyncio.get_running_loop()
            client.sink = lambda data: loop.call_later(delay, original, data)

    def _hook_new_clients(self) -> None:
        """While the node is paused or slowed, a new client gets the same treatment."""
        node = self.node
        hooked = "new_client" in vars(node)
        wanted = self.paused or bool(self._slow_seconds)
        if wanted and not hooked:
            make_client = node.new_client

            def new_client(sink: Callable[[bytes], None]) -> Any:
                client = make_client(sink)
                self._apply_client_faults(client)
                return client

            node.new_client = new_client  # type: ignore[method-assign]
        elif hooked and not wanted:
            del node.new_client  # back to the class's method

    # -- the network ---------------------------------------------------------------------------

    def network(self) -> BusFaults:
        if self._network is None:
            self._network = BusFaults(_bus(self.node))
        return self._network

    def drop(self, peer: str, direction: Direction = Direction.BOTH) -> None:
        self.network().drop(peer, direction)

    def delay(self, peer: str, seconds: float, direction: Direction = Direction.BOTH) -> None:
        self.network().delay(peer, seconds, direction)

    def isolate(self) -> None:
        self.network().isolated = True

    def heal_network(self) -> None:
        """Undo every drop/delay/isolation of this node (held packets go out now, in order);
        the bus is left without hooks, at zero cost again. Pauses and slowness stay."""
        if self._network is not None:
            self._network.clear()
            self._network.uninstall()
            self._network = None

    def describe(self) -> list[str]:
        lines = ["PAUSED"] if self.paused else []
        if self._slow_seconds:
            lines.append(f"SLOW ms={round(self._slow_seconds * 1000)}")
        if self._network is not None:
            lines += self._network.describe()
        return lines


_NODE_FAULTS: weakref.WeakKeyDictionary[Any, NodeFaults] = weakref.WeakKeyDictionary()


def faults_of(node: Node) -> NodeFaults:
    """The faults of ``node`` (created empty on first use; gone with the node)."""
    faults = _NODE_FAULTS.get(node)
    if faults is None:
        faults = _NODE_FAULTS[node] = NodeFaults(node)
    return faults


# ----------------------------------------------------------------------------
# A cluster's faults (the harness's cluster.kill(...), cluster.partition(...)...)
# ----------------------------------------------------------------------------
class ClusterFaults:
    """Faults across the nodes of one in-process cluster (``nodes`` is the cluster's live list)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes

    async def kill(self, node: Node) -> None:
        await faults_of(node).kill()

    def is_alive(self, node: Node) -> bool:
        return not faults_of(node).killed

    def pause(self, node: Node, seconds: float | None = None) -> None:
        faults_of(node).pause(seconds)

    def resume(self, node: Node) -> None:
        faults_of(node).resume()

    def is_paused(self, node: Node) -> bool:
        return faults_of(node).paused

    def slow(self, node: Node, seconds: float) -> None:
        faults_of(node).slow(seconds)

    def close_clients(self, node: Node) -> int:
        return faults_of(node).close_clients()

    def drop(self, src: Node, dst: Node) -> None:
        """One way: ``dst`` ignores every bus packet from ``src``."""
        faults_of(dst).drop(node_id(src), Direction.IN)

    def delay(self, src: Node, dst: Node, seconds: float) -> None:
        """One way: ``src``'s bus packets reach ``dst`` ``seconds`` late (in order)."""
        faults_of(dst).delay(node_id(src), seconds, Direction.IN)

    def partition(self, *groups: Iterable[Node]) -> None:
        """No bus traffic between nodes of different groups; nodes in no group are
        cut from everyone (``partition([a, b])`` isolates everyone else from a and b)."""
        group_of = {id(node): index for index, group in enumerate(groups) for node in group}
        for receiver in self.nodes:
            if not self.is_alive(receiver):
                continue
            for sender in self.nodes:
                if sender is receiver:
                    continue
                mine, theirs = group_of.get(id(receiver)), group_of.get(id(sender))
                if mine is None or theirs is None or mine != theirs:
                    faults_of(receiver).drop(node_id(sender), Direction.IN)

    def isolate(self, node: Node) -> None:
        """``node`` and the rest stop hearing each other on the bus."""
        self.partition([node], [other for other in self.nodes if other is not node])

    def heal(self) -> None:
        """Undo every ``drop``/``delay``/``partition``/``isolate`` (pauses stay: see ``resume``)."""
        for node in self.nodes:
            if self.is_alive(node):
                faults_of(node).heal_network()

    # -- observation -----------------------------------------------------------------------------

    def flags_seen(self, observer: Node, subject: Node) -> NodeFlags:
        assert observer.cluster is not None and observer.cluster.state is not None
        return observer.cluster.state.nodes[node_id(subject)].flags

    def _observers(self, subject: Node, seen_by: Iterable[Node] | None) -> list[Node]:
        observers = self.nodes if seen_by is None else list(seen_by)
        return [n for n in observers if n is not subject and self.is_alive(n) and not self.is_paused(n)]

    async def wait_for_fail(self, subject: Node, *, seen_by: Iterable[Node] | None = None,
                            timeout: float = 5.0) -> None:  # fmt: skip
        """Until every live observer (default: all other nodes) flags ``subject`` FAIL."""
        observers = self._observers(subject, seen_by)
        await wait_until(
            lambda: all(self.flags_seen(o, subject) & NodeFlags.FAIL for o in observers),
            f"node {subject.port} is FAIL for {[o.port for o in observers]}",
            timeout,
        )

    async def wait_for_healthy(self, subject: Node, *, seen_by: Iterable[Node] | None = None,
                               timeout: float = 5.0) -> None:  # fmt: skip
        """Until no live observer flags ``subject`` PFAIL or FAIL."""
        observers = self._observers(subject, seen_by)
        await wait_until(
            lambda: not any(self.flags_seen(o, subject) & (NodeFlags.FAIL | NodeFlags.PFAIL) for o in observers),
            f"node {subject.port} is neither PFAIL nor FAIL for {[o.port for o in observers]}",
            timeout,
        )


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 5.0,
                     poll: float = _POLL_SECONDS) -> None:  # fmt: skip
    """Poll ``predicate`` until it holds; :class:`WaitTimeout` naming ``what`` if not."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(poll)


# ----------------------------------------------------------------------------
# Nodes in other processes (python -m pyredis_cluster ... --enable-test-commands yes)
# ----------------------------------------------------------------------------
def fault_over_resp(address: tuple[str, int], *args: str | int) -> Any:
    """Send ``PYREDIS.FAULT <args>`` to a node; its reply (an error raises RuntimeError)."""
    from ..localcluster import call

    reply = call(address[0], address[1], "PYREDIS.FAULT", *args)
    if isinstance(reply, ErrorReply):
        raise RuntimeError(f"{address[0]}:{address[1]} refused PYREDIS.FAULT {' '.join(map(str, args))}: {reply}")
    return reply


def partition_over_resp(*groups: Sequence[tuple[str, int]]) -> None:
    """Partition nodes of any process by address: each node drops (both ways) the bus
    traffic of every node in another group. Undo with :func:`heal_over_resp`."""
    from ..localcluster import call

    ids = {address: call(address[0], address[1], "CLUSTER", "MYID") for group in groups for address in group}
    for index, group in enumerate(groups):
        others = [address for other, members in enumerate(groups) if other != index for address in members]
        for address in group:
            for peer in others:
                fault_over_resp(address, "DROP", ids[peer], "BOTH")


def heal_over_resp(addresses: Iterable[tuple[str, int]]) -> None:
    """``PYREDIS.FAULT HEAL`` on every node."""
    for address in addresses:
        fault_over_resp(address, "HEAL")
