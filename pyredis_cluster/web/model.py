"""What the live view knows about a cluster, and how it turns changes into a story.

Theory of operation
-------------------
This module is pure (no sockets, no clock): the poller (``poller.py``) asks every
node it can reach for ``CLUSTER NODES``, ``CLUSTER INFO`` and ``INFO replication``
and hands the texts over as one :class:`Observation` per node. From all of them
:func:`build_snapshot` makes one :class:`Snapshot`, the picture the page draws:

* **one row per node**. What a node says about *itself* (its ``myself`` line: role,
  config epoch, slots, migrating/importing slots) wins, because it is the authority
  on that; a node the view cannot reach is described by what the others say of it
  (or, if nobody else knows it, by its row of the previous snapshot). PFAIL and FAIL
  are *opinions of other nodes*, so a row lists who holds them
  (``pfail_by``/``fail_by``), and the link state is the number of observers whose
  link to it is connected; its clock (mode, scale, held messages) is what it answers
  to ``PYREDIS.CLOCK``, or nothing if it refuses it. A row keeps two addresses: the
  one the cluster announces (what clients are told) and the one that answered the view
  (where the buttons' commands go); they differ behind NAT, or before a node has met
  anyone.
* **the addresses that gave no cluster view**, with the error (``problems``).
* **the owner of each of the 16,384 slots**, resolved the way Redis resolves
  conflicting claims: the claim made with the highest config epoch wins (on a tie, a
  node's claim about itself beats hearsay). So a promoted replica's slots show as
  soon as it claims them with its new epoch, even while a dead primary's old claim
  still sits in someone's table.

:func:`diff_snapshots` compares two snapshots and returns :class:`TimelineEntry`
records for what a workshop wants to see: a node flagged PFAIL or FAIL (and
cleared), a role change (a replica promoted), an epoch bump, slots changing owner
(as ranges), a slot starting or ending a migration, a node unreachable from the
view. These entries need nothing from the nodes but their ordinary replies, so the
timeline works even when the trace is off. :func:`trace_entry` turns one JSON
record of the trace channel (``__pyredis__:trace``, cluster/trace.py's format) into
an entry too; ping/pong chatter is dropped unless asked for.

:meth:`Snapshot.to_json` is exactly what the page receives (the ``snapshot``
server-sent event); slots travel as runs ``[first, last, owner-id-or-null]``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..cluster.trace import TraceFormatError, is_chatter, parse_record

SLOT_COUNT = 16384


class Role(enum.StrEnum):
    PRIMARY = "primary"
    REPLICA = "replica"
    UNKNOWN = "unknown"  # e.g. a node still in handshake, flagged "noflags"


class Source(enum.StrEnum):
    """Where a timeline entry comes from (the page colours them differently)."""

    VIEW = "view"  # derived by diffing two snapshots
    TRACE = "trace"  # a record published by a node on the trace channel
    ACTION = "action"  # a button the teacher pressed, and each command it sent


@dataclass(frozen=True)
class NodeLine:
    """One line of ``CLUSTER NODES``, as one observer wrote it."""

    node_id: str
    host: str
    port: int
    bus_port: int
    flags: frozenset[str]
    primary_id: str | None
    config_epoch: int
    link_connected: bool
    slots: tuple[tuple[int, int], ...]  # inclusive ranges
    migrating: Mapping[int, str] = field(default_factory=dict)  # slot -> target id
    importing: Mapping[int, str] = field(default_factory=dict)  # slot -> source id

    @property
    def is_myself(self) -> bool:
        return "myself" in self.flags

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def role(self) -> Role:
        if "master" in self.flags:
            return Role.PRIMARY
        if "slave" in self.flags:
            return Role.REPLICA
        return Role.UNKNOWN


def parse_cluster_nodes(text: str) -> list[NodeLine]:
    """Parse ``CLUSTER NODES`` (Redis 7.0's format); malformed lines are skipped."""
    lines = []
    for raw in text.splitlines():
        fields = raw.split()
        if len(fields) < 8:
            continue
        try:
            lines.append(_parse_node_line(fields))
        except ValueError:
            continue
    return lines


def _parse_node_line(fields: list[str]) -> NodeLine:
    node_id, address, flags, primary, _ping, _pong, epoch, link, *slot_fields = fields
    # "ip:port@cport[,hostname]"; ip may be an IPv6 address with colons.
    address = address.split(",", 1)[0]
    endpoint, _, bus = address.partition("@")
    host, _, port = endpoint.rpartition(":")
    slots: list[tuple[int, int]] = []
    migrating: dict[int, str] = {}
    importing: dict[int, str] = {}
    for word in slot_fields:
        if word.startswith("["):  # "[slot->-target]" or "[slot-<-source]"
            body = word.strip("[]")
            if "->-" in body:
                slot, other = body.split("->-", 1)
                migrating[int(slot)] = other
            elif "-<-" in body:
                slot, other = body.split("-<-", 1)
                importing[int(slot)] = other
            continue
        first, _, last = word.partition("-")
        slots.append((int(first), int(last or first)))
    return NodeLine(
        node_id=node_id,
        host=host,
        port=int(port) if port else 0,
        bus_port=int(bus) if bus else 0,
        flags=frozenset(flags.split(",")),
        primary_id=None if primary == "-" else primary,
        config_epoch=int(epoch),
        link_connected=link == "connected",
        slots=tuple(slots),
        migrating=migrating,
        importing=importing,
    )


def parse_info(text: str) -> dict[str, str]:
    """``field:value`` lines of CLUSTER INFO / INFO into a dict (sections ignored)."""
    info = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            name, _, value = line.partition(":")
            info[name.strip()] = value.strip()
    return info


@dataclass(frozen=True)
class Observation:
    """What one node answered to one poll (``reachable`` False: it did not answer)."""

    address: str  # host:port the view dialled
    reachable: bool
    nodes: tuple[NodeLine, ...] = ()
    cluster_info: Mapping[str, str] = field(default_factory=dict)
    replication: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: ``{"mode", "scale", "held"}`` from ``PYREDIS.CLOCK``; None when the node refuses it.
    clock: Mapping[str, Any] | None = None

    @property
    def myself(self) -> NodeLine | None:
        return next((line for line in self.nodes if line.is_myself), None)


@dataclass(frozen=True)
class NodeRow:
    """One node as the page shows it (see the module docstring for where each field comes from)."""

    id: str
    address: str  # as the cluster announces it (CLUSTER NODES)
    dialled: str  # where the view reaches it: the address that answered, else ``address``
    role: Role
    primary_id: str | None
    flags: tuple[str, ...]  # the node's flags, "myself" removed, PFAIL/FAIL as others see it
    pfail_by: tuple[str, ...]  # ids of the nodes that flag it PFAIL
    fail_by: tuple[str, ...]
    config_epoch: int
    current_epoch: int | None  # from its CLUSTER INFO, None when unreachable
    cluster_state: str | None  # "ok" / "fail", None when unreachable
    links_up: int  # observers whose link to it is connected ...
    links_total: int  # ... out of this many observers that know it
    repl_offset: int | None
    reachable: bool | None  # did it answer the view's last poll? None: not polled yet
    slots: tuple[tuple[int, int], ...]
    migrating: Mapping[int, str]
    importing: Mapping[int, str]
    clock: Mapping[str, Any] | None = None  # the node's own PYREDIS.CLOCK, when it answers it

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "dialled": self.dialled,
            "role": self.role.value,
            "primary_id": self.primary_id,
            "flags": list(self.flags),
            "pfail_by": list(self.pfail_by),
            "fail_by": list(self.fail_by),
            "config_epoch": self.config_epoch,
            "current_epoch": self.current_epoch,
            "cluster_state": self.cluster_state,
            "links_up": self.links_up,
            "links_total": self.links_total,
            "repl_offset": self.repl_offset,
            "reachable": self.reachable,
            "slot_count": sum(last - first + 1 for first, last in self.slots),
            "migrating": {str(slot): target for slot, target in sorted(self.migrating.items())},
            "importing": {str(slot): source for slot, source in sorted(self.importing.items())},
            "clock": dict(self.clock) if self.clock is not None else None,
        }


@dataclass(frozen=True)
class Snapshot:
    """The whole picture at one poll: node rows (sorted by address) and slot owners."""

    nodes: tuple[NodeRow, ...]
    owners: tuple[str | None, ...]  # SLOT_COUNT entries: owner id or None
    current_epoch: int  # the highest any reachable node reports
    #: ``(address, error)`` of every dialled address that did not answer with a cluster
    #: view (down, paused, a wrong port, a node without cluster mode...), for the page.
    problems: tuple[tuple[str, str], ...] = ()

    def node(self, node_id: str) -> NodeRow | None:
        return next((row for row in self.nodes if row.id == node_id), None)

    def label(self, node_id: str | None) -> str:
        """How entries name a node: its address, or the id's first 8 characters."""
        row = self.node(node_id) if node_id else None
        return row.address if row else (node_id or "nobody")[:8]

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [row.to_json() for row in self.nodes],
            "slots": [list(run) for run in slot_runs(self.owners)],
            "migrating": [[slot, row.id, target] for row in self.nodes for slot, target in sorted(row.migrating.items())],
            "importing": [[slot, row.id, source] for row in self.nodes for slot, source in sorted(row.importing.items())],
            "current_epoch": self.current_epoch,
            "problems": [list(problem) for problem in self.problems],
        }


EMPTY_SNAPSHOT = Snapshot(nodes=(), owners=(None,) * SLOT_COUNT, current_epoch=0)


def slot_runs(owners: Iterable[str | None]) -> list[tuple[int, int, str | None]]:
    """Consecutive slots with the same owner, as ``(first, last, owner)``."""
    runs: list[tuple[int, int, str | None]] = []
    for slot, owner in enumerate(owners):
        if runs and runs[-1][2] == owner and runs[-1][1] == slot - 1:
            runs[-1] = (runs[-1][0], slot, owner)
        else:
            runs.append((slot, slot, owner))
    return runs


def resolve_owners(claims: Iterable[tuple[NodeLine, bool]]) -> tuple[str | None, ...]:
    """Owner of every slot from ``(line, said_by_itself)`` claims: highest config epoch wins."""
    ranked = sorted((line for line in claims if line[0].role is Role.PRIMARY),
                    key=lambda claim: (claim[0].config_epoch, claim[1]))  # fmt: skip
    owners: list[str | None] = [None] * SLOT_COUNT
    for line, _own in ranked:  # later (higher-ranked) claims overwrite earlier ones
        for first, last in line.slots:
            if 0 <= first <= last < SLOT_COUNT:
                owners[first : last + 1] = [line.node_id] * (last - first + 1)
    return tuple(owners)


def build_snapshot(observations: Iterable[Observation], previous: Snapshot | None = None) -> Snapshot:
    """Merge every node's answers into one picture (see the module docstring).

    A node that stopped answering and that no answering node knows (the only node of a
    cluster, or every node down) keeps its ``previous`` row, marked unreachable, and
    its slots, rather than vanishing from the page.
    """
    observations = list(observations)
    polled = {obs.address for obs in observations}
    answered = [obs for obs in observations if obs.reachable and obs.myself is not None]
    reachable_ids = {obs.myself.node_id for obs in answered if obs.myself}
    own: dict[str, tuple[NodeLine, Observation]] = {}
    hearsay: dict[str, list[tuple[NodeLine, str]]] = {}  # node id -> (line, observer id)
    for obs in answered:
        me = obs.myself
        assert me is not None
        own[me.node_id] = (me, obs)
        for line in obs.nodes:
            if not line.is_myself:
                hearsay.setdefault(line.node_id, []).append((line, me.node_id))
    rows = []
    for node_id in sorted(own.keys() | hearsay.keys()):
        heard = hearsay.get(node_id, [])
        if node_id in own:
            line, obs = own[node_id]
        else:  # unreachable: what the best-informed observer says (highest epoch)
            line, obs = max(heard, key=lambda item: item[0].config_epoch)[0], None
        # A node nobody reachable knows any more (forgotten) only shows while it answers.
        if "handshake" in line.flags and node_id not in own:
            continue
        pfail_by = tuple(sorted(observer for seen, observer in heard if "fail?" in seen.flags))
        fail_by = tuple(sorted(observer for seen, observer in heard if "fail" in seen.flags))
        flags = [flag for flag in sorted(line.flags) if flag not in ("myself", "fail?", "fail", "noflags")]
        flags += ["fail?"] * bool(pfail_by) + ["fail"] * bool(fail_by)
        rows.append(NodeRow(
            id=node_id,
            address=line.address if line.host else (obs.address if obs else line.address),
            dialled=obs.address if obs else line.address,
            role=line.role,
            primary_id=line.primary_id,
            flags=tuple(flags),
            pfail_by=pfail_by,
            fail_by=fail_by,
            config_epoch=line.config_epoch,
            current_epoch=_int(obs.cluster_info.get("cluster_current_epoch")) if obs else None,
            cluster_state=obs.cluster_info.get("cluster_state") if obs else None,
            links_up=sum(seen.link_connected for seen, _ in heard),
            links_total=len(heard),
            repl_offset=_repl_offset(obs.replication) if obs else None,
            reachable=True if node_id in reachable_ids else (False if line.address in polled else None),
            slots=line.slots,
            migrating=dict(line.migrating) if obs else {},
            importing=dict(line.importing) if obs else {},
            clock=obs.clock if obs else None,
        ))  # fmt: skip
    silent = {obs.address for obs in observations if not obs.reachable}
    known = own.keys() | hearsay.keys()
    stale = [row for row in (previous.nodes if previous else ()) if row.id not in known and row.dialled in silent]
    rows += [replace(row, reachable=False, pfail_by=(), fail_by=(), current_epoch=None,
                                 cluster_state=None, links_up=0, links_total=0, repl_offset=None, clock=None)
             for row in stale]  # fmt: skip
    claims = [(line, True) for line, _ in own.values()]
    claims += [(line, False) for lines in hearsay.values() for line, _ in lines]
    owners = resolve_owners(claims)
    if stale and previous is not None:  # their slots stay theirs unless someone else claims them
        stale_ids = {row.id for row in stale}
        owners = tuple(owner if owner is not None or before not in stale_ids else before
                       for owner, before in zip(owners, previous.owners))  # fmt: skip
    epochs = [row.current_epoch for row in rows if row.current_epoch is not None]
    rows.sort(key=lambda row: (_port_sort_key(row.address), row.id))
    problems = tuple(sorted((obs.address, obs.error or "no cluster view in the answer")
                            for obs in observations if obs not in answered))  # fmt: skip
    return Snapshot(nodes=tuple(rows), owners=owners, current_epoch=max(epochs, default=0),
                    problems=problems)  # fmt: skip


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _repl_offset(replication: Mapping[str, Any]) -> int | None:
    """A primary's ``master_repl_offset``; a replica's ``slave_repl_offset`` when it has one."""
    for name in ("slave_repl_offset", "master_repl_offset"):
        if name in replication:
            return _int(replication[name])
    return None


def _port_sort_key(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, _int(port) or 0


# ----------------------------------------------------------------------------
# The timeline
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineEntry:
    """One line of the page's timeline. ``kind`` is a stable name the tests and the
    page's colours rely on; ``text`` is the human sentence."""

    t: float  # Unix time, seconds
    source: Source
    kind: str
    text: str
    node: str | None = None  # the address (or id) the entry is about
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "source": self.source.value, "kind": self.kind, "text": self.text,
                "node": self.node, "fields": dict(self.fields)}  # fmt: skip


def diff_snapshots(old: Snapshot, new: Snapshot, now: float) -> list[TimelineEntry]:
    """What changed between two polls, as timeline entries (module docstring)."""
    entries: list[TimelineEntry] = []

    def add(kind: str, node: str | None, text: str, **fields: Any) -> None:
        entries.append(TimelineEntry(now, Source.VIEW, kind, text, node, fields))

    old_rows = {row.id: row for row in old.nodes}
    new_rows = {row.id: row for row in new.nodes}
    for node_id, row in new_rows.items():
        name = row.address
        before = old_rows.get(node_id)
        if before is None:
            if old.nodes:  # the first poll is the starting picture, not news
                add("node_added", name, f"{name} joined the cluster as a {row.role.value}", id=node_id)
            continue
        if before.reachable is not None and row.reachable is not None and before.reachable != row.reachable:
            if row.reachable:
                add("node_reachable", name, f"{name} answers the view again")
            else:
                add("node_unreachable", name, f"{name} stopped answering the view")
        if not before.pfail_by and row.pfail_by:
            who = ", ".join(new.label(observer) for observer in row.pfail_by)
            add("pfail", name, f"{name} flagged PFAIL (possibly failing) by {who}", by=list(row.pfail_by))
        if not before.fail_by and row.fail_by:
            add("fail", name, f"{name} marked FAIL: a majority of primaries agreed", by=list(row.fail_by))
        if (before.pfail_by or before.fail_by) and not (row.pfail_by or row.fail_by):
            add("recovered", name, f"{name} is no longer flagged PFAIL/FAIL")
        if before.role is not row.role:
            if row.role is Role.PRIMARY:
                add("promoted", name, f"{name} is now a primary (was a {before.role.value})")
            else:
                add("role_changed", name, f"{name} is now a {row.role.value} of {new.label(row.primary_id)}",
                    primary=row.primary_id)  # fmt: skip
        elif row.role is Role.REPLICA and before.primary_id != row.primary_id:
            add("primary_changed", name, f"{name} now replicates {new.label(row.primary_id)}",
                primary=row.primary_id)  # fmt: skip
        if before.config_epoch != row.config_epoch:
            add("config_epoch", name, f"{name} config epoch {before.config_epoch} → {row.config_epoch}",
                old=before.config_epoch, new=row.config_epoch)  # fmt: skip
        if before.cluster_state and row.cluster_state and before.cluster_state != row.cluster_state:
            add("cluster_state", name, f"{name} says cluster_state:{row.cluster_state}", state=row.cluster_state)
        for slot, target in row.migrating.items():
            if before.migrating.get(slot) != target:
                add("migrating", name, f"slot {slot} migrating from {name} to {new.label(target)}", slot=slot)
        for slot, source in row.importing.items():
            if before.importing.get(slot) != source:
                add("importing", name, f"slot {slot} importing into {name} from {new.label(source)}", slot=slot)
        for slot in before.migrating.keys() - row.migrating.keys():
            add("migration_done", name, f"slot {slot} no longer migrating from {name}", slot=slot)
    for node_id in old_rows.keys() - new_rows.keys():
        add("node_removed", old_rows[node_id].address, f"{old_rows[node_id].address} left the cluster (forgotten)")
    if old.nodes and new.current_epoch > old.current_epoch:
        add("current_epoch", None, f"cluster current epoch {old.current_epoch} → {new.current_epoch}",
            old=old.current_epoch, new=new.current_epoch)  # fmt: skip
    if old.nodes:
        entries.extend(_owner_changes(old, new, now))
    return entries


def _owner_changes(old: Snapshot, new: Snapshot, now: float) -> list[TimelineEntry]:
    """Slots whose owner changed, grouped into runs with the same (old, new) owners."""
    changed = [(slot, before, after) for slot, (before, after) in enumerate(zip(old.owners, new.owners))
               if before != after]  # fmt: skip
    runs: list[list[Any]] = []
    for slot, before, after in changed:
        if runs and runs[-1][1] == slot - 1 and runs[-1][2:] == [before, after]:
            runs[-1][1] = slot
        else:
            runs.append([slot, slot, before, after])
    entries = []
    for first, last, before, after in runs:
        slots = str(first) if first == last else f"{first}-{last}"
        text = f"slots {slots}: owner {old.label(before)} → {new.label(after)}"
        entries.append(TimelineEntry(now, Source.VIEW, "slots_moved", text, new.label(after),
                                     {"first": first, "last": last, "old": before, "new": after}))  # fmt: skip
    return entries


def trace_entry(payload: str | bytes, now: float, *, chatter: bool = False) -> TimelineEntry | None:
    """One record of the trace channel as an entry (None: chatter, or not a trace record).

    Records are cluster/trace.py's format (version 1): ``kind`` "send"/"recv" with the
    message ``type`` and addresses, or "event" with ``name``, ``fields`` and ``text``.
    ``t`` is the node's protocol time; a time that is not wall-clock (a simulated
    clock near zero) is replaced by ``now``, the arrival time.
    """
    try:
        record = parse_record(payload)
    except (TraceFormatError, UnicodeDecodeError):
        return None
    try:
        if not chatter and is_chatter(record):
            return None
        node = str(record.get("port") or record.get("node") or "")
        when = record.get("t")
        seconds = when / 1000.0 if isinstance(when, int | float) and not isinstance(when, bool) else 0.0
        if seconds < 1e9:  # not a wall-clock time (before 2001)
            seconds = now
        if record["kind"] == "event":
            name = str(record["name"])
            text = shorten_ids(str(record.get("text") or name))
            fields = record.get("fields") if isinstance(record.get("fields"), dict) else {}
        else:
            name = str(record["type"])
            text = _describe_message(record)
            fields = {key: record[key] for key in ("from", "to", "current_epoch", "config_epoch", "about")
                      if key in record}  # fmt: skip
    except (KeyError, TypeError):
        return None
    return TimelineEntry(seconds, Source.TRACE, f"trace_{record['kind']}", f"[{node}] {text}", node or None,
                         {"name": name, **fields})  # fmt: skip


def _describe_message(record: Mapping[str, Any]) -> str:
    """``sends FAIL to 127.0.0.1:7002 (about 1a2b3c4d) epoch 7``: a message in one line."""
    if record["kind"] == "send":
        text = f"sends {record['type']} to {record.get('to_addr') or shorten_ids(str(record.get('to')))}"
    else:
        text = f"receives {record['type']} from {record.get('from_addr') or shorten_ids(str(record.get('from')))}"
    if record.get("about"):
        text += f" about {str(record['about'])[:8]}"
    return f"{text} (current epoch {record.get('current_epoch')}, config epoch {record.get('config_epoch')})"


_NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")


def shorten_ids(text: str) -> str:
    """Node ids (40 hex characters) cut to their first 8, as redis-cli's users read them."""
    return _NODE_ID.sub(lambda match: match.group(0)[:8], text)
