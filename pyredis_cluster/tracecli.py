"""``python -m pyredis_cluster trace``: follow the teaching trace of a cluster as a story.

Usage::

    python -m pyredis_cluster trace --port 7000            # every node, merged
    python -m pyredis_cluster trace --port 7000 --only     # one node: what it sends and receives
    python -m pyredis_cluster trace --port 7000 --chatter  # with the PING/PONG heartbeat
    python -m pyredis_cluster trace --port 7000 --json     # raw records (cluster/trace.py), merged

Theory of operation
-------------------
1. **Discover.** ``CLUSTER NODES`` on ``--port`` lists the cluster; every node with
   an address is followed (``--only``: just that one). A node that cannot be reached
   or does not know PYREDIS.TRACE (a real redis-server) is reported and skipped: its
   messages still show, from the other side.
2. **Switch on, subscribe.** For each node: ``PYREDIS.TRACE STATUS`` (was the channel
   target already on?), ``SUBSCRIBE __pyredis__:trace`` on a connection of its own,
   then ``PYREDIS.TRACE ON`` (the subscription comes first, so nothing is missed).
   On exit, ``PYREDIS.TRACE OFF CHANNEL`` on each node where *we* switched it on; a
   file trace or another viewer's channel stays as it was.
3. **Merge.** Records from several connections arrive slightly out of order, so
   they wait ``MERGE_WINDOW`` seconds in a heap ordered by protocol time ``t`` before
   they are printed (``Merger``).
4. **Tell the story** (``TraceFormatter``, pure, used by the tests on a simulated
   failover). One line per record::

       +2.104  7002  · Marking node 7001 as failing (quorum reached).
       +2.104  7002  → 7000  FAIL about 7001
       +2.871  7004  → 7000  FAILOVER_AUTH_REQUEST epoch 7

   Nodes are named by their client port (``ip:port`` when ports repeat), node ids
   inside event texts are replaced by those names, each node has its own colour
   (only on a terminal, or with ``--color always``), and the lines that carry the
   story (PFAIL, FAIL, elections, votes, the winner) are bold. A message traced at
   both ends is shown once, when it is sent; a receive is shown only when its
   sender is not followed (a real redis-server peer), or in ``--only`` mode, where
   both directions of one node are the point.

By default the heartbeat is hidden (PING/PONG and the socket events, see
``cluster.trace.is_chatter``): a failover then reads as a short story. ``--chatter``
shows everything, ``--events-only`` only state changes.

Deliberately weak
-----------------
Nodes that join after the start are not followed (restart the command). Times are
each node's protocol clock, shown relative to the first record printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from .cluster.trace import TRACE_CHANNEL, Record, TraceFormatError, is_chatter, parse_record, to_json_line
from .protocol.encoder import ErrorReply
from .resp_client import ClusterToolError, Connection, Peer, add_node_arguments, discover

#: Seconds a record waits for records with an earlier ``t`` from other nodes.
MERGE_WINDOW = 0.25
#: One colour per node, in the order the nodes are first seen (ANSI foreground codes).
PALETTE = (36, 33, 35, 32, 34, 96, 93, 95, 92, 94, 91, 37)
#: Events that carry the story of a failure and a failover: printed in bold.
HEADLINE_EVENTS = frozenset({
    "pfail", "fail", "fail_cleared", "cluster_state_changed", "election_scheduled", "election_started",
    "vote_granted", "vote_refused", "votes_counted", "failover_won", "failover_taken_over",
    "election_expired", "epoch_bumped", "config_epoch_collision", "role_changed",
    "manual_failover_requested", "manual_failover_ready", "replica_migrated", "update_received",
})  # fmt: skip
_NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")


# ----------------------------------------------------------------------------
# Formatting (pure)
# ----------------------------------------------------------------------------
@dataclass
class FormatOptions:
    chatter: bool = False  # show PING/PONG and socket events
    events_only: bool = False
    color: bool = False
    only: bool = False  # one node followed: show its receives too
    #: ids of the nodes whose trace is followed (None: all of them, as in the simulation)
    followed: set[str] | None = None


@dataclass
class TraceFormatter:
    """Turns records into readable lines; remembers the short name of every node it saw."""

    options: FormatOptions = field(default_factory=FormatOptions)
    names: dict[str, str] = field(default_factory=dict)  # node id -> "7000"
    colors: dict[str, int] = field(default_factory=dict)  # node id -> ANSI code
    start_ms: int | None = None

    # -- names --------------------------------------------------------------------------------

    def learn(self, node_id: str | None, addr: str | None) -> None:
        """Name ``node_id`` after the client port in ``addr`` ("ip:port" or "ip:port@cport")."""
        if not node_id or not addr or node_id in self.names:
            return
        host_port = addr.split("@", 1)[0]
        port = host_port.rsplit(":", 1)[-1]
        if not port or port == "0":
            return
        name = port if port not in self.names.values() else host_port
        self.names[node_id] = name
        if node_id not in self.colors:
            self.colors[node_id] = PALETTE[len(self.colors) % len(PALETTE)]

    def learn_record(self, record: Record) -> None:
        self.learn(record["node"], f":{record['port']}")
        if record["kind"] != "event":
            self.learn(record["from"], record["from_addr"])
            self.learn(record["to"], record["to_addr"])
            for entry in record.get("gossip", ()):
                self.learn(entry["node"], entry["addr"])

    def name(self, node_id: str | None) -> str:
        if node_id is None:
            return "?"
        return self.names.get(node_id) or node_id[:8]

    def shorten(self, text: str) -> str:
        """Node ids in a text replaced by their short names."""
        return _NODE_ID.sub(lambda m: self.name(m.group(0)), text)

    # -- filtering ----------------------------------------------------------------------------

    def shown(self, record: Record) -> bool:
        """The filters the user chose: ``--events-only``, and the chatter unless ``--chatter``."""
        options = self.options
        if options.events_only and record["kind"] != "event":
            return False
        return options.chatter or not is_chatter(record)

    def wanted(self, record: Record) -> bool:
        """``shown``, and each message once: at its sending end when both ends are followed."""
        if not self.shown(record):
            return False
        if record["kind"] == "recv" and not self.options.only:
            # Both ends traced: the message was already shown when it was sent.
            followed = self.options.followed
            return followed is not None and record["from"] not in followed
        return True

    # -- lines --------------------------------------------------------------------------------

    def format(self, record: Record) -> str | None:
        """The line for ``record`` (None when filtered out). Records must come in time order."""
        self.learn_record(record)
        if not self.wanted(record):
            return None
        if self.start_ms is None:
            self.start_ms = record["t"]
        elapsed = (record["t"] - self.start_ms) / 1000
        if record["kind"] == "event":
            who, body = record["node"], f"· {self.shorten(record['text'])}"
            bold = record["name"] in HEADLINE_EVENTS
        else:
            who, body = record["from"], f"→ {self.name(record['to']):<5} {self.describe_message(record)}"
            bold = record["type"] not in ("PING", "PONG", "MEET", "PUBLISH", "PUBLISHSHARD")
        line = f"{elapsed:+9.3f}  {self.name(who):>5}  {body}"
        return self.paint(line, record["node"], bold)

    def describe_message(self, record: Record) -> str:
        """TYPE and what matters in it, e.g. ``FAILOVER_AUTH_REQUEST epoch 7``."""
        kind = record["type"]
        parts = [kind]
        if kind in ("FAIL", "UPDATE"):
            parts.append(f"about {self.name(record['about'])}")
        if kind == "UPDATE":
            parts.append(f"config epoch {record['about_config_epoch']} slots {record['about_slots'] or '-'}")
        elif kind in ("FAILOVER_AUTH_REQUEST", "FAILOVER_AUTH_ACK", "MFSTART"):
            parts.append(f"epoch {record['current_epoch']}")
        elif kind in ("PING", "PONG", "MEET"):
            flags = record["flags"].replace("myself,", "")  # the sender speaks of itself: implied
            parts.append(f"epoch {record['current_epoch']}/{record['config_epoch']} {flags}")
            if record["slots"]:
                parts.append(f"slots {record['slots']}")
            gossip = [self._gossip_word(entry) for entry in record.get("gossip", ())]
            if gossip:
                parts.append("gossip " + " ".join(gossip))
        elif kind in ("PUBLISH", "PUBLISHSHARD"):
            parts.append(f"{json.dumps(record['channel'])} {json.dumps(record['message'])}")
        if record["mflags"]:
            parts.append("[" + ",".join(record["mflags"]) + "]")
        if record["kind"] == "recv":
            parts.append(f"(received by {self.name(record['node'])})")
        return " ".join(parts)

    def _gossip_word(self, entry: Record) -> str:
        flags = [word for word in entry["flags"].split(",") if word in ("fail?", "fail", "handshake", "noaddr")]
        return self.name(entry["node"]) + (":" + ",".join(flags) if flags else "")

    def notice(self, node_id: str | None, text: str) -> str:
        """A line of the tool's own (a node's trace connection ended...)."""
        return self.paint(f"{'':9}  {self.name(node_id):>5}  ✕ {text}", node_id, False)

    def paint(self, line: str, node_id: str | None, bold: bool) -> str:
        if not self.options.color:
            return line
        color = self.colors.get(node_id or "", 37)
        return f"\x1b[{'1;' if bold else ''}{color}m{line}\x1b[0m"


def format_records(records: Iterable[Record], options: FormatOptions | None = None) -> list[str]:
    """Every line the CLI would print for ``records`` (merged by time, stable)."""
    formatter = TraceFormatter(options or FormatOptions())
    ordered = sorted(records, key=lambda record: record["t"])
    return [line for line in map(formatter.format, ordered) if line is not None]


# ----------------------------------------------------------------------------
# Merging records from several nodes by time
# ----------------------------------------------------------------------------
class Merger:
    """Holds records for ``window`` seconds, then releases them ordered by ``t``."""

    def __init__(self, window: float = MERGE_WINDOW) -> None:
        self.window = window
        self._heap: list[tuple[int, int, float, Record]] = []
        self._seq = itertools.count()

    def push(self, record: Record, arrived: float) -> None:
        heapq.heappush(self._heap, (record["t"], next(self._seq), arrived, record))

    def __len__(self) -> int:
        return len(self._heap)

    def ready(self, now: float) -> list[Record]:
        """The earliest records, as long as the earliest of all has waited long enough."""
        out = []
        while self._heap and now - self._heap[0][2] >= self.window:
            out.append(heapq.heappop(self._heap)[3])
        return out

    def drain(self) -> list[Record]:
        return [heapq.heappop(self._heap)[3] for _ in range(len(self._heap))]


# ----------------------------------------------------------------------------
# Talking to the nodes
# ----------------------------------------------------------------------------
TraceCliError = ClusterToolError  # the name this module's callers and tests know


@dataclass
class Follow:
    """One followed node: its subscription, and whether we switched its channel on."""

    peer: Peer
    subscription: Connection
    switched_on: bool


async def follow(peer: Peer, timeout: float) -> Follow:
    """Subscribe to a node's trace channel, then switch its channel target on if needed."""
    control = await Connection.open(peer.host, peer.port, timeout)
    try:
        status = await control.call("PYREDIS.TRACE", "STATUS")
        if isinstance(status, ErrorReply):
            raise TraceCliError(f"{peer.host}:{peer.port} has no trace ({status}): not a pyredis_cluster node?")
        was_on = dict(zip(status[::2], status[1::2])).get(b"channel") == b"yes"  # a RESP2 map
        subscription = await Connection.open(peer.host, peer.port, timeout)
        confirmation = await subscription.call("SUBSCRIBE", TRACE_CHANNEL)
        if isinstance(confirmation, ErrorReply):
            subscription.close()
            raise TraceCliError(f"{peer.host}:{peer.port} refused SUBSCRIBE: {confirmation}")
        if not was_on:
            reply = await control.call("PYREDIS.TRACE", "ON")
            if isinstance(reply, ErrorReply):
                subscription.close()
                raise TraceCliError(f"{peer.host}:{peer.port} refused PYREDIS.TRACE ON: {reply}")
        return Follow(peer, subscription, switched_on=not was_on)
    finally:
        control.close()


async def switch_off(followed: list[Follow], timeout: float) -> None:
    """Put back the channel targets we switched on (nodes that died are skipped)."""

    async def off(item: Follow) -> None:
        with contextlib.suppress(OSError, TimeoutError, ConnectionError):
            conn = await Connection.open(item.peer.host, item.peer.port, timeout)
            try:
                await conn.call("PYREDIS.TRACE", "OFF", "CHANNEL", timeout=timeout)
            finally:
                conn.close()

    await asyncio.gather(*(off(item) for item in followed if item.switched_on))


# ----------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------
class Printer:
    """Where merged records go: formatted lines, or JSON, counted for ``--count``."""

    def __init__(self, formatter: TraceFormatter, as_json: bool, out: TextIO, count: int | None) -> None:
        self.formatter, self.as_json, self.out, self.remaining = formatter, as_json, out, count

    @property
    def done(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def emit(self, record: Record) -> None:
        if self.done:
            return
        if record["kind"] == "notice":
            self.notice(record["node"], record["text"])
            return
        if self.as_json:  # raw records: both ends of each message are kept
            line = to_json_line(record) if self.formatter.shown(record) else None
        else:
            line = self.formatter.format(record)
        if line is None:
            return
        self.out.write(line + "\n")
        self.out.flush()
        if self.remaining is not None:
            self.remaining -= 1

    def notice(self, node_id: str, text: str) -> None:
        if self.as_json:
            print(f"trace: {self.formatter.name(node_id)}: {text}", file=sys.stderr)
        elif not self.done:
            self.out.write(self.formatter.notice(node_id, text) + "\n")
            self.out.flush()


async def run(args: argparse.Namespace, out: TextIO, stop: asyncio.Event | None = None) -> int:
    """Follow the nodes until ``--count``/``--duration``, SIGINT/SIGTERM, or ``stop`` is set."""
    peers = await discover(args.host, args.port, args.only, args.timeout)
    color = args.color == "always" or (args.color == "auto" and out.isatty() and "NO_COLOR" not in os.environ)
    options = FormatOptions(chatter=args.chatter, events_only=args.events_only, color=color, only=args.only)
    formatter = TraceFormatter(options)
    for peer in peers:
        formatter.learn(peer.node_id, f"{peer.host}:{peer.port}")
    followed: list[Follow] = []
    for peer in peers:
        try:
            followed.append(await follow(peer, args.timeout))
        except (OSError, TimeoutError, ConnectionError, TraceCliError) as err:
            print(f"trace: not following {peer.host}:{peer.port} ({err})", file=sys.stderr)
    if not followed:
        raise TraceCliError("no node to follow")
    options.followed = {item.peer.node_id for item in followed}
    if not args.json:
        names = ", ".join(formatter.name(item.peer.node_id) for item in followed)
        print(f"trace: following {names}" + ("" if args.chatter else " (PING/PONG hidden: --chatter shows them)"),
              file=sys.stderr)  # fmt: skip
    printer = Printer(formatter, args.json, out, args.count)
    merger = Merger(0.0 if len(followed) == 1 else MERGE_WINDOW)
    queue: asyncio.Queue[tuple[Follow, Record | None]] = asyncio.Queue()

    async def read(item: Follow) -> None:
        try:
            while True:
                message = await item.subscription.reply()
                if isinstance(message, list) and len(message) == 3 and message[0] == b"message":
                    try:
                        await queue.put((item, parse_record(message[2])))
                    except TraceFormatError:
                        continue
        except (OSError, ConnectionError):
            await queue.put((item, None))

    readers = [asyncio.create_task(read(item)) for item in followed]
    deadline = time.monotonic() + args.duration if args.duration is not None else None
    if stop is None:  # the command line: Ctrl-C or SIGTERM stop reading, flush, switch the trace off
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    latest_t = 0  # a closed connection is told at the time of the latest record seen
    try:
        while not printer.done and not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = 0.05 if merger else 0.2  # short: the merge window, the deadline and stop are checked
            try:
                item, record = await asyncio.wait_for(queue.get(), wait)
                if record is None:
                    record = {"kind": "notice", "t": latest_t, "node": item.peer.node_id,
                              "text": "its trace connection closed"}  # fmt: skip
                latest_t = max(latest_t, record["t"])
                merger.push(record, time.monotonic())
            except TimeoutError:
                pass
            for ready in merger.ready(time.monotonic()):
                printer.emit(ready)
    finally:
        for ready in merger.drain():
            printer.emit(ready)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for item in followed:
            item.subscription.close()
        await switch_off(followed, args.timeout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pyredis_cluster trace",
        description="Follow the bus messages and state changes of a cluster's nodes, merged in time.",
    )
    add_node_arguments(parser, only_help="follow only that node (its sends and receives)")
    chatter = parser.add_mutually_exclusive_group()
    chatter.add_argument("--chatter", action="store_true", help="also show PING/PONG and socket events")
    chatter.add_argument("--no-chatter", dest="chatter", action="store_false", help="hide them (the default)")
    parser.add_argument("--events-only", action="store_true", help="only state changes, no messages")
    parser.add_argument("--json", action="store_true", help="raw trace records (JSON lines), merged")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the nodes (auto: on a terminal)")  # fmt: skip
    parser.add_argument("--count", type=int, default=None, help="stop after printing this many lines")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args, sys.stdout))
    except TraceCliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # piped into something that quit (`| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
