"""The cluster bus messages of Redis 7.0 (``RCmb``, protocol version 1) as dataclasses.

Theory of operation
-------------------
Nodes talk over the *cluster bus*: a TCP connection to the peer's bus port
(client port + 10000 by default). Each node opens one **outbound** link to every
peer it knows and accepts **inbound** links from them. Every message is a fixed
2256-byte header followed by a type-specific payload (``shared/reference/bus.md``
§1 gives the byte layout; ``codec.py`` turns these classes into bytes and back).

The header is the heart of the protocol: *every* message, whatever its type,
tells the receiver who the sender is (``sender``), its address (``port``,
``cport``, ``pport``, ``myip``), its role (``slaveof``: all zeros for a primary),
which slots it claims (``myslots``; a replica sends its primary's), and its epochs
(``current_epoch``, ``config_epoch``), so configuration spreads piggy-backed on
all traffic.

The eleven message types, who sends them, and what the receiver does:

=========================  ========================================================
PING / PONG / MEET          Heartbeat plus gossip. A node PINGs on its outbound link;
                            the peer answers PONG **on the same connection**. MEET is a
                            PING that also asks an unknown receiver to add the sender
                            (sent first on a link to a node added by CLUSTER MEET).
                            Payload: ``gossip`` entries about other nodes (a few random
                            ones plus every PFAIL one) and ping ``extensions``.
FAIL                        "Node X has FAIL": broadcast by whoever reached the quorum;
                            receivers set FAIL at once.
PUBLISH / PUBLISHSHARD      Pub/Sub fan-out (to all nodes / to the sender's shard).
FAILOVER_AUTH_REQUEST       A replica asks primaries for a vote (header only; FORCEACK
                            in ``mflags`` for manual failovers).
FAILOVER_AUTH_ACK           A primary's vote (header only), on its outbound link.
UPDATE                      "Your view of node X is stale": X's config epoch and slots.
MFSTART                     A replica asks its primary to pause for a manual failover.
MODULE                      Opaque module payload (module id is 8 host-endian bytes).
=========================  ========================================================

Field names follow Redis (``current_epoch``, ``config_epoch``, ``offset``,
``myslots``, ``slaveof``, ``myip``, ``cport``, ``pport``, ``mflags``...) so a reader
can hold this module next to the spec. The framing fields of the header (``sig``,
``totlen``, ``ver``, ``type``, ``count``, ``extensions``, the ``notused`` bytes and
``mflags[1..2]``) are not stored: the codec derives them from the message class,
the gossip and extension lists, and writes zeros where Redis writes zeros.

Ping extensions: Redis 7.0.15 knows exactly one, HOSTNAME (type 0), sent on every
PING/PONG/MEET when ``cluster-announce-hostname`` is set. Types 1-3
(HUMAN_NODENAME, FORGOTTEN_NODE, SHARDID) exist only from 7.2 on; a 7.0 receiver
skips them with a warning, and so do we: they decode to ``UnknownExt`` and a node
talking to 7.0 peers must not send them.

Deliberately weak
-----------------
Wire strings (node ids, IPs, hostnames) are decoded as latin-1, so any byte
sequence survives a round trip and a hostile peer can never make decoding raise;
validating a node id is the cluster core's job (``nodes.is_valid_node_id``).
Messages are frozen; build variants with ``dataclasses.replace``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from .nodes import NO_FLAGS, NodeFlags
from .slots import EMPTY_SLOTS, SlotBitmap


class MessageType(enum.IntEnum):
    """Message types (``CLUSTERMSG_TYPE_*``), with their wire numbers."""

    PING = 0
    PONG = 1
    MEET = 2
    FAIL = 3
    PUBLISH = 4
    FAILOVER_AUTH_REQUEST = 5
    FAILOVER_AUTH_ACK = 6
    UPDATE = 7
    MFSTART = 8
    MODULE = 9
    PUBLISHSHARD = 10


CLUSTERMSG_TYPE_COUNT = 11
"""Types at or above this are "unknown": accepted, then ignored with a warning."""

# Redis's clusterGetMessageTypeString: the names used in its log lines.
_TYPE_LOG_NAMES: dict[int, str] = {
    MessageType.PING: "ping",
    MessageType.PONG: "pong",
    MessageType.MEET: "meet",
    MessageType.FAIL: "fail",
    MessageType.PUBLISH: "publish",
    MessageType.PUBLISHSHARD: "publishshard",
    MessageType.FAILOVER_AUTH_REQUEST: "auth-req",
    MessageType.FAILOVER_AUTH_ACK: "auth-ack",
    MessageType.UPDATE: "update",
    MessageType.MFSTART: "mfstart",
    MessageType.MODULE: "module",
}


def message_type_log_name(message_type: int) -> str:
    """The type's name as Redis logs it (``"auth-req"``, ..., ``"unknown"``)."""
    return _TYPE_LOG_NAMES.get(message_type, "unknown")


class MessageFlags(enum.Flag, boundary=enum.KEEP):
    """``mflags[0]``, the per-message flags."""

    PAUSED = 1  # primary is paused for a manual failover (on every header it sends meanwhile)
    FORCEACK = 2  # AUTH_REQUEST of a manual failover: vote although the primary is not FAIL
    EXT_DATA = 4  # ping extensions follow the gossip


NO_MESSAGE_FLAGS = MessageFlags(0)


class BusClusterState(enum.IntEnum):
    """Header ``state``: the sender's view of the cluster (7.0 receivers ignore it)."""

    OK = 0
    FAIL = 1


class PingExtType(enum.IntEnum):
    """Ping extension types. Only HOSTNAME exists in Redis 7.0."""

    HOSTNAME = 0
    HUMAN_NODENAME = 1  # 7.2+: unknown to 7.0
    FORGOTTEN_NODE = 2  # 7.2+: unknown to 7.0
    SHARDID = 3  # 7.2+: unknown to 7.0


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The semantic fields of the 2256-byte header (bus.md §1.2)."""

    sender: str  # 40-char node id of the sender
    port: int = 0  # sender's client port (TLS port if tls-cluster)
    cport: int = 0  # sender's bus port
    pport: int = 0  # plaintext client port when ``port`` is TLS, else 0
    current_epoch: int = 0  # sender's currentEpoch
    config_epoch: int = 0  # sender's configEpoch; a replica sends its primary's
    offset: int = 0  # replication offset (primary: master_repl_offset; replica: processed)
    myslots: SlotBitmap = EMPTY_SLOTS  # slots claimed; a replica sends its primary's
    slaveof: str | None = None  # Redis's name: the primary's id if the sender is a replica
    myip: str = ""  # cluster-announce-ip, or "" (then the receiver uses the socket peer address)
    flags: NodeFlags = NO_FLAGS  # sender's own flags, MYSELF included (a plain primary sends 17)
    state: int = BusClusterState.OK  # sender's cluster state (informational)
    mflags: MessageFlags = NO_MESSAGE_FLAGS  # mflags[0]

    @property
    def primary_id(self) -> str | None:
        """``slaveof`` under the project's vocabulary."""
        return self.slaveof


@dataclass(frozen=True, slots=True)
class GossipEntry:
    """One 104-byte gossip entry: the sender's view of another node (bus.md §1.4)."""

    nodename: str
    ping_sent: int = 0  # SECONDS (sender's ping_sent / 1000); 0 = no ping pending
    pong_received: int = 0  # SECONDS: unix time of the sender's last PONG from that node
    ip: str = ""
    port: int = 0
    cport: int = 0
    flags: NodeFlags = NO_FLAGS  # never MYSELF/HANDSHAKE/MEET: receivers copy them verbatim
    pport: int = 0


@dataclass(frozen=True, slots=True)
class HostnameExt:
    """Ping extension type 0: the sender's ``cluster-announce-hostname``."""

    hostname: str
    TYPE: ClassVar[int] = PingExtType.HOSTNAME


@dataclass(frozen=True, slots=True)
class UnknownExt:
    """Any other extension, kept as raw bytes. 7.0 skips it with a warning.

    ``payload`` is everything after the 8-byte extension header, padding included,
    so ``8 + len(payload)`` must be a multiple of 8.
    """

    type: int
    payload: bytes = b""


PingExt = HostnameExt | UnknownExt


@dataclass(frozen=True, slots=True)
class _Message:
    header: MessageHeader
    TYPE: ClassVar[int]

    @property
    def type(self) -> int:
        return self.TYPE

    @property
    def log_name(self) -> str:
        return message_type_log_name(self.TYPE)


@dataclass(frozen=True, slots=True)
class _PingLike(_Message):
    gossip: tuple[GossipEntry, ...] = ()
    extensions: tuple[PingExt, ...] = ()

    @property
    def hostname(self) -> str | None:
        """The HOSTNAME extension's value, or None: 7.0 then *clears* the stored one."""
        for ext in self.extensions:
            if isinstance(ext, HostnameExt):
                return ext.hostname
        return None


@dataclass(frozen=True, slots=True)
class Ping(_PingLike):
    TYPE: ClassVar[int] = MessageType.PING


@dataclass(frozen=True, slots=True)
class Pong(_PingLike):
    TYPE: ClassVar[int] = MessageType.PONG


@dataclass(frozen=True, slots=True)
class Meet(_PingLike):
    TYPE: ClassVar[int] = MessageType.MEET


@dataclass(frozen=True, slots=True)
class Fail(_Message):
    """The named node is FAIL."""

    nodename: str
    TYPE: ClassVar[int] = MessageType.FAIL


@dataclass(frozen=True, slots=True)
class Publish(_Message):
    channel: bytes
    message: bytes
    TYPE: ClassVar[int] = MessageType.PUBLISH


@dataclass(frozen=True, slots=True)
class PublishShard(_Message):
    channel: bytes
    message: bytes
    TYPE: ClassVar[int] = MessageType.PUBLISHSHARD


@dataclass(frozen=True, slots=True)
class FailoverAuthRequest(_Message):
    """Header only: the request *is* the header (epochs, claimed slots, slaveof, FORCEACK)."""

    TYPE: ClassVar[int] = MessageType.FAILOVER_AUTH_REQUEST


@dataclass(frozen=True, slots=True)
class FailoverAuthAck(_Message):
    TYPE: ClassVar[int] = MessageType.FAILOVER_AUTH_ACK


@dataclass(frozen=True, slots=True)
class Update(_Message):
    """The receiver's view of ``nodename`` is stale: here are its epoch and slots."""

    config_epoch: int
    nodename: str
    slots: SlotBitmap
    TYPE: ClassVar[int] = MessageType.UPDATE


@dataclass(frozen=True, slots=True)
class MFStart(_Message):
    TYPE: ClassVar[int] = MessageType.MFSTART


@dataclass(frozen=True, slots=True)
class Module(_Message):
    module_id: bytes  # 8 opaque bytes, host byte order on the sender: compare bit for bit
    module_type: int  # 0..255
    payload: bytes = b""
    TYPE: ClassVar[int] = MessageType.MODULE


@dataclass(frozen=True, slots=True)
class UnknownMessage(_Message):
    """A type >= 11. 7.0 accepts it (length = its own totlen) and ignores it."""

    message_type: int
    data: bytes = b""
    TYPE: ClassVar[int] = -1

    @property
    def type(self) -> int:
        return self.message_type


Message = (
    Ping
    | Pong
    | Meet
    | Fail
    | Publish
    | PublishShard
    | FailoverAuthRequest
    | FailoverAuthAck
    | Update
    | MFStart
    | Module
    | UnknownMessage
)

PingLike = Ping | Pong | Meet

MESSAGE_CLASSES: dict[int, type[_Message]] = {
    cls.TYPE: cls
    for cls in (
        Ping,
        Pong,
        Meet,
        Fail,
        Publish,
        PublishShard,
        FailoverAuthRequest,
        FailoverAuthAck,
        Update,
        MFStart,
        Module,
    )
}
"""Known wire type number -> message class."""
