"""``python -m pyredis_cluster clock``: slow motion and step mode for a whole cluster.

Usage::

    python -m pyredis_cluster clock --port 7000 show          # every node's clock
    python -m pyredis_cluster clock --port 7000 scale 30      # slow motion: 30x slower
    python -m pyredis_cluster clock --port 7000 scale 1       # back to real time
    python -m pyredis_cluster clock --port 7000 freeze        # step mode: time stops
    python -m pyredis_cluster clock --port 7000 pending       # messages waiting, oldest first
    python -m pyredis_cluster clock --port 7000 step [N]      # deliver the next N messages
    python -m pyredis_cluster clock --port 7000 advance 500   # move time 500 ms (ticks run)
    python -m pyredis_cluster clock --port 7000 resume        # deliver what waits, run again

Theory of operation
-------------------
Each node owns its protocol clock (``clock.py``) and its step mode (``cluster/bus.py``);
``PYREDIS.CLOCK`` (``testing/timecontrol.py``) controls one node. A teacher wants to
control the *cluster*, so this tool finds every node from ``CLUSTER NODES`` on
``--port`` and applies the action to each:

* **scale** sends ``CONFIG SET cluster-time-scale`` (no test commands needed): every
  timer of the protocol, node-timeout included, stretches by the factor. Each node
  re-bases its clock when it gets the command, a few milliseconds apart, which the
  protocol does not notice. Mixed clusters with real redis-server nodes must stay at 1.
* **freeze / resume / advance** go to every node in port order. While frozen, a node
  holds every bus message it receives instead of acting on it.
* **step** is global: it asks every node for the arrival time of its oldest held
  message (``oldest-held-arrival-ms``) and delivers that one message, on that node,
  so messages are delivered across the cluster in the order they arrived. Repeat
  ``N`` times. Each delivered message is printed; what it causes (a reply sent, a state
  change) shows in ``python -m pyredis_cluster trace`` running beside it.

Freezing, advancing and stepping need the nodes to run with
``enable-test-commands yes`` (``cluster start --enable-test-commands``); scaling does not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .protocol.encoder import ErrorReply
from .resp_client import ClusterToolError, Peer, add_node_arguments, call_once, discover

Node = TypeVar("Node")

ACTIONS = ("show", "scale", "freeze", "resume", "advance", "step", "pending")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def clock_fields(reply: Any) -> dict[str, Any]:
    """PYREDIS.CLOCK's show (a RESP2 flat list, or a RESP3 map) as a dict of text keys."""
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    return {_text(key): value for key, value in pairs}


def oldest_holder(clocks: Iterable[tuple[Node, Mapping[str, Any]]]) -> Node | None:
    """Which node holds the cluster's oldest message: the one ``step`` should deliver.

    ``clocks`` pairs each node (anything: a peer, an address) with its ``PYREDIS.CLOCK``
    fields; the node whose ``oldest-held-arrival-ms`` is smallest wins (the first one
    on a tie), so the cluster's messages are delivered in the order they arrived.
    ``None``: no node holds anything.
    """
    oldest: tuple[int, Node] | None = None
    for node, fields in clocks:
        arrived = fields.get("oldest-held-arrival-ms")
        if arrived is not None and (oldest is None or int(arrived) < oldest[0]):
            oldest = (int(arrived), node)
    return None if oldest is None else oldest[1]


class ClockTool:
    """The nodes of one cluster and what to tell their clocks."""

    def __init__(self, peers: Sequence[Peer], out: Any, timeout: float) -> None:
        self.peers = list(peers)
        self.out = out
        self.timeout = timeout

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def call(self, peer: Peer, *args: str | int) -> Any:
        reply = await call_once(peer.host, peer.port, *args, timeout=self.timeout)
        if isinstance(reply, ErrorReply):
            raise ClusterToolError(f"{peer.port}: {reply}")
        return reply

    async def on_every_node(self, *args: str | int) -> list[Any]:
        return [await self.call(peer, *args) for peer in self.peers]

    async def show(self) -> None:
        for peer in self.peers:
            state = clock_fields(await self.call(peer, "PYREDIS.CLOCK"))
            self.say(f"{peer.port}  {_text(state['mode']):8} scale {_text(state['scale']):6} "
                     f"protocol time {state['protocol-time-ms']}  held {state['held']}")  # fmt: skip

    async def scale(self, factor: str) -> None:
        await self.on_every_node("CONFIG", "SET", "cluster-time-scale", factor)
        self.say(f"scale {factor} on {len(self.peers)} nodes "
                 f"(every protocol timer now takes {factor}x its real-time length)")  # fmt: skip

    async def freeze(self) -> None:
        await self.on_every_node("PYREDIS.CLOCK", "FREEZE")
        self.say(f"frozen: {len(self.peers)} nodes hold their bus messages; 'step' delivers them")

    async def resume(self) -> None:
        delivered = await self.on_every_node("PYREDIS.CLOCK", "RESUME")
        self.say(f"running again; {sum(delivered)} held messages delivered")

    async def advance(self, ms: int) -> None:
        ticks = await self.on_every_node("PYREDIS.CLOCK", "ADVANCE", ms)
        self.say(f"advanced {ms} ms: " + ", ".join(f"{p.port} {t} ticks" for p, t in zip(self.peers, ticks, strict=True)))

    async def pending(self) -> None:
        listed: list[tuple[int, str]] = []
        for peer in self.peers:
            for line in await self.call(peer, "PYREDIS.CLOCK", "PENDING"):
                listed.append((peer.port, _text(line)))
        if not listed:
            self.say("nothing held")
        for port, line in listed:
            self.say(f"{port}  {line}")

    async def step(self, count: int) -> None:
        for _ in range(count):
            clocks = [(peer, clock_fields(await self.call(peer, "PYREDIS.CLOCK"))) for peer in self.peers]
            peer = oldest_holder(clocks)
            if peer is None:
                self.say("nothing held")
                return
            delivered = await self.call(peer, "PYREDIS.CLOCK", "STEP")
            self.say(f"{peer.port}  delivered {_text(delivered)}")


async def run(args: argparse.Namespace, out: Any) -> int:
    peers = await discover(args.host, args.port, args.only, args.timeout)
    tool = ClockTool(peers, out, args.timeout)
    if args.action == "show":
        await tool.show()
    elif args.action == "scale":
        await tool.scale(args.value)
    elif args.action == "freeze":
        await tool.freeze()
    elif args.action == "resume":
        await tool.resume()
    elif args.action == "advance":
        await tool.advance(int(args.value))
    elif args.action == "pending":
        await tool.pending()
    else:  # step
        await tool.step(int(args.value or 1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pyredis_cluster clock",
        description="Slow motion and step mode for every node of a cluster.",
    )
    add_node_arguments(parser, only_help="act on that node only")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("value", nargs="?", help="scale: the factor; advance: milliseconds; step: how many")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.action in ("scale", "advance") and args.value is None:
        parser.error(f"{args.action} needs a value")
    if args.action in ("advance", "step") and args.value is not None and not args.value.isdigit():
        parser.error(f"{args.action} takes a whole number")
    try:
        return asyncio.run(run(args, sys.stdout))
    except ClusterToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError, ConnectionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
