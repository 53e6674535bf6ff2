"""What the cluster core asks the outside world to do: the effects ``ClusterState`` returns.

Theory of operation
-------------------
``ClusterState`` never touches a socket, a file or a clock. Every input method
(``handle_packet``, ``tick``, ``link_connected``, the admin operations...)
returns a ``list[Effect]``, in the order Redis 7.0 would have performed the
corresponding actions, and the caller carries them out in that order:

============================  =================================================================
``Send(link_id, message)``     encode ``message`` (codec.encode) and write it on that link.
                               Links still connecting queue it (Redis's send buffer does).
``Connect(link_id, ...)``      dial ``ip:cport``; the core already counts the link as
                               existing ("connected" in CLUSTER NODES, as Redis does
                               during a pending connect). Report the outcome with
                               ``link_connected(link_id)`` or ``link_closed(link_id,
                               connect_failed=True)``.
``CloseLink(link_id)``         close the socket (or abandon the connect in progress). The
                               core has already forgotten the link: do not report it back
                               with ``link_closed``.
``SaveConfig(fsync)``          write nodes.conf (``ClusterState.nodes_conf_text()`` *at the
                               time the effect runs*), fsync if asked. At most one deferred
                               save per call (Redis's before-sleep batching); a save that
                               must precede a send (epoch collision) comes earlier in the list.
``PublishReceived``            deliver a PUBLISH / PUBLISHSHARD from the bus to local
                               subscribers (no re-propagation).
``ReplicationChanged``         replicate from ``primary`` (ip, port), or stop replicating
                               (``primary`` None). Data replication is a later issue.
``DeleteKeysInSlots``          we lost these slots to a newer config while keeping our role:
                               drop their keys (Redis's "dirty slots").
``FlushData``                  a replica was reset into an empty primary: drop every key.
``ShardChannelsLost(slots)``   slots our shard (we or our primary) no longer owns: unsubscribe
                               every sharded (SSUBSCRIBE) client of their channels, telling
                               each with a ``sunsubscribe`` message (removeChannelsInSlot).
``PauseWrites(until_ms)``      manual failover, primary side: stop executing write commands
                               (Redis's CLIENT_PAUSE_WRITE) until ``until_ms`` or a
                               ``ResumeWrites``, whichever comes first; then report the
                               offset reached with ``ClusterState.writes_paused(offset,
                               now_ms)``: only then do our headers carry PAUSED and that
                               offset (manual_failover.py explains why).
``ResumeWrites``               the manual failover ended (won, timed out, demoted, reset):
                               execute writes again.
``Event``                      a state change, for logs, traces and tests (events.py).
============================  =================================================================

Link ids are small integers chosen by the core (``Connect``) or returned by
``ClusterState.accept_link`` for inbound connections; the transport maps them to
its sockets.

Deliberately weak
-----------------
Effects are fire-and-forget: the core does not learn whether a ``Send`` was
written or a ``SaveConfig`` succeeded (Redis exits when it cannot save; the bus
should do the same). ``Send`` carries the decoded message, not bytes, so the
same effect list serves the real bus and the simulation, and tests can read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Event
from .messages import Message

LinkId = int
"""Identifies one bus connection (outbound or inbound) between the core and its transport."""


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``message`` on link ``link_id``. ``to`` is the peer's node id when known (for traces)."""

    link_id: LinkId
    message: Message
    to: str | None = None


@dataclass(frozen=True, slots=True)
class Connect:
    """Open an outbound bus connection to ``node`` at ``ip:cport``, known as ``link_id``."""

    link_id: LinkId
    node: str
    ip: str
    cport: int


@dataclass(frozen=True, slots=True)
class CloseLink:
    """Close link ``link_id`` (already forgotten by the core)."""

    link_id: LinkId
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SaveConfig:
    """Persist nodes.conf now; ``fsync`` when epochs or votes changed (bus.md §7)."""

    fsync: bool = False


@dataclass(frozen=True, slots=True)
class PublishReceived:
    """A PUBLISH (``sharded`` False) or PUBLISHSHARD from a known node: deliver locally."""

    channel: bytes
    message: bytes
    sharded: bool = False


@dataclass(frozen=True, slots=True)
class ReplicationChanged:
    """Replicate from ``primary`` at ``ip:port``; ``primary`` None: stop replicating."""

    primary: str | None
    ip: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class DeleteKeysInSlots:
    """Delete every local key in ``slots`` (ascending)."""

    slots: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ShardChannelsLost:
    """Our shard stopped serving ``slots`` (ascending): drop their sharded subscriptions."""

    slots: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlushData:
    """Delete every local key (CLUSTER RESET on a replica)."""


@dataclass(frozen=True, slots=True)
class PauseWrites:
    """Pause write commands until ``until_ms`` (Unix ms), then call ``writes_paused``."""

    until_ms: int


@dataclass(frozen=True, slots=True)
class ResumeWrites:
    """Lift the write pause of a manual failover (unpauseClients(PAUSE_DURING_FAILOVER))."""


Effect = (
    Send
    | Connect
    | CloseLink
    | SaveConfig
    | PublishReceived
    | ReplicationChanged
    | DeleteKeysInSlots
    | FlushData
    | ShardChannelsLost
    | PauseWrites
    | ResumeWrites
    | Event
)

__all__ = [
    "CloseLink",
    "Connect",
    "DeleteKeysInSlots",
    "Effect",
    "Event",
    "FlushData",
    "LinkId",
    "PauseWrites",
    "PublishReceived",
    "ReplicationChanged",
    "ResumeWrites",
    "SaveConfig",
    "Send",
    "ShardChannelsLost",
]
