"""CLUSTER and its subcommands, ASKING, READONLY, READWRITE: where RESP meets the cluster core.

Each handler parses its arguments with Redis's error texts, calls the pure
``ClusterState`` (whose refusals carry 7.0's exact replies), runs the effects it
returns through the bus (sends, saves, events), and shapes the reply: CLUSTER NODES
and INFO are verbatim strings in RESP3, SLOTS/SHARDS/LINKS nested arrays and maps.
On a node without cluster mode every one of these answers "cluster support disabled".
"""

from __future__ import annotations

from typing import Any

from ...cluster.slots import SLOT_COUNT, key_hash_slot
from ...cluster.state import ERR_SETSLOT_SYNTAX, ClusterAdminError, ClusterState
from ...cluster.views import (
    cluster_info,
    cluster_nodes_text,
    cluster_shards,
    cluster_slots,
    render_cluster_info,
    replica_lines,
)
from ...protocol.encoder import OK, Map, Status, Verbatim
from .. import errors
from ..args import parse_int
from ..client import Client
from ..command_table import command, container
from ..errors import CommandError


def _cluster(c: Client) -> Any:
    support = c.node.cluster
    if support is None or support.state is None:
        raise CommandError(errors.CLUSTER_DISABLED)
    return support


def _syntax(args: list[bytes]) -> CommandError:
    """A subcommand called with a number of arguments none of its forms takes."""
    return CommandError(errors.subcommand_syntax(args[1], args[0]))


def _state(c: Client) -> ClusterState:
    return _cluster(c).state


def _apply(c: Client, operation: Any, *args: Any) -> Any:
    """Run an admin operation of the core; its refusal becomes the error reply."""
    support = _cluster(c)
    try:
        effects = operation(*args, support.now())  # the protocol clock (clock.py)
    except ClusterAdminError as err:
        raise CommandError(err.reply) from None
    support.run(effects)
    return OK


def _slot_arg(arg: bytes) -> int:
    """A slot number for ADDSLOTS & co.; -1 for a non-integer (the core answers like 7.0)."""
    try:
        return int(arg) if arg.strip() == arg and arg.lstrip(b"-").isdigit() else -1
    except ValueError:
        return -1


container("cluster", group="cluster", since="3.0.0", summary="Cluster administration and introspection")


@command("cluster|info", 2, "stale", group="cluster", since="3.0.0", tips="nondeterministic_output",
         summary="This node's view of the cluster: state, slots, nodes, epochs, bus statistics",
         complexity="O(1)")  # fmt: skip
def cluster_info_(c: Client, args: list[bytes]) -> Any:
    return Verbatim(render_cluster_info(cluster_info(_state(c))).encode())


@command("cluster|myid", 2, "stale", group="cluster", since="3.0.0", summary="This node's id",
         complexity="O(1)")  # fmt: skip
def cluster_myid(c: Client, args: list[bytes]) -> Any:
    return _state(c).myid.encode()


@command("cluster|nodes", 2, "stale", group="cluster", since="3.0.0", tips="nondeterministic_output",
         summary="Every node this node knows, one line each", complexity="O(N) where N is the number of nodes")  # fmt: skip
def cluster_nodes(c: Client, args: list[bytes]) -> Any:
    return Verbatim(cluster_nodes_text(_state(c)).encode())


@command("cluster|slots", 2, "stale", group="cluster", since="3.0.0", tips="nondeterministic_output",
         summary="Slot ranges and the nodes serving them", complexity="O(N) where N is the number of nodes")  # fmt: skip
def cluster_slots_(c: Client, args: list[bytes]) -> Any:
    endpoint_type = c.node.config.cluster_preferred_endpoint_type
    reply = []
    for entry in cluster_slots(_state(c), endpoint_type=endpoint_type):
        nodes = [
            [None if n.endpoint is None else n.endpoint.encode(), n.port, n.node_id.encode(),
             Map([(k.encode(), v.encode()) for k, v in n.metadata.items()])]
            for n in entry.nodes
        ]  # fmt: skip
        reply.append([entry.start, entry.end, *nodes])
    return reply


def _as_reply(value: Any) -> Any:
    """Views give dicts, lists, str and int; the reply wants Map and bytes."""
    if isinstance(value, dict):
        return Map([(k.encode(), _as_reply(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [_as_reply(v) for v in value]
    if isinstance(value, str):
        return value.encode()
    return value


@command("cluster|shards", 2, "stale", group="cluster", since="7.0.0", tips="nondeterministic_output",
         summary="Each shard: its slots and its nodes", complexity="O(N) where N is the number of shards")  # fmt: skip
def cluster_shards_(c: Client, args: list[bytes]) -> Any:
    endpoint_type = c.node.config.cluster_preferred_endpoint_type
    return _as_reply(cluster_shards(_state(c), endpoint_type=endpoint_type))


@command("cluster|links", 2, "stale", group="cluster", since="7.0.0", tips="nondeterministic_output",
         summary="The bus connections of this node", complexity="O(N) where N is the number of links")  # fmt: skip
def cluster_links(c: Client, args: list[bytes]) -> Any:
    support = _cluster(c)
    rows = []
    for link in support.state.links():
        pending = support.bus.pending_bytes(link.link_id)
        rows.append(Map([
            (b"direction", link.direction.encode()), (b"node", link.node.encode()),
            (b"create-time", link.create_time), (b"events", _link_events(pending)),
            (b"send-buffer-allocated", pending or 0), (b"send-buffer-used", pending or 0),
        ]))  # fmt: skip
    return rows


def _link_events(pending: int | None) -> bytes:
    """Redis lists the handlers installed: 'r' once connected, 'w' only while output waits."""
    if pending is None:
        return b""  # still connecting
    return b"rw" if pending else b"r"


@command("cluster|keyslot", 3, "stale", group="cluster", since="3.0.0", summary="The hash slot of a key",
         complexity="O(N) where N is the number of bytes in the key")  # fmt: skip
def cluster_keyslot(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    return key_hash_slot(args[2])


@command("cluster|countkeysinslot", 3, "stale", group="cluster", since="3.0.0",
         summary="How many local keys are in a slot", complexity="O(1)")  # fmt: skip
def cluster_countkeysinslot(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    slot = parse_int(args[2])
    if not 0 <= slot < SLOT_COUNT:
        raise CommandError(errors.CLUSTER_INVALID_SLOT)
    return c.node.keyspace[0].count_keys_in_slot(slot)


@command("cluster|getkeysinslot", 4, "stale", group="cluster", since="3.0.0", tips="nondeterministic_output",
         summary="Up to count local key names in a slot", complexity="O(N) where N is the number of keys returned")  # fmt: skip
def cluster_getkeysinslot(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    slot, count = parse_int(args[2]), parse_int(args[3])
    if not 0 <= slot < SLOT_COUNT or count < 0:
        raise CommandError(errors.CLUSTER_INVALID_SLOT_OR_KEYS)
    keys = c.node.keyspace[0].keys_in_slot(slot)
    keys.reverse()  # Redis lists the most recently added first
    return keys[:count]


@command("cluster|addslots", -3, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Assign slots to this node", complexity="O(N) where N is the number of slots")  # fmt: skip
def cluster_addslots(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).addslots, [_slot_arg(a) for a in args[2:]])


@command("cluster|delslots", -3, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Unassign slots from this node", complexity="O(N) where N is the number of slots")  # fmt: skip
def cluster_delslots(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).delslots, [_slot_arg(a) for a in args[2:]])


def _ranges(c: Client, args: list[bytes]) -> list[tuple[int, int]]:
    if len(args) % 2:
        raise CommandError(errors.wrong_arity(args[0].decode("utf-8", "replace").lower() + "|" +
                                              args[1].decode("utf-8", "replace").lower()))  # fmt: skip
    slots = [_slot_arg(a) for a in args[2:]]
    return list(zip(slots[::2], slots[1::2]))


@command("cluster|addslotsrange", -4, "admin stale no_async_loading", group="cluster", since="7.0.0",
         summary="Assign ranges of slots to this node", complexity="O(N) where N is the number of slots")  # fmt: skip
def cluster_addslotsrange(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).addslotsrange, _ranges(c, args))


@command("cluster|delslotsrange", -4, "admin stale no_async_loading", group="cluster", since="7.0.0",
         summary="Unassign ranges of slots from this node", complexity="O(N) where N is the number of slots")  # fmt: skip
def cluster_delslotsrange(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).delslotsrange, _ranges(c, args))


@command("cluster|flushslots", 2, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Unassign every slot of this node", complexity="O(1)")  # fmt: skip
def cluster_flushslots(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).flushslots)


@command("cluster|meet", -4, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Connect this node to another one, joining their clusters", complexity="O(1)")  # fmt: skip
def cluster_meet(c: Client, args: list[bytes]) -> Any:
    if len(args) > 5:
        raise _syntax(args)
    ip = args[2].decode("utf-8", "replace")
    try:
        port = int(args[3])
    except ValueError:
        raise CommandError(errors.CLUSTER_INVALID_PORT.format(args[3].decode("utf-8", "replace"))) from None
    cport: int | None = None
    if len(args) == 5:
        try:
            cport = int(args[4])
        except ValueError:
            raise CommandError(errors.CLUSTER_INVALID_BUS_PORT.format(args[4].decode("utf-8", "replace"))) from None
    return _apply(c, _state(c).meet, ip, port, cport)


@command("cluster|forget", 3, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Remove a node from this node's table (and ignore it for 60 s)", complexity="O(1)")  # fmt: skip
def cluster_forget(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).forget, args[2].decode("utf-8", "replace"))


@command("cluster|reset", -2, "admin noscript stale", group="cluster", since="3.0.0",
         summary="Forget every other node and every slot (HARD also takes a new id)",
         complexity="O(N) where N is the number of known nodes")  # fmt: skip
def cluster_reset(c: Client, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise _syntax(args)
    mode = args[2].lower() if len(args) == 3 else b"soft"
    if mode not in (b"hard", b"soft"):
        raise CommandError(errors.SYNTAX)
    return _apply(c, _state(c).reset, mode == b"hard")


@command("cluster|set-config-epoch", 3, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Set this new node's config epoch", complexity="O(1)")  # fmt: skip
def cluster_set_config_epoch(c: Client, args: list[bytes]) -> Any:
    epoch = parse_int(args[2])
    return _apply(c, _state(c).set_config_epoch, epoch)


@command("cluster|bumpepoch", 2, "admin stale no_async_loading", group="cluster", since="3.0.0",
         tips="nondeterministic_output", summary="Give this node a new, highest config epoch",
         complexity="O(1)")  # fmt: skip
def cluster_bumpepoch(c: Client, args: list[bytes]) -> Any:
    support = _cluster(c)
    bumped, effects = support.state.bumpepoch(support.now())
    support.run(effects)
    return Status(f"{'BUMPED' if bumped else 'STILL'} {support.state.myself.config_epoch}")


@command("cluster|count-failure-reports", 3, "admin stale", group="cluster", since="3.0.0",
         tips="nondeterministic_output", summary="How many nodes currently report a node as failing",
         complexity="O(N) where N is the number of failure reports")  # fmt: skip
def cluster_count_failure_reports(c: Client, args: list[bytes]) -> Any:
    try:
        return _state(c).count_failure_reports(args[2].decode("utf-8", "replace"), _cluster(c).now())
    except ClusterAdminError as err:
        raise CommandError(err.reply) from None


@command("cluster|saveconfig", 2, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Write nodes.conf now", complexity="O(1)")  # fmt: skip
def cluster_saveconfig(c: Client, args: list[bytes]) -> Any:
    support = _cluster(c)
    from ...cluster.nodes_conf import write_nodes_conf_atomic

    try:
        write_nodes_conf_atomic(support.config_path, support.state.nodes_conf_text(), fsync=True)
    except OSError as err:
        raise CommandError(errors.CLUSTER_SAVECONFIG_FAILED.format(err.strerror)) from None
    return OK


@command("cluster|replicate", 3, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Make this node a replica of a primary", complexity="O(1)")  # fmt: skip
def cluster_replicate(c: Client, args: list[bytes]) -> Any:
    return _apply(c, _state(c).replicate, args[2].decode("utf-8", "replace"))


def _replicas(c: Client, args: list[bytes]) -> Any:
    state = _state(c)
    node = state.lookup(args[2].decode("utf-8", "replace"))
    if node is None:
        raise CommandError(errors.CLUSTER_UNKNOWN_NODE.format(args[2].decode("utf-8", "replace")))
    if not node.is_primary:
        raise CommandError(errors.CLUSTER_NOT_A_MASTER)
    return [line.encode() for line in replica_lines(state, node)]


@command("cluster|replicas", 3, "admin stale", group="cluster", since="5.0.0", tips="nondeterministic_output",
         summary="The replicas of a primary, as CLUSTER NODES lines", complexity="O(N) where N is the number of replicas")  # fmt: skip
def cluster_replicas(c: Client, args: list[bytes]) -> Any:
    return _replicas(c, args)


@command("cluster|slaves", 3, "admin stale", group="cluster", since="3.0.0", tips="nondeterministic_output",
         summary="Old name of CLUSTER REPLICAS", complexity="O(N) where N is the number of replicas")  # fmt: skip
def cluster_slaves(c: Client, args: list[bytes]) -> Any:
    return _replicas(c, args)


@command("cluster|setslot", -4, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Mark a slot importing, migrating or stable, or give it to a node", complexity="O(1)")  # fmt: skip
def cluster_setslot(c: Client, args: list[bytes]) -> Any:
    if len(args) > 5:
        raise CommandError(ERR_SETSLOT_SYNTAX)
    node_id = args[4].decode("utf-8", "replace") if len(args) == 5 else None
    return _apply(c, _state(c).setslot, _slot_arg(args[2]), args[3].decode("utf-8", "replace").lower(), node_id)


@command("cluster|failover", -2, "admin stale no_async_loading", group="cluster", since="3.0.0",
         summary="Make this replica take over from its primary", complexity="O(1)")  # fmt: skip
def cluster_failover(c: Client, args: list[bytes]) -> Any:
    state = _state(c)
    if len(args) > 3:
        raise _syntax(args)
    if len(args) == 3 and args[2].lower() not in (b"force", b"takeover"):
        raise CommandError(errors.SYNTAX)
    # The core checks the role and the primary's health (7.0's texts) and starts it;
    # the reply comes at once, the failover itself happens over the bus.
    mode = args[2].decode().lower() if len(args) == 3 else "default"
    return _apply(c, state.failover, mode)


_HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]", "    Assign slots to this node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]", "    Assign ranges of slots to this node.",
    "BUMPEPOCH", "    Give this node a new, highest config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>", "    How many nodes report the node as failing.",
    "COUNTKEYSINSLOT <slot>", "    How many local keys are in the slot.",
    "DELSLOTS <slot> [<slot> ...]", "    Unassign slots from this node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]", "    Unassign ranges of slots.",
    "FAILOVER [FORCE|TAKEOVER]", "    Sent to a replica: take over from its primary.",
    "FORGET <node-id>", "    Remove a node from the table; ignore it for 60 seconds.",
    "FLUSHSLOTS", "    Unassign every slot of this node.",
    "GETKEYSINSLOT <slot> <count>", "    Up to <count> local keys of the slot.",
    "INFO", "    The cluster state and statistics.",
    "KEYSLOT <key>", "    The hash slot of <key>.",
    "LINKS", "    The bus connections of this node.",
    "MEET <ip> <port> [<bus-port>]", "    Connect to another node.",
    "MYID", "    This node's id.",
    "NODES", "    Every known node, one line each.",
    "REPLICATE <node-id>", "    Become a replica of <node-id>.",
    "RESET [HARD|SOFT]", "    Forget every node and slot (HARD: also a new id and zero epochs).",
    "SET-CONFIG-EPOCH <epoch>", "    Set the config epoch of a new node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Change the migration state or the owner of a slot.",
    "REPLICAS <node-id>", "    The replicas of a primary.",
    "SAVECONFIG", "    Write nodes.conf now.",
    "SHARDS", "    Each shard with its slots and nodes.",
    "SLAVES <node-id>", "    Old name of REPLICAS.",
    "SLOTS", "    Slot ranges and the nodes serving them.",
    "HELP", "    Prints this help.",
]  # fmt: skip


@command("cluster|help", 2, "loading stale", group="cluster", since="5.0.0", summary="Show the CLUSTER subcommands",
         complexity="O(1)")  # fmt: skip
def cluster_help(c: Client, args: list[bytes]) -> Any:
    return [Status(line) for line in _HELP]


@command("asking", 1, "fast", "@connection", group="cluster", since="3.0.0",
         summary="Serve the next command for an importing slot", complexity="O(1)")  # fmt: skip
def asking(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    c.asking = True
    return OK


@command("readonly", 1, "loading stale fast", "@connection", group="cluster", since="3.0.0",
         summary="Let a replica serve reads of its primary's slots on this connection", complexity="O(1)")  # fmt: skip
def readonly(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    c.readonly = True
    return OK


@command("readwrite", 1, "loading stale fast", "@connection", group="cluster", since="3.0.0",
         summary="End READONLY on this connection", complexity="O(1)")  # fmt: skip
def readwrite(c: Client, args: list[bytes]) -> Any:
    _cluster(c)
    c.readonly = False
    return OK
