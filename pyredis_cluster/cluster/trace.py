"""The teaching trace: one JSON record per bus message sent or received and per state change.

Theory of operation
-------------------
A workshop wants to *see* the protocol: who pinged whom, when a node became PFAIL
then FAIL, who voted for whom in which epoch. Two streams already exist inside a
node: the messages the core sends (``Send`` effects) and receives (decoded
``Message`` objects), and the events it reports (events.py). This module turns
both into plain, JSON-serialisable dicts, the **trace records**. It is pure: it
reads a ``ClusterState`` for names and addresses but never changes it, and it
touches no file, socket or clock. Where the records go is decided elsewhere:

* on a running node, ``cluster/bus.py`` calls a ``BusTracer`` (this module's
  ``TraceRecorder``) for every message it hands to a socket or to the core, and
  ``server/trace.py`` feeds it the events and writes the records to a file (JSON
  lines) and/or publishes them **node-locally** on the pub/sub channel
  ``__pyredis__:trace`` (``TRACE_CHANNEL``), never over the bus;
* in the deterministic simulation (``testing/simulation.py``, ``trace=True``) the
  same recorder fills ``sim.trace``, so a simulated failover gives a reproducible
  trace;
* ``pyredis_cluster/tracecli.py`` (``python -m pyredis_cluster trace``) merges
  the records of every node and prints them as a story.

A message is recorded **when the core decides to send it** (``kind: "send"``, at
the time of the call that produced it, even if the socket is still connecting) and
**when a decoded message is handed to the core** (``kind: "recv"``, before the core
handles it, so the records it causes come after it). A message lost on the way (a
partition, a dead peer) has a ``send`` record and no ``recv``. Packets dropped
before the core sees them (framing errors, DEBUG DROP-CLUSTER-PACKET-FILTER, the
test double's partitions) are not received; the core's ``packet_dropped`` event is
recorded where one exists.

The record format, version 1
----------------------------
Every record has:

=================  ===========================================================
``v``               format version: ``1``. A change that removes or renames a
                    field bumps it; new optional fields do not.
``t``               protocol time in Unix milliseconds: the time the core was
                    given for the call that sent, received or changed something
                    (the simulation's manual clock there).
``kind``            ``"send"``, ``"recv"`` or ``"event"``.
``node``            id (40 hex characters) of the node that recorded it.
``port``            that node's (announced) client port: a short, readable name.
=================  ===========================================================

Message records (``kind`` ``"send"`` / ``"recv"``) add, from the 2256-byte header
every message carries (messages.py):

=================  ===========================================================
``type``            ``"PING"``, ``"PONG"``, ``"MEET"``, ``"FAIL"``, ``"PUBLISH"``,
                    ``"FAILOVER_AUTH_REQUEST"``, ``"FAILOVER_AUTH_ACK"``,
                    ``"UPDATE"``, ``"MFSTART"``, ``"MODULE"``, ``"PUBLISHSHARD"``,
                    or ``"UNKNOWN"`` (a type number 7.0 does not know).
``code``            the wire type number (0 for PING ... 10 for PUBLISHSHARD).
``from``            sender's node id (the header's ``sender``: a random name
                    while a handshake is in progress).
``from_addr``       sender's ``"ip:port"`` (client port) as the recorder knows it;
                    the ip may be empty before a node learned its own address.
``to``              receiver's node id, or ``null`` when the sender does not
                    know it yet (an answer on an inbound link not yet bound).
``to_addr``         receiver's ``"ip:port"``, or ``null`` when unknown.
``current_epoch``   the sender's currentEpoch.
``config_epoch``    the sender's configEpoch (a replica sends its primary's).
``offset``          the sender's replication offset.
``flags``           the sender's own flags in CLUSTER NODES words
                    (``"myself,master"``: the header includes ``myself``), or
                    ``"noflags"``.
``primary``         id of the sender's primary when it is a replica, else ``null``.
``slots``           the slots the sender claims (a replica: its primary's) as
                    ranges, ``"0-5460 5462"``; ``""`` for none.
``mflags``          message flags as a list of words: ``"paused"`` (a primary
                    paused for a manual failover), ``"forceack"`` (a manual
                    failover's vote request), ``"ext_data"``.
``state``           the sender's cluster state: ``"ok"`` or ``"fail"``.
=================  ===========================================================

and, by type:

=========================  =================================================================
PING, PONG, MEET            ``gossip``: a list of entries, each ``{"node": id, "flags":
                            words (no ``myself``), "ping_sent": s, "pong_received": s,
                            "addr": "ip:port@cport"}`` (the times are the sender's view,
                            in Unix **seconds**, 0 = none); ``hostname`` when the
                            HOSTNAME extension is present.
FAIL                        ``about``: id of the node declared FAIL.
UPDATE                      ``about``: id of the node whose config is sent,
                            ``about_config_epoch``, ``about_slots`` (ranges).
PUBLISH, PUBLISHSHARD       ``channel``, ``message`` (text, undecodable bytes escaped,
                            at most ``MAX_TEXT`` characters), ``message_len`` (bytes).
MODULE                      ``module_id`` (hex), ``module_type``, ``payload_len``.
=========================  =================================================================

Event records (``kind`` ``"event"``) add:

=================  ===========================================================
``name``            the event's stable name (events.py ``EventName``:
                    ``"pfail"``, ``"fail"``, ``"vote_granted"``, ``"failover_won"``...).
``level``           Redis's log level of the line: ``"debug"``, ``"verbose"``,
                    ``"notice"`` or ``"warning"``.
``fields``          the event's fields (documented next to each ``EventName``),
                    made JSON-safe (enums as their values, tuples as lists).
``text``            the human line, ``event.describe()`` (Redis's wording where
                    Redis logs the same change).
=================  ===========================================================

Deliberately weak
-----------------
Records are advisory, like events: building one never changes the core, and
losing one (a slow subscriber, a full disk) changes no behaviour. ``t`` comes from
each node's own clock, so across processes the merged order is only as good as
the clocks (one machine: good enough to read a story). Ids in ``text`` are full
node ids; readers shorten them (tracecli.py does, using ``node``/``port``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .effects import LinkId, Send
from .events import Event
from .messages import (
    Fail,
    GossipEntry,
    Message,
    MessageFlags,
    MessageType,
    Module,
    PingLike,
    Publish,
    PublishShard,
    Update,
)
from .nodes import NodeFlags, format_flags

if TYPE_CHECKING:
    from .state import ClusterState

TRACE_FORMAT_VERSION = 1
"""``v`` of every record (see the module docstring)."""

TRACE_CHANNEL = "__pyredis__:trace"
"""The node-local pub/sub channel the records are published on (SUBSCRIBE to it)."""

MAX_TEXT = 1024
"""PUBLISH payloads longer than this many characters are cut in ``message``."""

Record = dict[str, Any]

#: Message types that only say "I am alive": hidden by readers that want the story.
CHATTER_TYPES = frozenset({"PING", "PONG"})
#: Event names about sockets, not about the cluster's state: hidden with the chatter.
CHATTER_EVENTS = frozenset({"link_connecting", "link_connected", "link_disconnected"})


class BusTracer(Protocol):
    """What ``cluster/bus.py`` calls while tracing is on (``ClusterBus.tracer``)."""

    def sent(self, send: Send) -> None:
        """The core asked for ``send.message`` to go out (before it is written)."""

    def received(self, link_id: LinkId, message: Message, now_ms: int) -> None:
        """``message`` arrived on ``link_id`` and is about to be handled at ``now_ms``."""


# ----------------------------------------------------------------------------
# Building records
# ----------------------------------------------------------------------------
def type_name(code: int) -> str:
    """``"FAILOVER_AUTH_REQUEST"`` for 5, ...; ``"UNKNOWN"`` for a number 7.0 does not know."""
    try:
        return MessageType(code).name
    except ValueError:
        return "UNKNOWN"


def address(ip: str, port: int) -> str:
    return f"{ip}:{port}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")[:MAX_TEXT]


def _mflag_words(flags: MessageFlags) -> list[str]:
    return [flag.name.lower() for flag in MessageFlags if flag in flags and flag.name]


def gossip_entry(entry: GossipEntry) -> Record:
    """One gossip entry: the sender's view of another node."""
    return {
        "node": entry.nodename,
        "flags": format_flags(entry.flags),
        "ping_sent": entry.ping_sent,
        "pong_received": entry.pong_received,
        "addr": f"{entry.ip}:{entry.port}@{entry.cport}",
    }


def message_record(
    kind: str,
    message: Message,
    *,
    t: int,
    node: str,
    port: int,
    sender_addr: str,
    receiver: str | None,
    receiver_addr: str | None,
) -> Record:
    """The record of one message sent (``kind="send"``) or received (``"recv"``)."""
    h = message.header
    code = message.type
    record: Record = {
        "v": TRACE_FORMAT_VERSION,
        "t": t,
        "kind": kind,
        "node": node,
        "port": port,
        "type": type_name(code),
        "code": code,
        "from": h.sender,
        "from_addr": sender_addr,
        "to": receiver,
        "to_addr": receiver_addr,
        "current_epoch": h.current_epoch,
        "config_epoch": h.config_epoch,
        "offset": h.offset,
        "flags": format_flags(h.flags),
        "primary": h.slaveof,
        "slots": h.myslots.format(),
        "mflags": _mflag_words(h.mflags),
        "state": "ok" if h.state == 0 else "fail",
    }
    if isinstance(message, PingLike):
        record["gossip"] = [gossip_entry(entry) for entry in message.gossip]
        if message.hostname is not None:
            record["hostname"] = message.hostname
    elif isinstance(message, Fail):
        record["about"] = message.nodename
    elif isinstance(message, Update):
        record["about"] = message.nodename
        record["about_config_epoch"] = message.config_epoch
        record["about_slots"] = message.slots.format()
    elif isinstance(message, Publish | PublishShard):
        record["channel"] = _text(message.channel)
        record["message"] = _text(message.message)
        record["message_len"] = len(message.message)
    elif isinstance(message, Module):
        record["module_id"] = message.module_id.hex()
        record["module_type"] = message.module_type
        record["payload_len"] = len(message.payload)
    return record


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types: enums by value, flags as words, tuples as lists."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, NodeFlags):
        return format_flags(value)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):  # an enum's value may be a bool
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def event_record(event: Event, *, port: int) -> Record:
    """The record of one event of the node listening on client port ``port``."""
    return {
        "v": TRACE_FORMAT_VERSION,
        "t": event.time_ms,
        "kind": "event",
        "node": event.source,
        "port": port,
        "name": str(event.name),
        "level": event.level.name.lower(),
        "fields": json_safe(dict(event.fields)),
        "text": event.describe(),
    }


class TraceRecorder:
    """Turns one core's traffic and events into records and hands them to ``emit``.

    It implements ``BusTracer`` for the bus, and ``event`` fits the event listeners
    of ``server/cluster_node.py`` and the simulation's event stream. ``core`` returns
    the node's current ``ClusterState`` (a restart or the test harness may replace it).
    """

    def __init__(self, core: Callable[[], ClusterState], emit: Callable[[Record], None]) -> None:
        self.core = core
        self.emit = emit

    @property
    def state(self) -> ClusterState:
        return self.core()

    def _my_addr(self) -> str:
        me = self.state.myself
        return address(me.ip, me.port)

    def _node_addr(self, node_id: str | None) -> str | None:
        node = self.state.nodes.get(node_id) if node_id is not None else None
        return address(node.ip, node.port) if node is not None else None

    def sent(self, send: Send) -> None:
        state = self.state
        self.emit(message_record(
            "send", send.message, t=state.now, node=state.myid, port=state.myself.port,
            sender_addr=self._my_addr(), receiver=send.to, receiver_addr=self._node_addr(send.to),
        ))  # fmt: skip

    def received(self, link_id: LinkId, message: Message, now_ms: int) -> None:
        state = self.state
        h = message.header
        sender_addr = self._node_addr(h.sender)
        if sender_addr is None:  # not known (yet): what the header and the socket say
            link = state.link(link_id)
            sender_addr = address(h.myip or (link.peer_ip if link is not None else ""), h.port)
        self.emit(message_record(
            "recv", message, t=now_ms, node=state.myid, port=state.myself.port,
            sender_addr=sender_addr, receiver=state.myid, receiver_addr=self._my_addr(),
        ))  # fmt: skip

    def event(self, event: Event) -> None:
        self.emit(event_record(event, port=self.state.myself.port))


# ----------------------------------------------------------------------------
# Reading records
# ----------------------------------------------------------------------------
def to_json_line(record: Record) -> str:
    """One record as a compact JSON line (no newline)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


class TraceFormatError(ValueError):
    """Not a trace record of a version this code reads."""


def parse_record(line: str | bytes) -> Record:
    """A record from a JSON line (a file line or a channel message); checks ``v`` and ``kind``."""
    try:
        record = json.loads(line)
    except ValueError as err:
        raise TraceFormatError(f"not JSON: {err}") from None
    if not isinstance(record, dict) or record.get("v") != TRACE_FORMAT_VERSION:
        raise TraceFormatError(f"not a version {TRACE_FORMAT_VERSION} trace record")
    if record.get("kind") not in ("send", "recv", "event"):
        raise TraceFormatError(f"unknown record kind {record.get('kind')!r}")
    return record


def is_chatter(record: Record) -> bool:
    """PING/PONG traffic and socket events: what a reader hides to see the story."""
    if record["kind"] == "event":
        return record["name"] in CHATTER_EVENTS
    return record["type"] in CHATTER_TYPES
