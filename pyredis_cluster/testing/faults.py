"""Faults on demand for the in-process cluster: broken nodes, cut links, scripted errors.

Theory of operation
-------------------
Two independent mechanisms, both undone cleanly.

**Node and network faults** (:class:`ClusterFaults`, reached as ``cluster.kill(node)``,
``cluster.pause(node)``... on the harness's cluster objects):

* ``kill``: the node is closed as if its process died: both listeners, every client
  connection and every bus link are closed, its timers stop. Its peers see their links
  break and, after ``cluster-node-timeout``, flag it PFAIL then FAIL. A killed node
  stays dead (restarting it is not part of this slice).
* ``pause`` / ``resume``: the node stops answering on both ports, as under SIGSTOP.
  Its two crons stop (no PINGs, no failure detection, no expiry); every client
  connection, open or opened during the pause, stops having its commands run
  (requests pile up and are served, in order, on ``resume``); its bus links stop
  being read (``pause_reading``: peers' packets wait in the socket buffers and are
  read on ``resume``, as after SIGCONT); a link a peer opens during the pause is paused
  as the bus registers it, before its first read (the bus's ``links`` table is swapped
  for one that pauses what is added to it, and given back on ``resume``).
* ``slow(node, seconds)``: every reply to a client reaches its socket that much later
  (order kept); ``close_clients(node)`` closes every client connection.
* ``isolate`` / ``partition`` / ``drop`` / ``heal``: bus traffic is cut by the
  receiving node's packet filter (the hook of DEBUG DROP-CLUSTER-PACKET-FILTER):
  a packet whose header names a sender on the other side is dropped on arrival, in
  every link direction, so no PING is answered and no gossip crosses. ``drop(src,
  dst)`` is the one-way version (dst ignores src; src still hears dst). ``heal``
  removes every rule and gives each bus back the filter it had before (usually none).

**Scripted replies** (:class:`ScriptedReplies`, one table per node, consulted by the
dispatch pipeline after authentication and before the cluster routing gate): a rule
answers the next N matching requests (or every one until cleared) with one of
Redis's own error texts (``MOVED``, ``ASK``, ``TRYAGAIN``, ``CLUSTERDOWN``,
``LOADING``, ``BUSY``, ``READONLY``) or drops the connection without a reply
(``DROP``). A rule matches a key, a slot, a command name, or (none given) any command
that has keys. The table is ``None`` on a node until a rule is added, so production
dispatch pays one falsy attribute test. The rules count their ``hits``.

The same table is scriptable over RESP by non-Python clients with ``PYREDIS.FAULT``,
refused unless the node was started with ``enable-test-commands yes``::

    PYREDIS.FAULT REPLY <kind> [KEY k | SLOT s | COMMAND name] [TIMES n] [TARGET host:port]
    PYREDIS.FAULT CLEAR          -> the number of rules removed
    PYREDIS.FAULT LIST           -> one line per rule ("MOVED key=foo times=1 hits=0 ...")

PYREDIS.FAULT is not in the command table (COMMAND, COMMAND COUNT and ACL stay
Redis's): the pipeline recognises it where it would answer "unknown command".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cluster.nodes import NodeFlags
from ..cluster.slots import key_hash_slot
from ..protocol.encoder import OK, ErrorReply, Raw
from ..server import errors
from ..server.args import ArgCursor, parse_int
from ..server.errors import CommandError

if TYPE_CHECKING:
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


class FaultTimeout(TimeoutError):
    """A wait of this module ran out of time; the message says what was awaited."""


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
        return _fault_command(c.node, args)
    except CommandError as err:
        return err.reply
    except ValueError as err:
        return ErrorReply(str(err))


def _fault_command(node: Node, args: list[bytes]) -> Any:
    cursor = ArgCursor(args, 1)
    action = cursor.keyword() if cursor else ""
    if action == "CLEAR" and not cursor:
        return clear_scripted_replies(node)
    if action == "LIST" and not cursor:
        table = node.scripted_replies
        return [rule.describe().encode() for rule in (table.rules if table is not None else [])]
    if action != "REPLY" or not cursor:
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


# ----------------------------------------------------------------------------
# Node and network faults
# ----------------------------------------------------------------------------
class BusFilter:
    """A bus's packet filter while network faults are on: drops what the faults say."""

    def __init__(self, previous: Callable[[Any], bool] | None) -> None:
        self.previous = previous  # DEBUG DROP-CLUSTER-PACKET-FILTER's, kept working
        self.ignored_senders: set[str] = set()

    def __call__(self, message: Any) -> bool:
        header = getattr(message, "header", None)
        if header is not None and header.sender in self.ignored_senders:
            return True
        return self.previous is not None and self.previous(message)

    @property
    def idle(self) -> bool:
        return not self.ignored_senders


def _bus(node: Node) -> Any:
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


class ClusterFaults:
    """The faults currently applied to one cluster's nodes (module docstring)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.killed: set[int] = set()  # id() of killed nodes
        self._paused: dict[int, _PausingLinks] = {}
        self._filters: dict[int, BusFilter] = {}
        self._slow: dict[int, float] = {}  # id(node) -> reply delay in seconds
        #: (id(node), client id) -> the client's own sink, while slowed (client ids never repeat).
        self._sinks: dict[tuple[int, int], Callable[[bytes], None]] = {}

    # -- kill ---------------------------------------------------------------------------------

    async def kill(self, node: Node) -> None:
        self.killed.add(id(node))
        self._paused.pop(id(node), None)
        await node.close()

    def is_alive(self, node: Node) -> bool:
        return id(node) not in self.killed

    # -- pause / resume ------------------------------------------------------------------------

    def pause(self, node: Node) -> None:
        if id(node) in self._paused or id(node) in self.killed:
            return
        bus = _bus(node)
        node.cron_paused = bus.paused = True
        bus.links = links = _PausingLinks(bus.links)
        self._paused[id(node)] = links
        for client in node.clients.values():
            self._apply_client_faults(node, client)
        self._hook_new_clients(node)

    def resume(self, node: Node) -> None:
        links = self._paused.pop(id(node), None)
        if links is None:
            return
        bus = _bus(node)
        self._hook_new_clients(node)
        node.cron_paused = bus.paused = False
        bus.links = dict(links)
        for transport in links.paused_transports:
            if not transport.is_closing():
                transport.resume_reading()
        for client in list(node.clients.values()):
            client.paused = False
            client.on_unblocked()  # runs the requests that arrived during the pause

    def is_paused(self, node: Node) -> bool:
        return id(node) in self._paused

    # -- client connections -------------------------------------------------------------------

    def slow(self, node: Node, seconds: float) -> None:
        """Every reply ``node`` sends to a client (connected now or later) reaches the socket
        ``seconds`` late, in order; ``slow(node, 0)`` undoes it (replies already delayed
        still arrive late). A reply followed by a close (QUIT) is lost: the close is not delayed."""
        if seconds <= 0:
            self._slow.pop(id(node), None)
            for client in node.clients.values():
                original = self._sinks.pop((id(node), client.id), None)
                if original is not None:
                    client.sink = original
            # Clients that left while slowed.
            self._sinks = {key: sink for key, sink in self._sinks.items() if key[0] != id(node)}
        else:
            self._slow[id(node)] = seconds
            for client in node.clients.values():
                self._apply_client_faults(node, client)
        self._hook_new_clients(node)

    def close_clients(self, node: Node) -> int:
        """Close every client connection of ``node`` (as a network blip would); returns how many."""
        clients = list(node.clients.values())
        for client in clients:
            client.on_close()
        return len(clients)

    def _apply_client_faults(self, node: Node, client: Any) -> None:
        if id(node) in self._paused:
            client.paused = True
        delay = self._slow.get(id(node))
        if delay is not None:
            original = self._sinks.setdefault((id(node), client.id), client.sink)
            loop = asyncio.get_running_loop()
            client.sink = lambda data: loop.call_later(delay, original, data)

    def _hook_new_clients(self, node: Node) -> None:
        """While ``node`` is paused or slowed, a new client gets the same treatment."""
        hooked = "new_client" in vars(node)
        wanted = id(node) in self._paused or id(node) in self._slow
        if wanted and not hooked:
            make_client = node.new_client

            def new_client(sink: Callable[[bytes], None]) -> Any:
                client = make_client(sink)
                self._apply_client_faults(node, client)
                return client

            node.new_client = new_client  # type: ignore[method-assign]
        elif hooked and not wanted:
            del node.new_client  # back to the class's method

    # -- the network ----------------------------------------------------------------------------

    def drop(self, src: Node, dst: Node) -> None:
        """One way: ``dst`` ignores every bus packet from ``src``."""
        self._filter(dst).ignored_senders.add(node_id(src))

    def partition(self, *groups: Iterable[Node]) -> None:
        """No bus traffic between nodes of different groups; nodes in no group are
        cut from everyone (``partition([a, b])`` isolates everyone else from a and b)."""
        group_of = {id(node): index for index, group in enumerate(groups) for node in group}
        for receiver in self.nodes:
            for sender in self.nodes:
                if sender is receiver:
                    continue
                mine, theirs = group_of.get(id(receiver)), group_of.get(id(sender))
                if mine is None or theirs is None or mine != theirs:
                    self.drop(sender, receiver)

    def isolate(self, node: Node) -> None:
        """``node`` and the rest stop hearing each other on the bus."""
        self.partition([node], [other for other in self.nodes if other is not node])

    def heal(self) -> None:
        """Undo every ``drop``/``partition``/``isolate`` (pauses stay: see ``resume``)."""
        for node in self.nodes:
            bus_filter = self._filters.get(id(node))
            if bus_filter is not None:
                bus_filter.ignored_senders.clear()
                self._settle_filter(node)

    def _filter(self, node: Node) -> BusFilter:
        bus_filter = self._filters.get(id(node))
        if bus_filter is None:
            bus = _bus(node)
            bus_filter = self._filters[id(node)] = BusFilter(bus.packet_filter)
            bus.packet_filter = bus_filter
        return bus_filter

    def _settle_filter(self, node: Node) -> None:
        """Give the bus its own filter back once no fault needs ours (zero cost again)."""
        bus_filter = self._filters.get(id(node))
        if bus_filter is not None and bus_filter.idle:
            del self._filters[id(node)]
            bus = _bus(node)
            if bus.packet_filter is bus_filter:
                bus.packet_filter = bus_filter.previous

    # -- observation -----------------------------------------------------------------------------

    def flags_seen(self, observer: Node, subject: Node) -> NodeFlags:
        assert observer.cluster is not None and observer.cluster.state is not None
        return observer.cluster.state.nodes[node_id(subject)].flags

    async def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it holds; :class:`FaultTimeout` naming ``what`` if not."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise FaultTimeout(f"timed out after {timeout}s waiting until {what}")
            await asyncio.sleep(_POLL_SECONDS)

    def _observers(self, subject: Node, seen_by: Iterable[Node] | None) -> list[Node]:
        observers = self.nodes if seen_by is None else list(seen_by)
        return [n for n in observers if n is not subject and self.is_alive(n) and not self.is_paused(n)]

    async def wait_for_fail(self, subject: Node, *, seen_by: Iterable[Node] | None = None,
                            timeout: float = 5.0) -> None:  # fmt: skip
        """Until every live observer (default: all other nodes) flags ``subject`` FAIL."""
        observers = self._observers(subject, seen_by)
        await self.wait_until(
            lambda: all(self.flags_seen(o, subject) & NodeFlags.FAIL for o in observers),
            f"node {subject.port} is FAIL for {[o.port for o in observers]}",
            timeout,
        )

    async def wait_for_healthy(self, subject: Node, *, seen_by: Iterable[Node] | None = None,
                               timeout: float = 5.0) -> None:  # fmt: skip
        """Until no live observer flags ``subject`` PFAIL or FAIL."""
        observers = self._observers(subject, seen_by)
        await self.wait_until(
            lambda: not any(self.flags_seen(o, subject) & (NodeFlags.FAIL | NodeFlags.PFAIL) for o in observers),
            f"node {subject.port} is neither PFAIL nor FAIL for {[o.port for o in observers]}",
            timeout,
        )
