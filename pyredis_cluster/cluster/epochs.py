"""Epochs and slot ownership: who serves a slot, and how a newer configuration wins.

Theory of operation
-------------------
Redis Cluster has no leader; it orders configurations with two kinds of epoch
(bus.md §1.9, §4.6-4.7; the spec's "Configuration handling"):

* ``current_epoch`` is a cluster-wide logical clock. Every header carries the
  sender's; a receiver raises its own to the maximum it sees. Elections
  (election.py) and bumps take ``current_epoch + 1``.
* ``config_epoch`` belongs to a primary (a replica advertises its primary's): the
  version of the slot configuration that primary claims. Headers carry it next to
  the claimed slot bitmap.

**Slot claims.** When a primary's header claims slots differently from what we
bind to it, ``update_slots_config_with`` rebinds each claimed slot to the sender
if the slot is unassigned, its owner stopped claiming it, or its owner's
``config_epoch`` is *smaller* than the sender's. Slots we are importing are left
alone (the admin closes them). A slot bound to the sender but no longer claimed is
not unbound (that would break coverage); it is only marked "not claimed" and left
out of the UPDATEs we send. If our own primary (or we) lost its last slot this way,
we follow the new owner as its replica; if we lost some slots but keep serving
others, the keys of the lost slots are deleted.

**UPDATE.** The reverse case: a node claims slots that we know are owned by a node
with a *greater* ``config_epoch`` (a primary back from a partition, unaware it was
failed over). We send it one UPDATE describing that owner; it applies the owner's
claim as if the owner had sent it, and usually becomes its replica.

**Collisions.** Two primaries may end up with the same ``config_epoch`` (fresh
nodes all start at 0; a bump without consensus may race a failover). Whenever a
primary hears from another with the same epoch, the one with the lexicographically
smaller id takes ``current_epoch + 1``: the largest id never moves, so the epochs
become unique after a few rounds, and are saved (fsync) before being announced.

**Bump without consensus** (CLUSTER BUMPEPOCH, SETSLOT NODE ending an import,
CLUSTER FAILOVER TAKEOVER in manual_failover.py): if our ``config_epoch`` is 0 or not the unique maximum we
know, take ``current_epoch + 1``. It can break "last failover wins"; the collision
rule repairs duplicates.

Deliberately weak
-----------------
One UPDATE per stale packet (about the first newer owner found), as in 7.0: a node
that lost slots to several owners learns them over several packets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .effects import DeleteKeysInSlots
from .events import EventName
from .messages import MessageHeader, Update
from .nodes import ClusterNode
from .slots import SlotBitmap, format_slot_ranges

if TYPE_CHECKING:
    from .state import ClusterState


def max_epoch(state: ClusterState) -> int:
    """clusterGetMaxEpoch: the greatest config epoch we know, or current_epoch if greater."""
    return max(max((n.config_epoch for n in state.nodes.values()), default=0), state.current_epoch)


def update_from_header(state: ClusterState, sender: ClusterNode, header: MessageHeader) -> None:
    """Epochs and offset that every message from a known sender teaches us."""
    if header.current_epoch > state.current_epoch:
        state._event(EventName.CURRENT_EPOCH_UPDATED, old=state.current_epoch, new=header.current_epoch,
                     node=sender.name)
        state.current_epoch = header.current_epoch
    if header.config_epoch > sender.config_epoch:
        state._event(EventName.CONFIG_EPOCH_UPDATED, node=sender.name, old=sender.config_epoch,
                     new=header.config_epoch)
        sender.config_epoch = header.config_epoch
        state._request(save=True, fsync=True)
    sender.repl_offset = header.offset
    sender.repl_offset_time = state.now


def bump_config_epoch_without_consensus(state: ClusterState, reason: str) -> bool:
    """clusterBumpConfigEpochWithoutConsensus. True if our config epoch changed."""
    me = state.myself
    if me.config_epoch != 0 and me.config_epoch == max_epoch(state):
        return False
    old = me.config_epoch
    state.current_epoch += 1
    me.config_epoch = state.current_epoch
    state._request(save=True, fsync=True)
    state._event(EventName.EPOCH_BUMPED, old=old, new=me.config_epoch, reason=reason)
    return True


def handle_config_epoch_collision(state: ClusterState, sender: ClusterNode) -> None:
    """clusterHandleConfigEpochCollision: the smaller id of two equal primaries moves."""
    me = state.myself
    if sender.config_epoch != me.config_epoch or not sender.is_primary or not me.is_primary:
        return
    if sender.name <= me.name:  # Redis compares the raw 40 bytes
        return
    old = me.config_epoch
    state.current_epoch += 1
    me.config_epoch = state.current_epoch
    state._save_now(fsync=True)  # on disk before any packet announces it
    state._event(EventName.CONFIG_EPOCH_COLLISION, node=sender.name, old=old, new=me.config_epoch)
    state._event(EventName.EPOCH_BUMPED, old=old, new=me.config_epoch, reason=f"collision with {sender.name}")


def update_slots_config_with(
    state: ClusterState, sender: ClusterNode, sender_config_epoch: int, slots: SlotBitmap
) -> None:
    """clusterUpdateSlotsConfigWith: apply ``sender``'s claim of ``slots`` at that epoch."""
    me = state.myself
    if sender is me:
        state._event(EventName.MESSAGE_IGNORED, type="update", sender=me.name,
                     why="Discarding UPDATE message about myself.")
        return
    # The shard whose slots we watch: ours if we are a primary, else our primary's.
    cur_primary = me if me.is_primary else state.primary_of(me)
    rebind = 0
    previous: dict[str, int] = {}  # old owner name -> slots it loses (for the event)
    dirty: list[int] = []  # slots lost by us while holding keys
    new_primary: ClusterNode | None = None
    migrated_our_slots = 0
    # Only the claimed slots not already bound to the sender can change hands: a
    # Python loop over all of a primary's ~5000 slots cost ~5 ms per changed PONG.
    state.owner_not_claiming &= ~(slots.mask & sender.slots.mask)
    for slot in SlotBitmap(slots.mask & ~sender.slots.mask):
        owner = state.slot_owner[slot]
        if slot in state.importing_slots_from:
            continue  # an admin is moving it: only they close it
        if owner is None or state.owner_not_claiming >> slot & 1 or owner.config_epoch < sender_config_epoch:
            if owner is me and state.keyspace.count_keys_in_slot(slot):
                dirty.append(slot)
            if owner is not None and owner is cur_primary:
                new_primary = sender
                migrated_our_slots += 1
            rebind |= 1 << slot
            if owner is not None:
                previous[owner.name] = previous.get(owner.name, 0) | 1 << slot
    if rebind:
        state._unassign_slots(rebind, reason="", quiet=True)
        state._assign_slots(sender, rebind, reason=f"claimed with configEpoch {sender_config_epoch}" + (
            " from " + ", ".join(f"{name} ({format_slot_ranges(SlotBitmap(m))})" for name, m in previous.items())
            if previous else ""))
        state.owner_not_claiming &= ~rebind
        state._request(save=True, fsync=True, update_state=True)

    # Slots still bound to the sender that it no longer claims: keep them bound, but
    # remember the uncertainty (they leave our UPDATEs, and anyone may claim them).
    not_claimed = sender.slots.mask & ~slots.mask
    newly = not_claimed & ~state.owner_not_claiming
    if newly:
        state._event(EventName.SLOTS_NOT_CLAIMED, node=sender.name, slots=format_slot_ranges(SlotBitmap(newly)))
    state.owner_not_claiming |= not_claimed

    if (
        new_primary is not None
        and cur_primary is not None
        and not cur_primary.slots
        and (state.settings.allow_replica_migration or len(slots) == migrated_our_slots)
    ):
        # Our shard lost its last slot to the sender: it was failed over (or resharded
        # away). Follow the sender ("Configuration change detected").
        state._set_my_primary(sender)
        state._request(save=True, fsync=True, update_state=True)
    elif (
        me.is_replica
        and (my_primary := state.primary_of(me)) is not None
        and (grand := state.primary_of(my_primary)) is not None
        and grand is not me  # a TAKEOVER corner case: wait for the admin
    ):
        # Our primary became a replica itself: replicate from its primary instead.
        state._set_my_primary(grand)
        state._request(save=True, fsync=True, update_state=True)
    elif dirty:
        state._effects.append(DeleteKeysInSlots(tuple(dirty)))


def newer_slot_owner(
    state: ClusterState, sender: ClusterNode, sender_config_epoch: int, slots: SlotBitmap
) -> ClusterNode | None:
    """The first owner of a slot in ``slots`` whose config epoch beats the sender's."""
    for slot in SlotBitmap(slots.mask & ~sender.slots.mask):  # the sender's own slots cannot be newer
        owner = state.slot_owner[slot]
        if state._unclaimed(slot):
            continue
        assert owner is not None
        if owner.config_epoch > sender_config_epoch:
            return owner
    return None


def process_update_message(state: ClusterState, message: Update, sender: ClusterNode | None) -> None:
    """An UPDATE: "your view of ``nodename`` is stale". Applied only if it is newer."""
    if sender is None:
        return
    node = state.lookup(message.nodename)
    if node is None or node.config_epoch >= message.config_epoch:
        return
    state._event(EventName.UPDATE_RECEIVED, sender=sender.name, node=node.name, epoch=message.config_epoch)
    if node.is_replica:
        state._set_node_as_primary(node)
    state._event(EventName.CONFIG_EPOCH_UPDATED, node=node.name, old=node.config_epoch, new=message.config_epoch)
    node.config_epoch = message.config_epoch
    state._request(save=True, fsync=True)
    update_slots_config_with(state, node, message.config_epoch, message.slots)
