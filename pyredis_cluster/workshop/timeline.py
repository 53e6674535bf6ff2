"""What happened, as a short story: the cluster events of every node, merged and named.

Theory of operation
-------------------
Every node's cluster core reports each state change as an
:class:`~pyredis_cluster.cluster.events.Event` (cluster/events.py): PFAIL, FAIL, a vote,
an epoch bump, a slot rebound... The scenario cluster runs in this process, and the
harness already logs every node's events from start-up on, nodes it adds or restarts
included (``cluster.events``, testing/topology.py). The :class:`Timeline` follows that
log, keeping ``(node label, event)`` pairs.

Showing them raw would drown the story (each change is seen by every node, links come
and go), so :meth:`Timeline.story` tells it the way a teacher would:

* node ids are replaced by the short labels of the scenario (``A``, ``A1``, ``D``);
* link and handshake plumbing is left out (``QUIET_EVENTS``);
* the *same* change seen by several nodes within a short window becomes one line,
  listing the nodes: ``+1.204s  B C A1  Node A reported node A ... FAIL``.

Each line carries the time since the scenario started. ``Timeline.story`` returns only
the lines since the previous call, so a scenario can show the trace of each step.

Bus messages (FAIL, FAILOVER_AUTH_REQUEST, UPDATE...) are not events: busfeed.py reads
them from the nodes' teaching trace and adds them with :meth:`Timeline.add_message`;
the same message sent to several nodes becomes one line, ``A1  -> B C  ...``.

Deliberately weak
-----------------
Merging is by identical text within a window, so two genuinely separate identical
changes close together read as one line (rare, and harmless for teaching).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from ..cluster.events import Event, EventName, LogLevel

if TYPE_CHECKING:
    from ..testing.topology import EventLog

#: Plumbing: true, but not part of any story a workshop tells.
QUIET_EVENTS = frozenset({
    EventName.LINK_CONNECTING,
    EventName.LINK_CONNECTED,
    EventName.LINK_DISCONNECTED,
    EventName.NODE_RENAMED,
    EventName.VOTE_REQUESTED,  # VOTE_GRANTED / VOTE_REFUSED say it with the outcome
    EventName.HOSTNAME_CHANGED,
})  # fmt: skip
#: Identical lines from several nodes closer than this are told once.
MERGE_WINDOW_MS = 1500
_NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")


@dataclass
class Line:
    """One line of the story: what happened, first seen at ``time_ms``, on ``nodes``."""

    time_ms: int
    text: str
    nodes: list[str] = field(default_factory=list)
    level: LogLevel = LogLevel.NOTICE
    kind: str = "event"  # "event" or "message"
    name: str = ""  # the event name or the message type
    targets: list[str] = field(default_factory=list)  # a message's receivers


class Palette:
    """ANSI colours when printing to a terminal, nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)

    def node(self, text: str) -> str:
        return self._wrap("36", text)

    def warning(self, text: str) -> str:
        return self._wrap("33", text)

    def message(self, text: str) -> str:
        return self._wrap("35", text)

    @classmethod
    def for_stream(cls, stream: TextIO) -> Palette:
        isatty = getattr(stream, "isatty", None)
        return cls(bool(isatty and isatty()) and stream is not sys.stderr)


class Timeline:
    """Events (and traced messages) of every node of a cluster, in time order."""

    def __init__(self, label_of: Callable[[str], str], label_source: Callable[[str], str] | None = None) -> None:
        #: node id -> label, for ids mentioned in a text (the scenario's naming, e.g. "A1")
        self.label_of = label_of
        #: the label of the node an event happened on (may give a new node its label)
        self.label_source = label_source or label_of
        self.start_ms: int | None = None
        self.entries: list[tuple[str, Event]] = []  # (label of the node that changed, event)
        self.lines: list[Line] = []
        self._told = 0  # lines already returned by story()
        self._log: EventLog | None = None
        self._read = 0  # entries of the log already taken
        self._pending: list[Line] = []  # taken, not yet merged into lines (sorted first)

    # -- recording --------------------------------------------------------------------------

    def follow(self, log: EventLog) -> None:
        """Read every event of the cluster's event log (testing/topology.py), from its start."""
        self._log, self._read = log, 0

    def refresh(self) -> None:
        """Take the events logged since the last call, and merge what is pending, in time order."""
        log = self._log
        if log is not None:
            while self._read < len(log.entries):
                self.add_event(log.entries[self._read].event)
                self._read += 1
        self._pending.sort(key=lambda line: line.time_ms)
        for line in self._pending:
            self._merge(line)
        self._pending.clear()

    def skip(self) -> None:
        """Count everything recorded so far as told (start-up noise); time restarts at the next line."""
        self.refresh()
        self._told = len(self.lines)
        self.start_ms = None

    def add_event(self, event: Event) -> None:
        label = self.label_source(event.source)
        self.entries.append((label, event))
        if event.name in QUIET_EVENTS:
            return
        self._pending.append(Line(event.time_ms, self.name_nodes(event.describe()), [label], event.level, "event",
                                  str(event.name)))  # fmt: skip

    def add_message(self, time_ms: int, sender: str, text: str, message_type: str, target: str) -> None:
        """A traced bus message from ``sender`` to ``target`` (already filtered by the caller)."""
        self._pending.append(Line(time_ms, self.name_nodes(text), [sender], LogLevel.VERBOSE, "message",
                                  message_type, [target]))  # fmt: skip

    def _merge(self, line: Line) -> None:
        """Append ``line``, or fold it into an identical one close before it: the same change
        on another node (events), or the same message to another receiver (messages)."""
        if self.start_ms is None:
            self.start_ms = line.time_ms
        for earlier in reversed(self.lines[self._told:]):
            if line.time_ms - earlier.time_ms > MERGE_WINDOW_MS:
                break
            if earlier.text != line.text or earlier.kind != line.kind:
                continue
            if line.kind == "message":
                if earlier.nodes == line.nodes:  # one sender, several receivers
                    earlier.targets.extend(t for t in line.targets if t not in earlier.targets)
                    return
                continue
            if line.nodes[0] not in earlier.nodes:
                earlier.nodes.append(line.nodes[0])
            return
        self.lines.append(line)

    def name_nodes(self, text: str) -> str:
        """Replace 40-hex node ids by their labels."""
        return _NODE_ID.sub(lambda match: self.label_of(match.group(0)), text)

    # -- reading ------------------------------------------------------------------------------

    def of(self, name: EventName, label: str | None = None) -> list[Event]:
        """Recorded events named ``name`` (on the node labelled ``label``, if given)."""
        self.refresh()
        return [event for where, event in self.entries if event.name is name and (label is None or where == label)]

    def labels_with(self, name: EventName) -> set[str]:
        self.refresh()
        return {where for where, event in self.entries if event.name is name}

    def story(self, palette: Palette | None = None) -> list[str]:
        """The lines recorded since the previous call, formatted."""
        palette = palette or Palette(False)
        self.refresh()
        lines, self._told = self.lines[self._told:], len(self.lines)
        start = self.start_ms or 0
        out = []
        for line in lines:
            when = palette.dim(f"+{(line.time_ms - start) / 1000:7.3f}s")
            who = palette.node(" ".join(line.nodes).ljust(12))
            what = line.text
            if line.kind == "message":
                what = palette.message(f"-> {' '.join(line.targets)}  {what}")
            elif line.level >= LogLevel.WARNING:
                what = palette.warning(what)
            out.append(f"  {when}  {who} {what}")
        return out
