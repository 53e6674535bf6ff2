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

redis-cli moves keys with ``MIGRATE``, which is synchronous: the source node stops
serving everyone while it talks to the target. The scenario's nodes share one event
loop, so a blocking MIGRATE from one to another could never be answered. The keys are
moved instead with the same payload MIGRATE sends (``DUMP``'s serialization, replayed
with ``RESTORE-ASKING``). The harness's ``cluster.move_slots`` does that too, but a
client writing a key between its DUMP and its DEL would lose that write; the workshop
moves slots under a running client, so each key is guarded: ``WATCH key``, ``DUMP``,
``RESTORE-ASKING ... REPLACE`` on the target, then ``MULTI / DEL key / EXEC`` on the
source. If a client wrote the key in between, ``EXEC`` refuses (the WATCH fired) and
the key is copied again. Until the DEL the key is served by the source; after it, the
source answers ``ASK`` and the target has it: a reader never finds it missing.

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
from .connection import Connection, is_error, text
from .stage import core, node_id

#: GETKEYSINSLOT batch size (redis-cli's --cluster-pipeline default is 10; any works).
KEYS_PER_BATCH = 100


class ActionFailed(Exception):
    """A node refused an administrative command: the message has its reply."""


def expect_ok(reply: Any, command: str) -> None:
    if is_error(reply) or text(reply) != "OK":
        raise ActionFailed(f"{command}: {text(reply)}")


@dataclass
class MoveReport:
    slots: int = 0
    keys: int = 0
    retries: int = 0  # keys copied again because a client wrote them during the copy


async def move_key(source: Connection, target: Connection, key: bytes, report: MoveReport) -> None:
    """Copy ``key`` to the target, then delete it on the source unless it was written meanwhile."""
    while True:
        await source.call("WATCH", key)
        payload = await source.call("DUMP", key)
        if payload is None:  # gone meanwhile (deleted, or expired)
            await source.call("UNWATCH")
            return
        ttl = await source.call("PTTL", key)
        reply = await target.call("RESTORE-ASKING", key, max(int(ttl), 0), payload, "REPLACE")
        expect_ok(reply, f"RESTORE-ASKING {key!r}")
        await source.call("MULTI")
        await source.call("DEL", key)
        if await source.call("EXEC") is not None:
            report.keys += 1
            return
        report.retries += 1  # the key changed after DUMP: copy the newer value


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
                for key in keys:
                    await move_key(src, dst, key, report)
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
