"""The stage a workshop scenario plays on: a fresh cluster, a narrator, a timeline, checks.

Theory of operation
-------------------
A scenario (scenarios.py) is a coroutine ``play(stage)``. The :class:`Stage` gives it:

* **a cluster**: :meth:`Stage.start_cluster` starts real nodes in this process with the
  test harness (testing/harness.py): real sockets on loopback, Redis 7.0's binary
  cluster bus, nothing simulated. Replicas are then attached to their primaries with
  real replication (PSYNC), so a failover keeps the data. The harness also adds,
  removes and restarts nodes (``cluster.add_node()``, ``cluster.restart(node)``...).
  Nodes get short **labels**: primaries ``A``, ``B``, ``C``...; ``A1`` is A's first
  replica; nodes added later are ``D``, ``E``...; a label stays with its node id
  whatever its role becomes.
* **narration**: :meth:`say` (what is about to happen, and why), :meth:`step` (a new
  act; with ``--pause`` it waits for Enter first), :meth:`show` (what a client or
  ``redis-cli`` would print);
* **the trace**: a :class:`~.timeline.Timeline` records every event of every node from
  the start, and (busfeed.py) the bus messages that tell the story, PING/PONG left
  out; :meth:`show_trace` prints what happened since the last call;
* **checks**: :meth:`check` records an outcome (passed or failed, with the reason);
  :meth:`require` and :meth:`wait_for` also stop the scenario when a later step would
  make no sense without it. A scenario passes when all its checks pass.

Time
----
``time_scale`` stretches the cluster protocol's time: the harness gives every node a
scaled clock (pyredis_cluster/clock.py, testing/timecontrol.py), so *every* timer (the
1 s node timeout, the 500 ms before an election, 1 s per replica rank, the 5 s before
a replica migrates, the pings) takes ``time_scale`` times as long in wall time. 1 is
workshop speed (a failover in a couple of seconds), 10 is slow motion, the tests use
0.3. Every wait's deadline grows with it.

Deliberately weak
-----------------
Waits poll (every few ms) rather than subscribe: simple, and the nodes share this event
loop, so polling never misses a state that lasts longer than one poll.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..cluster.nodes import ClusterNode
from ..cluster.slots import SLOT_COUNT, format_slot_ranges, key_hash_slot
from ..layout import Layout
from ..server.node import Node
from ..testing.faults import node_id
from ..testing.harness import HOST, LocalCluster, create_cluster
from ..testing.topology import core
from .timeline import Palette, Timeline

#: The node timeout, in protocol time: short enough that a failover fits in a few seconds
#: of a workshop, long enough that a busy laptop does not fail nodes by accident.
BASE_NODE_TIMEOUT_MS = 1000
#: The deadline of a wait at time scale 1 (elections include fixed delays of ~1-2 s).
BASE_DEADLINE_SECONDS = 20.0
_POLL_SECONDS = 0.005
_PRIMARY_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class ScenarioFailed(Exception):
    """A required outcome did not happen: the scenario stops (its checks say why)."""


@dataclass
class Check:
    what: str
    passed: bool
    detail: str = ""


@dataclass
class ScenarioResult:
    name: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None  # an unexpected failure (not a check)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        """Why it failed (empty when it passed)."""
        failed = [f"{check.what}: {check.detail}" if check.detail else check.what
                  for check in self.checks if not check.passed]  # fmt: skip
        if self.error is not None:
            failed.append(self.error)
        if not self.checks and self.error is None:
            failed.append("the scenario checked nothing")
        return failed


@dataclass(frozen=True)
class Pace:
    """How fast the scenario's cluster runs (module docstring, "Time")."""

    time_scale: float = 1.0
    #: Overrides the deadline of every wait (the tests use a short one where a check must fail).
    deadline_override: float | None = None

    def cluster_options(self) -> dict[str, Any]:
        """The harness's options for this pace: the node timeout in protocol time, and the
        scale of the protocol's clock (which stretches it, and every other timer)."""
        return {"node_timeout": BASE_NODE_TIMEOUT_MS, "time_scale": self.time_scale}

    @property
    def deadline_seconds(self) -> float:
        if self.deadline_override is not None:
            return self.deadline_override
        return BASE_DEADLINE_SECONDS * max(1.0, self.time_scale)


def owned_slots(node: Node) -> set[int]:
    state = core(node)
    return {slot for slot in range(SLOT_COUNT) if state.owner_of(slot) is state.myself}


def key_in_slots(slots: set[int] | range, prefix: str = "key") -> str:
    """The first ``<prefix>:<n>`` whose hash slot is in ``slots``."""
    wanted = set(slots)
    return next(f"{prefix}:{n}" for n in range(1_000_000) if key_hash_slot(f"{prefix}:{n}".encode()) in wanted)


def format_slots(slots: set[int]) -> str:
    """``{0, 1, 2, 7}`` -> ``"0-2 7"`` (``"none"`` for no slot)."""
    return format_slot_ranges(slots) or "none"


class Stage:
    """Everything a scenario plays with (module docstring)."""

    def __init__(self, *, out: TextIO | None = None, time_scale: float = 1.0, color: bool | None = None,
                 cluster_options: dict[str, Any] | None = None, deadline_seconds: float | None = None,
                 trace_messages: bool = True, pause_between_steps: bool = False) -> None:  # fmt: skip
        self.out = out or sys.stdout
        self.pace = Pace(time_scale, deadline_seconds)
        self.palette = Palette(color) if color is not None else Palette.for_stream(self.out)
        #: Extra config options for every node (the tests use it to sabotage a cluster).
        self.cluster_options = dict(cluster_options or {})
        self.checks: list[Check] = []
        self.labels: dict[str, str] = {}  # node id -> label
        self.timeline = Timeline(self.label_of, self.label_source)
        self.cluster: LocalCluster | None = None
        #: Bus messages in the trace (busfeed.py); off, the trace tells events only.
        self.trace_messages = trace_messages
        self.pause_between_steps = pause_between_steps
        self.bus_feed: Any = None
        self.on_cluster_started: list[Callable[[Stage], Awaitable[None]]] = []  # e.g. the live view
        self.before_close: list[Callable[[Stage], Awaitable[None]]] = []  # e.g. "press Enter"
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._next_new_label = 0

    # -- the cluster ----------------------------------------------------------------------------

    async def start_cluster(self, primaries: int = 3, replicas_per_primary: int = 0, **options: Any) -> LocalCluster:
        """A fresh, ready cluster (module docstring); replicas replicate before this returns."""
        options = {**self.pace.cluster_options(), **options, **self.cluster_options}
        self.cluster = await create_cluster(Layout(primaries, replicas_per_primary), **options)
        self._next_new_label = primaries
        for index, node in enumerate(self.cluster.nodes[:primaries]):
            self.labels[node_id(node)] = _PRIMARY_LABELS[index]
        for node in self.cluster.nodes[primaries:]:
            primary_label = self.labels[core(node).myself.primary_id or ""]
            count = sum(1 for label in self.labels.values() if label.startswith(primary_label))
            self.labels[node_id(node)] = f"{primary_label}{count}"
        self.timeline.follow(self.cluster.events)
        await self.start_replication()
        if self.trace_messages:
            from .busfeed import BusFeed  # imports the trace CLI's formatter: only when used

            self.bus_feed = BusFeed(self)
            self.add_closer(self.bus_feed.close)
            await self.bus_feed.start()
            await self.bus_feed.settle()
        self.timeline.skip()
        self.show_nodes()
        for hook in self.on_cluster_started:
            await hook(self)
        return self.cluster

    async def start_replication(self) -> None:
        """Every replica replicates its primary (PSYNC, then the command stream).

        The harness writes each replica's role into its nodes.conf but starts no
        replication link; a node restarted from that file would connect to its primary,
        which is what this does.
        """
        assert self.cluster is not None
        replicas = []
        for replica in self.cluster.replicas:
            primary = self.cluster.node_by_id(core(replica).myself.primary_id or "")
            replication = replica.replication
            if replication is None or replication.master_host is None:
                replica.start_replication(HOST, primary.port)
            replicas.append(replica)
        await self.wait_for(lambda: all(r.replication is not None and r.replication.link_up for r in replicas),
                            "every replica has synchronised with its primary", quiet=True)  # fmt: skip

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Something to stop when the scenario ends (a proxy, a client task...)."""
        self._closers.append(closer)

    async def close(self) -> None:
        """Stop everything the scenario started, newest first; errors do not stop the rest."""
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing must go on
                pass
        self._closers.clear()
        if self.cluster is not None:
            await self.cluster.close()

    # -- names ----------------------------------------------------------------------------------

    def label_of(self, name: str) -> str:
        """The label of a node id (its first 8 characters if it has none, e.g. a handshake name)."""
        return self.labels.get(name, name[:8])

    def label_source(self, name: str) -> str:
        """The label of the node an event happened on: a node the cluster gained gets the
        next letter (D, E...)."""
        if name not in self.labels:
            self.labels[name] = _PRIMARY_LABELS[self._next_new_label]
            self._next_new_label += 1
        return self.labels[name]

    def label(self, node: Node | ClusterNode) -> str:
        return self.label_source(node.name if isinstance(node, ClusterNode) else node_id(node))

    def node(self, label: str) -> Node:
        """The node labelled ``label`` (the running process, after a restart)."""
        assert self.cluster is not None
        for node in self.cluster.nodes:
            if self.label(node) == label:
                return node
        raise KeyError(label)

    def show_nodes(self, nodes: list[Node] | None = None) -> None:
        """A legend: label, address, role and slots of every node."""
        assert self.cluster is not None
        for node in nodes or self.cluster.nodes:
            me = core(node).myself
            if me.is_primary:
                role = f"primary, slots {format_slots(owned_slots(node))}, config epoch {me.config_epoch}"
            else:
                role = f"replica of {self.label_of(me.primary_id or '')}"
            self._print(f"    {self.palette.node(self.label(node).ljust(3))} {HOST}:{node.port}  "
                        f"id {me.name[:8]}...  {role}")  # fmt: skip

    # -- narration ------------------------------------------------------------------------------

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def title(self, text: str) -> None:
        self._print(self.palette.bold(text))
        self._print(self.palette.bold("=" * len(text)))

    async def step(self, text: str) -> None:
        """A new act. With ``pause_between_steps`` (``--pause``), wait for Enter first: the
        cluster keeps running meanwhile, and the teacher talks."""
        if self.pause_between_steps:
            await asyncio.to_thread(input, f"[Enter] next: {text} ")
        self._print()
        self._print(self.palette.bold(f"== {text}"))

    def say(self, text: str) -> None:
        """A paragraph of narration (dedented and wrapped)."""
        for paragraph in inspect.cleandoc(text).split("\n\n"):
            self._print(textwrap.fill(" ".join(paragraph.split()), width=88))
            self._print()

    def show(self, text: str) -> None:
        """What a client or a tool prints, verbatim."""
        for line in text.splitlines() or [""]:
            self._print(f"    {self.palette.dim('|')} {line}")

    async def show_trace(self, heading: str = "What the cluster did:") -> None:
        """Print what happened since the last call (events, and the story's bus messages)."""
        if self.bus_feed is not None:
            await self.bus_feed.settle()
        lines = self.timeline.story(self.palette)
        if lines:
            self._print(self.palette.dim(heading))
            for line in lines:
                self._print(line)

    # -- outcomes -------------------------------------------------------------------------------

    def check(self, passed: bool, what: str, detail: str = "") -> bool:
        """Record an outcome, print it, and return it."""
        self.checks.append(Check(what, bool(passed), detail))
        mark = self.palette.good("  PASS") if passed else self.palette.bad("  FAIL")
        self._print(f"{mark} {what}" + (f" ({detail})" if detail else ""))
        return bool(passed)

    def require(self, passed: bool, what: str, detail: str = "") -> None:
        """:meth:`check`, and stop the scenario if it failed."""
        if not self.check(passed, what, detail):
            raise ScenarioFailed(what)

    async def wait_until_all(self, observers: list[Node], predicate: Callable[[Node], bool], what: str, *,
                             quiet: bool = False) -> None:  # fmt: skip
        """:meth:`wait_for` ``predicate(observer)`` on every observer, as one check; if the
        deadline passes, the failed check names the observers still waiting."""
        waiting: list[Node] = []

        def everyone() -> bool:
            waiting[:] = [observer for observer in observers if not predicate(observer)]
            return not waiting

        started = time.monotonic()
        try:
            await self.wait_for(everyone, what, quiet=True)
        except ScenarioFailed:
            self.checks[-1].detail += "; still waiting: " + " ".join(self.label(node) for node in waiting)
            raise
        if not quiet:
            names = " ".join(self.label(node) for node in observers)
            self.check(True, what, f"{names}, after {time.monotonic() - started:.1f}s")

    async def wait_for(self, predicate: Callable[[], Any], what: str, *, timeout: float | None = None,
                       quiet: bool = False) -> Any:  # fmt: skip
        """Poll ``predicate`` (sync or async) until it is truthy; a failed check if the deadline
        passes first (which stops the scenario). ``quiet``: no PASS line when it holds."""
        timeout = timeout if timeout is not None else self.pace.deadline_seconds
        started = time.monotonic()
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                if not quiet:
                    self.check(True, what, f"after {time.monotonic() - started:.1f}s")
                return result
            if time.monotonic() - started > timeout:
                self.require(False, what, f"not within {timeout:.0f}s")
            await asyncio.sleep(_POLL_SECONDS)
