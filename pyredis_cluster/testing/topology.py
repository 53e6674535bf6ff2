"""Topology on cue and observation for the in-process cluster: failovers, slot moves, events.

Theory of operation
-------------------
Everything that *changes* the topology is done the way an operator does it: over RESP,
with the real commands, to the real nodes (a small asyncio client, :class:`Resp`, on the
cluster's own loop). Nothing is patched into a node's state, so what a client sees in
the middle of a change (ASK during a migration, MOVED after a failover, CLUSTERDOWN
while a primary is unreachable) is what a real cluster would show.

* :func:`failover`: ``CLUSTER FAILOVER`` [``FORCE`` | ``TAKEOVER``] sent to a replica
  (modes ``manual``, ``force``, ``takeover``), or, for ``auto``, the primary is paused
  (it stops answering, like a hung process) until its replicas detect the failure and
  elect one of them, then resumed so it rejoins as a replica. Either way it returns the
  new primary once every live node sees it serving the slots and the old primary knows
  it is now its replica. The other nodes learn the old primary's new role from its next
  PING, as in Redis (up to node_timeout/2 later): :func:`wait_until_agree` waits for that.
* :func:`move_slots`: what ``redis-cli --cluster reshard`` does for each slot:
  ``SETSLOT IMPORTING`` on the target, ``SETSLOT MIGRATING`` on the source,
  ``GETKEYSINSLOT`` and the keys moved in batches, then ``SETSLOT NODE`` on the
  target, the source and every other primary. ``stop_half_way`` migrates half of each
  slot's keys and stops there, the slot left migrating/importing (a client then gets
  ASK for the moved keys); :meth:`SlotMove.finish` completes it later.

  The keys move with ``MIGRATE ... REPLACE KEYS``, a batch at a time, as redis-cli
  does (with ``REPLACE``, as ``--cluster-replace`` would: a key the test left on the
  target is overwritten). Source and target share this loop: MIGRATE runs its
  exchange on the loop while the source holds every other client's command
  (server/busy.py), so a client writing a key meanwhile waits, then finds it moved,
  exactly as with a Redis blocked in MIGRATE.

Everything that *reads* goes straight to each node's cluster core, in the same
loop, without the network (:func:`view`, the agreement checks). Waits poll with a
deadline and raise :class:`~pyredis_cluster.testing.faults.WaitTimeout` naming what was
awaited and what was last seen.

The event stream: :class:`EventLog` listens to every node's cluster events
(``cluster/events.py``: ``fail``, ``failover_won``, ``slot_owner_changed``...) from
the moment the harness builds it, in arrival order, with a sequence number, so a test
can wait for an event that happened before it started waiting (the default) or only
for one after a :meth:`EventLog.mark`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cluster.events import Event
from ..cluster.nodes import NodeFlags
from ..cluster.slots import slot_ranges
from ..cluster.state import ClusterHealth, ClusterState
from ..protocol.encoder import ErrorReply
from ..protocol.reply_parser import NEED_DATA, ReplyParser
from .faults import HOST, WaitTimeout, faults_of, node_id, wait_until

if TYPE_CHECKING:
    from ..server.node import Node

#: How often agreement checks re-read the nodes (each reads 16384 slots per node).
_AGREE_POLL_SECONDS = 0.005
#: Keys per GETKEYSINSLOT batch, as redis-cli's default --cluster-pipeline.
MIGRATE_BATCH = 10
#: MIGRATE's timeout (ms) in move_slots: generous, a loaded test machine is slow.
MIGRATE_TIMEOUT_MS = 10000
FAILOVER_MODES = ("auto", "manual", "force", "takeover")


class TopologyError(Exception):
    """A topology change was refused (the message says which node answered what)."""


def core(node: Node) -> ClusterState:
    assert node.cluster is not None and node.cluster.state is not None, "not a started cluster node"
    return node.cluster.state


def is_live(node: Node) -> bool:
    """Not killed and not paused: a node whose view counts (and can be asked)."""
    faults = faults_of(node)
    return not faults.killed and not faults.paused


# ----------------------------------------------------------------------------
# A minimal asyncio RESP client (the cluster's own loop must never block)
# ----------------------------------------------------------------------------
def _encode(args: Iterable[bytes | str | int]) -> bytes:
    parts = [b""]
    count = 0
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        count += 1
    parts[0] = b"*%d\r\n" % count
    return b"".join(parts)


class Resp:
    """One connection to a node; ``await resp.call(...)`` returns the reply, raising
    :class:`TopologyError` on an error reply (``check=False``: returns it)."""

    def __init__(self, port: int, host: str = HOST) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = ReplyParser()

    async def call(self, *args: bytes | str | int, check: bool = True, timeout: float = 10.0) -> Any:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(_encode(args))
        while (result := self._parser.next_reply()) is NEED_DATA:
            chunk = await asyncio.wait_for(self._reader.read(65536), timeout)
            if not chunk:
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")
            self._parser.feed(chunk)
        reply = result[0]  # type: ignore[index]
        if check and isinstance(reply, ErrorReply):
            words = " ".join(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in args)
            raise TopologyError(f"{self.host}:{self.port} answered {words!r} with {reply}")
        return reply

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self._writer = None


async def call(node: Node, *args: bytes | str | int, check: bool = True) -> Any:
    """One command to ``node`` on a fresh connection."""
    resp = Resp(node.port)
    try:
        return await resp.call(*args, check=check)
    finally:
        await resp.close()


# ----------------------------------------------------------------------------
# Observation: a node's view
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PeerView:
    """One line of a node's node table (as CLUSTER NODES would show it)."""

    id: str
    address: str  # ip:port@cport
    flags: frozenset[str]  # "master", "slave", "myself", "fail?", "fail", "handshake"...
    primary_id: str | None
    config_epoch: int
    slots: tuple[tuple[int, int], ...]  # the ranges this node claims

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        return "fail" in self.flags


@dataclass(frozen=True)
class NodeView:
    """What one node believes, read directly from its cluster core and keyspace."""

    id: str
    port: int
    cluster_state: str  # "ok" or "fail"
    current_epoch: int
    config_epoch: int  # its own (a replica: its primary's, as CLUSTER INFO's cluster_my_epoch)
    primary_id: str | None  # None for a primary
    nodes: dict[str, PeerView]
    slot_owner: tuple[str | None, ...]  # 16384 owner ids as this node binds them
    migrating: dict[int, str]  # slot -> target node id
    importing: dict[int, str]  # slot -> source node id
    keys: frozenset[bytes] = field(default_factory=frozenset)  # db 0

    @property
    def role(self) -> str:
        return "replica" if self.primary_id else "primary"

    def owner_of(self, slot: int) -> str | None:
        return self.slot_owner[slot]

    def slots_of(self, node: str) -> list[tuple[int, int]]:
        return slot_ranges(slot for slot, owner in enumerate(self.slot_owner) if owner == node)


def view(node: Node) -> NodeView:
    """A snapshot of ``node``'s slot map, epochs, flags and keys."""
    state = core(node)
    me = state.myself
    primary = state.primary_of(me) if me.is_replica else None
    peers = {
        peer.name: PeerView(
            id=peer.name,
            address=f"{peer.ip}:{peer.port}@{peer.cport}",
            flags=frozenset(peer.flag_words.split(",")),
            primary_id=peer.primary_id or None,
            config_epoch=peer.config_epoch,
            slots=tuple(peer.slots.ranges()),
        )
        for peer in state.nodes.values()
    }
    return NodeView(
        id=me.name,
        port=node.port,
        cluster_state="ok" if state.state is ClusterHealth.OK else "fail",
        current_epoch=state.current_epoch,
        config_epoch=(primary or me).config_epoch,
        primary_id=me.primary_id if me.is_replica else None,
        nodes=peers,
        slot_owner=tuple(owner.name if owner is not None else None for owner in state.slot_owner),
        migrating={slot: peer.name for slot, peer in state.migrating_slots_to.items()},
        importing={slot: peer.name for slot, peer in state.importing_slots_from.items()},
        keys=frozenset(node.keyspace[0].data),
    )


def agreement_signature(node: Node) -> tuple[Any, ...]:
    """What every node must share for the cluster to agree: the slot map, each primary's
    config epoch, each node's role, the set of nodes known (none in handshake)."""
    state = core(node)
    epochs = tuple(sorted((n.name, n.config_epoch) for n in state.nodes.values() if n.is_primary))
    roles = tuple(sorted((n.name, n.primary_id if n.is_replica else "") for n in state.nodes.values()))
    owners = tuple(owner.name if owner is not None else None for owner in state.slot_owner)
    return owners, epochs, roles


def disagreement(nodes: list[Node]) -> str | None:
    """Why the live nodes do not agree yet (see :func:`agreement_signature`), or None."""
    live = [node for node in nodes if is_live(node)]
    if not live:
        return None
    reference = agreement_signature(live[0])
    for node in live:
        state = core(node)
        handshaking = [n.name for n in state.nodes.values() if n.flags & NodeFlags.HANDSHAKE]
        if handshaking:
            return f"node {node.port} is still in handshake with {handshaking}"
        ids = {core(other).myid for other in live}
        if not ids <= set(state.nodes):
            return f"node {node.port} does not know {sorted(ids - set(state.nodes))}"
        if node is live[0]:
            continue
        signature = agreement_signature(node)
        for what, mine, theirs in zip(("slot map", "config epochs", "roles"), signature, reference):
            if mine != theirs:
                return f"node {node.port} and node {live[0].port} disagree on the {what}"
    return None


async def wait_until_agree(nodes: list[Node], timeout: float = 10.0) -> None:
    """Until every live node has the same slot map, config epochs and roles."""
    reason: list[str | None] = [None]

    def agreed() -> bool:
        reason[0] = disagreement(nodes)
        return reason[0] is None

    try:
        await wait_until(agreed, "every node agrees", timeout, poll=_AGREE_POLL_SECONDS)
    except WaitTimeout as err:
        raise WaitTimeout(f"{err}: {reason[0]}") from None


async def wait_until_slot_owner(nodes: list[Node], slot: int, owner: Node, timeout: float = 10.0) -> None:
    """Until every live node binds ``slot`` to ``owner``."""
    wanted = node_id(owner)

    def holders() -> list[int]:
        return [n.port for n in nodes if is_live(n) and (core(n).slot_owner[slot] or _NOBODY).name != wanted]

    await wait_until(lambda: not holders(), f"every node says slot {slot} belongs to {owner.port}", timeout,
                     poll=_AGREE_POLL_SECONDS)  # fmt: skip


class _Nobody:
    name = None


_NOBODY = _Nobody()


# ----------------------------------------------------------------------------
# Observation: the event stream
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SeenEvent:
    seq: int
    node: Any  # the Node whose core emitted it
    event: Event


class EventLog:
    """Every node's cluster events, in arrival order (module docstring)."""

    def __init__(self) -> None:
        self.entries: list[SeenEvent] = []
        self._arrived = asyncio.Event()

    def attach(self, node: Node) -> None:
        assert node.cluster is not None, "not a cluster node"
        node.cluster.listeners.append(lambda event: self._record(node, event))

    def _record(self, node: Node, event: Event) -> None:
        self.entries.append(SeenEvent(len(self.entries), node, event))
        self._arrived.set()

    def mark(self) -> int:
        """A position: pass it as ``after`` to see only later events."""
        return len(self.entries)

    def matching(self, name: str, where: Mapping[str, Any] | Callable[[Event], bool] | None = None,
                 node: Node | Iterable[Node] | None = None, after: int = 0) -> list[Event]:  # fmt: skip
        test = _event_test(name, where, node)
        return [seen.event for seen in self.entries[after:] if test(seen)]

    async def wait_for(
        self,
        name: str,
        where: Mapping[str, Any] | Callable[[Event], bool] | None = None,
        *,
        node: Node | Iterable[Node] | None = None,
        after: int = 0,
        timeout: float = 5.0,
    ) -> Event:
        """The first event named ``name`` (from ``node``, default any; with the fields in
        ``where``, a Node standing for its id, or passing ``where(event)``) at or after
        ``after``. :class:`WaitTimeout` says what was awaited and what came instead."""
        test = _event_test(name, where, node)
        deadline = time.monotonic() + timeout
        position = after
        while True:
            while position < len(self.entries):
                seen = self.entries[position]
                position += 1
                if test(seen):
                    return seen.event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(self._timeout_message(name, where, node, after, timeout))
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    def _timeout_message(self, name: str, where: Any, node: Any, after: int, timeout: float) -> str:
        same_name = [seen for seen in self.entries[after:] if seen.event.name == name]
        text = f"no {name!r} event"
        if where is not None:
            text += f" where {_describe_where(where)}"
        if node is not None:
            text += f" from {_ports(node)}"
        text += f" within {timeout}s"
        if same_name:
            last = same_name[-1]
            text += f"; {len(same_name)} other {name!r} events, the last from {last.node.port}: {last.event}"
        else:
            text += f"; no {name!r} event at all among {len(self.entries) - after} events"
        return text


def _field_value(value: Any) -> Any:
    """A Node in ``where`` stands for its node id (events carry ids)."""
    return node_id(value) if hasattr(value, "cluster") and hasattr(value, "keyspace") else value


def _event_test(name: str, where: Any, node: Any) -> Callable[[SeenEvent], bool]:
    sources = None if node is None else {id(n) for n in ([node] if hasattr(node, "keyspace") else node)}
    if where is None or callable(where):
        predicate = where
    else:
        wanted = {key: _field_value(value) for key, value in where.items()}

        def predicate(event: Event) -> bool:
            return all(event.get(key, _MISSING) == value for key, value in wanted.items())

    def test(seen: SeenEvent) -> bool:
        if seen.event.name != name or (sources is not None and id(seen.node) not in sources):
            return False
        return predicate is None or bool(predicate(seen.event))

    return test


_MISSING = object()


def _describe_where(where: Any) -> str:
    if callable(where):
        return getattr(where, "__name__", "a predicate")
    return "{" + ", ".join(f"{key}={_field_value(value)!r}" for key, value in where.items()) + "}"


def _ports(node: Any) -> list[int]:
    return [n.port for n in ([node] if hasattr(node, "keyspace") else node)]


# ----------------------------------------------------------------------------
# Failover on cue
# ----------------------------------------------------------------------------
def _replicas_of(nodes: list[Node], primary: Node) -> list[Node]:
    primary_id = node_id(primary)
    return [n for n in nodes if is_live(n) and core(n).myself.is_replica and core(n).myself.primary_id == primary_id]


def _agrees_on_new_primary(nodes: list[Node], new_id: str, slots: list[int], old_id: str) -> str | None:
    """Why the failover is not agreed yet: every live node must see ``new_id`` as a primary
    serving the slots, and the old primary (when live) must know it is now its replica."""
    for node in nodes:
        if not is_live(node):
            continue
        state = core(node)
        new = state.nodes.get(new_id)
        if new is None or not new.is_primary:
            return f"node {node.port} does not see the new primary as a primary"
        if any((state.slot_owner[slot] or _NOBODY).name != new_id for slot in slots):
            return f"node {node.port} still binds the slots elsewhere"
        if state.myid == old_id and state.myself.primary_id != new_id:
            return f"the old primary {node.port} is not a replica of the new one yet"
    return None


async def failover(nodes: list[Node], primary: Node, mode: str = "auto", *, replica: Node | None = None,
                   timeout: float = 10.0) -> Node:  # fmt: skip
    """A real failover of ``primary`` (module docstring); returns the new primary."""
    if mode not in FAILOVER_MODES:
        raise ValueError(f"failover mode must be one of {FAILOVER_MODES}, not {mode!r}")
    state = core(primary)
    if not state.myself.is_primary:
        raise TopologyError(f"node {primary.port} is not a primary")
    candidates = _replicas_of(nodes, primary) if replica is None else [replica]
    if not candidates:
        raise TopologyError(f"primary {primary.port} has no live replica to fail over to")
    old_id = node_id(primary)
    slots = [slot for slot, owner in enumerate(state.slot_owner) if owner is state.myself]
    winner: list[Node] = []
    reason: list[str | None] = ["no replica has won yet"]

    def won() -> bool:
        """A candidate is a primary serving the old primary's slots, in its own view."""
        if not winner:
            winner.extend(n for n in candidates if core(n).myself.is_primary
                          and all(core(n).slot_owner[slot] is core(n).myself for slot in slots))  # fmt: skip
        return bool(winner)

    def agreed() -> bool:
        if not won():
            return False
        reason[0] = _agrees_on_new_primary(nodes, node_id(winner[0]), slots, old_id)
        return reason[0] is None

    if mode == "auto":
        faults = faults_of(primary)
        faults.pause()
        try:
            await wait_until(won, f"a replica of {primary.port} wins the failover", timeout)
        except WaitTimeout as err:
            raise WaitTimeout(f"{err} (an automatic failover takes node_timeout plus the election delay)") from None
        finally:
            faults.resume()
    else:
        option = () if mode == "manual" else (mode.upper(),)
        candidates = candidates[:1]
        await call(candidates[0], "CLUSTER", "FAILOVER", *option)
    try:
        await wait_until(agreed, f"every node agrees on the new primary of {primary.port}'s slots", timeout)
    except WaitTimeout as err:
        raise WaitTimeout(f"{err}: {reason[0]}") from None
    return winner[0]


# ----------------------------------------------------------------------------
# Slot migration on cue
# ----------------------------------------------------------------------------
@dataclass
class SlotMove:
    """A migration started by :func:`move_slots`: ``moved_keys`` went over; when stopped
    half way, ``complete`` is False and the slots are still migrating/importing."""

    nodes: list[Any]
    slots: list[int]
    target: Any
    sources: dict[int, Any]  # slot -> the node it came from
    moved_keys: list[bytes] = field(default_factory=list)
    complete: bool = False

    async def finish(self, timeout: float = 10.0) -> None:
        """Move the remaining keys and give the slots to the target everywhere."""
        if self.complete:
            return
        for slot in self.slots:
            await _migrate_keys(self, slot, limit=None)
        await _assign(self)
        await wait_until_agree(self.nodes, timeout)


async def _migrate_keys(move: SlotMove, slot: int, limit: int | None) -> None:
    """Move up to ``limit`` keys (None: all) of ``slot`` from its source to the target,
    with ``MIGRATE ... KEYS``, :data:`MIGRATE_BATCH` keys at a time (as redis-cli)."""
    source = Resp(move.sources[slot].port)
    try:
        left = limit
        while left is None or left > 0:
            batch = MIGRATE_BATCH if left is None else min(MIGRATE_BATCH, left)
            keys = await source.call("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                return
            reply = await source.call("MIGRATE", HOST, move.target.port, "", 0, MIGRATE_TIMEOUT_MS,
                                      "REPLACE", "KEYS", *keys)  # fmt: skip
            if reply != "NOKEY":  # NOKEY: every one expired since GETKEYSINSLOT
                move.moved_keys.extend(keys)
            if left is not None:
                left -= len(keys)
    finally:
        await source.close()


async def _assign(move: SlotMove) -> None:
    """SETSLOT NODE on the target first, then the sources, then every other primary (as
    redis-cli does: the target must own the slot before a source redirects to it)."""
    target_id = node_id(move.target)
    sources = list({id(n): n for n in move.sources.values()}.values())
    others = [n for n in move.nodes if is_live(n) and core(n).myself.is_primary
              and n is not move.target and all(n is not s for s in sources)]  # fmt: skip
    for node in [move.target, *sources, *others]:
        for slot in move.slots:
            await call(node, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
    move.complete = True


async def move_slots(nodes: list[Node], slots: int | Iterable[int], to_node: Node, *, stop_half_way: bool = False,
                     timeout: float = 10.0) -> SlotMove:  # fmt: skip
    """A real migration of ``slots`` to ``to_node`` (module docstring)."""
    wanted = [slots] if isinstance(slots, int) else list(slots)
    target_id = node_id(to_node)
    sources: dict[int, Node] = {}
    for slot in wanted:
        owner = core(to_node).slot_owner[slot]
        if owner is None:
            raise TopologyError(f"slot {slot} has no owner to migrate it from")
        if owner.name != target_id:
            source = next((n for n in nodes if is_live(n) and core(n).myid == owner.name), None)
            if source is None:
                raise TopologyError(f"slot {slot} belongs to {owner.name}, which is not running")
            sources[slot] = source
    move = SlotMove(nodes, [s for s in wanted if s in sources], to_node, sources)
    for slot in move.slots:
        source = sources[slot]
        await call(to_node, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(source))
        await call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    for slot in move.slots:
        if stop_half_way:
            count = await call(sources[slot], "CLUSTER", "COUNTKEYSINSLOT", slot)
            await _migrate_keys(move, slot, limit=count // 2)
        else:
            await _migrate_keys(move, slot, limit=None)
    if not stop_half_way:
        await _assign(move)
        await wait_until_agree(nodes, timeout)
    return move
