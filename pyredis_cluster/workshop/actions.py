"""What an operator does to a cluster, step by step, over the client port (as redis-cli does).

Theory of operation
-------------------
These are the administrative sequences of ``redis-cli --cluster``, written out so that a
workshop can read them next to the trace:

**Moving a slot** (``redis-cli --cluster reshard``, one slot at a time):

1. ``CLUSTER SETSLOT <slot> IMPORTING <source-id>`` on the target: it will accept
   commands for that slot, but only from clients that say ``ASKING`` first;
2. ``CLUSTER SETSLOT <slot> MIGRATING <target-id>`` on the source: it keeps serving the
   keys it still has, and answers ``-ASK <slot> <target>`` for keys it does not have,
   so new keys are created on the target from now on;
3. ``CLUSTER GETKEYSINSLOT <slot> <count>`` on the source, and each key moved to the
   target, until the slot is empty there;
4. ``CLUSTER SETSLOT <slot> NODE <target-id>`` on the target (which bumps its config
   epoch, so its claim wins), then on the source, then on every other primary. The
   others would learn it from gossip anyway; telling them saves a round of ``MOVED``.
   When the source gives up its last slot it may hear the target's claim first and
   turn itself into the target's replica (Redis 7.0: an emptied primary follows the
   node that took its last slot); it then refuses SETSLOT, which is fine.

Keys move as redis-cli moves them, ``MIGRATE <target> "" 0 <timeout> KEYS <key>...``
on the source for each batch: the source sends each key's DUMP payload to the target
as ``RESTORE-ASKING``, then deletes the keys the target acknowledged. In Redis the
source serves nobody meanwhile, so a client writing one of those keys waits and then
gets ``ASK`` to the target: no write is lost. Our nodes do the same without stopping
the event loop they share (the source holds its other clients' commands until the
MIGRATE ends: ``server/busy.py``), so the scenario runs the real command.

Adding a node (``CLUSTER MEET``) and removing one (``CLUSTER FORGET`` on every other
node) are the harness's ``cluster.add_node()`` and ``cluster.remove_node(node)``.

Deliberately weak: no pipelining and one slot at a time, which is slow for thousands of
slots; scenarios move tens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..cluster.state import ERR_SETSLOT_REPLICA
from ..server.node import Node
from ..testing.faults import HOST
from .connection import Connection, is_error, text
from .stage import core, node_id

#: GETKEYSINSLOT batch size, one MIGRATE each (redis-cli's --cluster-pipeline default is 10).
KEYS_PER_BATCH = 100
#: MIGRATE's timeout in ms (redis-cli's --cluster-timeout default is 60000).
MIGRATE_TIMEOUT_MS = 10000


class ActionFailed(Exception):
    """A node refused an administrative command: the message has its reply."""


def expect_ok(reply: Any, command: str) -> None:
    if is_error(reply) or text(reply) != "OK":
        raise ActionFailed(f"{command}: {text(reply)}")


@dataclass
class MoveReport:
    slots: int = 0
    keys: int = 0


async def move_keys(source: Connection, target: Node, keys: list[bytes], report: MoveReport) -> None:
    """One MIGRATE of ``keys`` to ``target`` (NOKEY: they all expired or went meanwhile)."""
    reply = await source.call("MIGRATE", HOST, target.port, "", 0, MIGRATE_TIMEOUT_MS, "KEYS", *keys)
    if text(reply) != "NOKEY":
        expect_ok(reply, f"MIGRATE of {len(keys)} keys")
        report.keys += len(keys)


async def move_slots(source: Node, target: Node, slots: Iterable[int], others: Iterable[Node] = ()) -> MoveReport:
    """Move ``slots`` (with their keys) from ``source`` to ``target`` (module docstring)."""
    slots = list(slots)
    source_id, target_id = node_id(source), node_id(target)
    report = MoveReport()
    async with Connection(source.port) as src, Connection(target.port) as dst:
        for slot in slots:
            expect_ok(await dst.call("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id), "SETSLOT IMPORTING")
            expect_ok(await src.call("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id), "SETSLOT MIGRATING")
            while keys := await src.call("CLUSTER", "GETKEYSINSLOT", slot, KEYS_PER_BATCH):
                await move_keys(src, target, keys, report)
            expect_ok(await dst.call("CLUSTER", "SETSLOT", slot, "NODE", target_id), "SETSLOT NODE (target)")
            reply = await src.call("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            if not (reply == ERR_SETSLOT_REPLICA and core(source).myself.is_replica):
                expect_ok(reply, "SETSLOT NODE (source)")
            # else: that was the source's last slot, and the target's claim reached it
            # first: an emptied primary follows whoever took its last slot (Redis 7.0,
            # cluster-allow-replica-migration), so it is a replica now, and done.
            report.slots += 1
    for other in others:
        if other is source or other is target or not core(other).myself.is_primary:
            continue
        async with Connection(other.port) as conn:
            for slot in slots:
                expect_ok(await conn.call("CLUSTER", "SETSLOT", slot, "NODE", target_id), "SETSLOT NODE (other)")
    return report
