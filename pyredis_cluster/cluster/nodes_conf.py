"""nodes.conf (``cluster-config-file``) and the CLUSTER NODES text, in Redis 7.0's format.

Theory of operation
-------------------
A cluster node persists its view of the cluster so that a restart keeps its
identity (node id), its epochs and the slot map. The file *is* the CLUSTER NODES
output with handshake nodes left out, plus one last line
``vars currentEpoch <n> lastVoteEpoch <n>`` (bus.md §7)::

    <id> <ip>:<port>@<cport>[,<hostname>] <flags> <primary-id|-> <ping_sent> <pong_received> <configEpoch> <connected|disconnected> [slots...]

* **Writing side.** ``format_node_line`` renders one node exactly as Redis's
  clusterGenNodeDescription does (flags via ``nodes.format_flags``; a replica
  prints its primary's configEpoch; slots as maximal ranges; the migrating
  ``[slot->-id]`` / importing ``[slot-<-id]`` entries only on the myself line).
  ``render_cluster_nodes`` is the CLUSTER NODES reply text, ``render_nodes_conf``
  the file content. The cluster core must persist epochs and votes *before*
  acting on them (a vote is sent only after ``lastVoteEpoch`` is on disk).
* **Reading side.** ``parse_nodes_conf`` applies 7.0's clusterLoadConfig rules:
  lines are split like sdssplitargs (quotes allowed); blank lines are skipped; a
  ``vars`` line sets the epochs (unknown keys skipped); a node line needs 8+
  fields and a valid id; the address splits at the first ``,`` (hostname), the
  last ``:`` (port), then ``@`` (cport, default port+10000); unknown flag words,
  bad ids, out-of-range slots, no or two ``myself`` lines are fatal. Non-zero
  ping/pong fields mean "now", ``fail`` sets ``fail_time`` to now, a replica's
  configEpoch is loaded as 0, nodes named only as a primary or in a
  migrating/importing entry are created, a slot already owned by an earlier line
  is not given to a later one, and currentEpoch is raised to the largest
  configEpoch. Numbers are read leniently like C's ``atoi``/``strtoull`` ("abc" is 0).
  Any fatal problem raises ``NodesConfError`` naming the line.

Deliberately different from 7.0
-------------------------------
7.0.15 saves *in place* (write, optional fsync, ftruncate), so a crash mid-write
can leave a torn file. ``write_nodes_conf_atomic`` writes a temporary file, fsyncs
it, renames it over the target and fsyncs the directory (what 7.2 moved to). One
consequence for whoever locks the file with ``flock`` as Redis does: the rename
replaces the inode, so lock a separate lock file, or re-lock after each save.
Where 7.0 would crash (``serverAssert``, a NULL dereference on a whitespace-only
line) we raise ``NodesConfError`` instead.
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .constants import CLUSTER_PORT_INCR, CLUSTER_SLOTS
from .nodes import NO_FLAGS, ClusterNode, NodeFlags, format_flags, is_valid_node_id, parse_flags
from .slots import SlotBitmap, format_slot_ranges

CORRUPTED_MESSAGE = "Unrecoverable error: corrupted cluster config file."


class NodesConfError(Exception):
    """nodes.conf cannot be loaded. Redis exits with ``CORRUPTED_MESSAGE`` (or panics).

    ``line_number`` is 1-based (None when the problem is the file as a whole);
    ``line`` is the offending line without its newline.
    """

    def __init__(self, detail: str, line_number: int | None = None, line: str | None = None) -> None:
        self.detail = detail
        self.line_number = line_number
        self.line = line
        where = "" if line_number is None else f" Line {line_number}: {line!r}:"
        super().__init__(f"{CORRUPTED_MESSAGE}{where} {detail}")


@dataclass
class NodesConfig:
    """What a nodes.conf holds. ``nodes`` keeps file order (and creation order)."""

    myself: str
    nodes: dict[str, ClusterNode]
    current_epoch: int = 0
    last_vote_epoch: int = 0
    migrating_slots_to: dict[int, str] = field(default_factory=dict)  # slot -> target node id
    importing_slots_from: dict[int, str] = field(default_factory=dict)  # slot -> source node id

    @property
    def myself_node(self) -> ClusterNode:
        return self.nodes[self.myself]


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------
#: Slot-range text by slot mask. A node's slots rarely change between two renderings
#: (every CLUSTER SETSLOT saves nodes.conf, redis-cli reads CLUSTER NODES again and
#: again), and turning a 16384-bit mask into ranges is the costly part of a line.
_SLOT_TEXT_CACHE: dict[int, str] = {}
_SLOT_TEXT_CACHE_SIZE = 512


def _slot_text(slots: SlotBitmap) -> str:
    text = _SLOT_TEXT_CACHE.get(slots.mask)
    if text is None:
        if len(_SLOT_TEXT_CACHE) >= _SLOT_TEXT_CACHE_SIZE:
            _SLOT_TEXT_CACHE.clear()
        text = _SLOT_TEXT_CACHE[slots.mask] = format_slot_ranges(slots)
    return text


def format_node_line(
    node: ClusterNode,
    *,
    primary_config_epoch: int | None = None,
    migrating_slots_to: Mapping[int, str] | None = None,
    importing_slots_from: Mapping[int, str] | None = None,
    use_pport: bool = False,
) -> str:
    """One CLUSTER NODES / nodes.conf line, without the trailing newline.

    ``primary_config_epoch``: for a replica whose primary is known, the epoch to
    print (Redis prints the primary's). Migrating/importing entries are printed
    only if the node is MYSELF; when a slot is in both maps, migrating wins.
    ``use_pport``: print ``pport`` instead of ``port`` when it is set (TLS clusters,
    for plaintext clients).
    """
    port = node.pport if use_pport and node.pport else node.port
    address = f"{node.ip}:{port}@{node.cport}"
    if node.hostname:
        address += f",{node.hostname}"
    epoch = node.config_epoch
    if node.is_replica and node.primary_id is not None and primary_config_epoch is not None:
        epoch = primary_config_epoch
    link = "connected" if node.link_connected or node.is_myself else "disconnected"
    parts = [
        node.name,
        address,
        format_flags(node.flags),
        node.primary_id if node.primary_id is not None else "-",
        str(node.ping_sent),
        str(node.pong_received),
        str(epoch),
        link,
    ]
    slots = _slot_text(node.slots)
    if slots:
        parts.append(slots)
    if node.is_myself:
        migrating = migrating_slots_to or {}
        importing = importing_slots_from or {}
        for slot in sorted(set(migrating) | set(importing)):
            if slot in migrating:
                parts.append(f"[{slot}->-{migrating[slot]}]")
            else:
                parts.append(f"[{slot}-<-{importing[slot]}]")
    return " ".join(parts)


def render_cluster_nodes(
    nodes: Iterable[ClusterNode],
    *,
    migrating_slots_to: Mapping[int, str] | None = None,
    importing_slots_from: Mapping[int, str] | None = None,
    exclude: NodeFlags = NO_FLAGS,
    use_pport: bool = False,
) -> str:
    """The CLUSTER NODES text: one line per node, each ending in ``\\n``.

    Nodes having any flag in ``exclude`` are left out (nodes.conf excludes
    HANDSHAKE). A replica's configEpoch is looked up from its primary in ``nodes``.
    """
    node_list = list(nodes)
    by_name = {n.name: n for n in node_list}
    lines = []
    for node in node_list:
        if node.flags & exclude:
            continue
        primary = by_name.get(node.primary_id) if node.primary_id is not None else None
        lines.append(
            format_node_line(
                node,
                primary_config_epoch=primary.config_epoch if primary is not None else None,
                migrating_slots_to=migrating_slots_to,
                importing_slots_from=importing_slots_from,
                use_pport=use_pport,
            )
            + "\n"
        )
    return "".join(lines)


def render_nodes_conf(config: NodesConfig) -> str:
    """The full nodes.conf content: node lines without handshake nodes, then ``vars``."""
    text = render_cluster_nodes(
        config.nodes.values(),
        migrating_slots_to=config.migrating_slots_to,
        importing_slots_from=config.importing_slots_from,
        exclude=NodeFlags.HANDSHAKE,
    )
    return text + f"vars currentEpoch {config.current_epoch} lastVoteEpoch {config.last_vote_epoch}\n"


def write_nodes_conf_atomic(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``text`` atomically: temp file, fsync, rename, fsync dir.

    A crash leaves either the old or the new file, never a torn one.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # Redis creates nodes.conf 0644; mkstemp uses 0600
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if fsync:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ----------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------
_SPACE = " \t\n\v\f\r"  # C isspace()
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def split_args(line: str) -> list[str] | None:
    """Split a line like Redis's sdssplitargs; None on unbalanced quotes.

    Tokens are separated by whitespace; ``"..."`` allows ``\\xHH`` and ``\\n``-style
    escapes, ``'...'`` allows ``\\'``; a closing quote must be followed by a space
    or the end of the line.
    """
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        token: list[str] = []
        in_dq = in_sq = False
        while True:
            c = line[i] if i < n else ""
            if in_dq:
                if c == "\\" and line[i + 1 : i + 2] == "x" and _is_hex(line[i + 2 : i + 4]):
                    token.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    token.append(_ESCAPES.get(line[i], line[i]))
                elif c == '"':
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                elif not c:
                    return None  # unterminated quotes
                else:
                    token.append(c)
            elif in_sq:
                if c == "\\" and line[i + 1 : i + 2] == "'":
                    i += 1
                    token.append("'")
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                elif not c:
                    return None
                else:
                    token.append(c)
            else:
                if c in (" ", "\n", "\r", "\t", ""):
                    if c:
                        i += 1
                    break
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    token.append(c)
            i += 1
        args.append("".join(token))


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in string.hexdigits for c in text)


def c_atoi(text: str) -> int:
    """C ``atoi``/``strtoll`` leniency: leading spaces, a sign, then digits; else 0."""
    text = text.lstrip(_SPACE)
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for c in text:
        if not c.isdigit() or not c.isascii():
            break
        digits += c
    return sign * int(digits) if digits else 0


def c_strtoull(text: str) -> int:
    """C ``strtoull(s, NULL, 10)``: like atoi, but a negative value wraps to 64 bits."""
    return c_atoi(text) % (1 << 64)


def parse_nodes_conf(text: str, now: int) -> NodesConfig | None:
    """Parse nodes.conf content as Redis 7.0 loads it.

    Returns None for empty content (Redis then starts as a fresh node and writes
    the file). ``now`` (ms) stands in for Redis's mstime(): non-zero ping/pong
    fields and ``fail`` flags are set to it, and implicitly created nodes get it
    as ``ctime``. Raises ``NodesConfError`` naming the offending line.
    """
    if not text:
        return None
    nodes: dict[str, ClusterNode] = {}
    slot_owner: dict[int, str] = {}
    myself: str | None = None
    current_epoch = 0
    last_vote_epoch = 0
    migrating: dict[int, str] = {}
    importing: dict[int, str] = {}

    implicit: set[str] = set()  # created from a reference before their own line

    def get_node(name: str, own_line: bool = False) -> ClusterNode:
        node = nodes.get(name)
        if node is None:
            node = nodes[name] = ClusterNode(name, ctime=now)
            if not own_line:
                implicit.add(name)
        elif own_line and name in implicit:
            # Move it to where its own line is, so rendering keeps the file's order.
            implicit.discard(name)
            nodes[name] = nodes.pop(name)
        return node

    # fgets() semantics: only "\n" ends a line (str.splitlines would also split on \v, \x1c...).
    pieces = text.split("\n")
    raw_lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    for number, raw_line in enumerate(raw_lines, start=1):
        line = raw_line.rstrip("\n")

        def fail(detail: str, number: int = number, line: str = line) -> NodesConfError:
            return NodesConfError(detail, number, line)

        if raw_line[0] == "\n":  # Redis skips only truly empty lines
            continue
        argv = split_args(raw_line)
        if argv is None:
            raise fail("unbalanced quotes")
        if not argv:
            raise fail("line has no fields")  # 7.0 would dereference argv[0] here
        if argv[0].lower() == "vars":
            if len(argv) % 2 == 0:
                raise fail("'vars' needs key/value pairs")
            for key, value in zip(argv[1::2], argv[2::2]):
                if key.lower() == "currentepoch":
                    current_epoch = c_strtoull(value)
                elif key.lower() == "lastvoteepoch":
                    last_vote_epoch = c_strtoull(value)
                # Redis logs "Skipping unknown cluster config variable" and goes on.
            continue
        if len(argv) < 8:
            raise fail(f"node line has {len(argv)} fields, at least 8 needed")
        if not is_valid_node_id(argv[0]):
            raise fail(f"invalid node id {argv[0]!r}")
        node = get_node(argv[0], own_line=True)

        # ip:port[@cport][,hostname]
        address, comma, hostname = argv[1].partition(",")
        node.hostname = hostname if comma else ""
        ip, colon, ports = address.rpartition(":")
        if not colon:
            raise fail(f"address {argv[1]!r} has no ':port'")
        node.ip = ip
        port_text, at, cport_text = ports.partition("@")
        node.port = c_atoi(port_text)
        node.cport = c_atoi(cport_text) if at else node.port + CLUSTER_PORT_INCR

        try:
            flags = parse_flags(argv[2])
        except ValueError as exc:
            raise fail(str(exc)) from None
        if NodeFlags.MYSELF in flags:
            if myself is not None and myself != node.name:
                raise fail(f"a second node flagged myself (the first was {myself})")
            myself = node.name
        if NodeFlags.FAIL in flags:
            node.fail_time = now
        node.flags |= flags  # Redis ORs: a repeated line adds flags

        if not argv[3].startswith("-"):
            if not is_valid_node_id(argv[3]):
                raise fail(f"invalid primary id {argv[3]!r}")
            primary = get_node(argv[3])
            node.primary_id = primary.name
            if node.name not in primary.replica_ids:
                primary.replica_ids.append(node.name)
                primary.flags |= NodeFlags.MIGRATE_TO  # as clusterNodeAddSlave does

        if c_atoi(argv[4]):
            node.ping_sent = now
        if c_atoi(argv[5]):
            node.pong_received = now
        node.config_epoch = 0 if node.is_replica and node.primary_id is not None else c_strtoull(argv[6])
        # argv[7], the link state, is not read: loaded nodes have no link yet.

        new_slots: list[int] = []
        for arg in argv[8:]:
            if arg.startswith("["):
                dash = arg.find("-")
                if dash < 0:
                    raise fail(f"bad migrating/importing entry {arg!r}")  # 7.0 asserts
                slot = c_atoi(arg[1:dash])
                if not 0 <= slot < CLUSTER_SLOTS:
                    raise fail(f"slot {slot} out of range in {arg!r}")
                direction = arg[dash + 1 : dash + 2]
                rest = arg[dash + 3 :]
                close = rest.find("]")
                if close < 0 or not is_valid_node_id(rest[:close]):
                    raise fail(f"bad node id in {arg!r}")
                peer = get_node(rest[:close]).name
                (migrating if direction == ">" else importing)[slot] = peer
                continue
            start_text, range_dash, stop_text = arg.partition("-")
            start = c_atoi(start_text)
            stop = c_atoi(stop_text) if range_dash else start
            if not (0 <= start < CLUSTER_SLOTS and 0 <= stop < CLUSTER_SLOTS):
                raise fail(f"slot range {arg!r} out of range 0..{CLUSTER_SLOTS - 1}")
            for slot in range(start, stop + 1):
                if slot not in slot_owner:  # clusterAddSlot: the first owner keeps it
                    slot_owner[slot] = node.name
                    new_slots.append(slot)
        if new_slots:
            node.slots = node.slots | SlotBitmap.from_slots(new_slots)

    if myself is None:
        raise NodesConfError("no node is flagged myself")
    max_epoch = max((n.config_epoch for n in nodes.values()), default=0)
    return NodesConfig(
        myself=myself,
        nodes=nodes,
        current_epoch=max(current_epoch, max_epoch),
        last_vote_epoch=last_vote_epoch,
        migrating_slots_to=migrating,
        importing_slots_from=importing,
    )


def load_nodes_conf(path: str | os.PathLike[str], now: int) -> NodesConfig | None:
    """Read and parse ``path``; None if it is missing or empty (start fresh)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    return parse_nodes_conf(data.decode("utf-8", "surrogateescape"), now)
