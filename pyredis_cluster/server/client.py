"""One client's state, as command handlers see it (Redis's ``client`` struct).

Handlers receive the :class:`Client` as their first argument, as Redis's command
procs receive ``client *c``: it gives them the selected database (``c.db``), the node
(``c.node``) and the protocol version (``c.resp``), and collects what they send.
No socket here: the connection gives the client a ``sink`` callable that takes
encoded bytes, so handlers and the dispatch pipeline can be tested without I/O.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol.encoder import encode

if TYPE_CHECKING:
    from .command_table import CommandSpec
    from .keyspace import Database
    from .node import Node


class ReplyMode(enum.Enum):
    """CLIENT REPLY ON|OFF|SKIP."""

    ON = "on"
    OFF = "off"
    SKIP = "skip"  # skip the reply to the next command only
    SKIP_NEXT = "skip_next"  # set by CLIENT REPLY SKIP itself, becomes SKIP after it


#: ReplyMode.ON as a module global: reading an Enum member through its class costs
#: several times a global lookup, and every reply checks it.
_REPLIES_ON = ReplyMode.ON


class Blocked:
    """Returned by a handler that must wait for keys (BLPOP...).

    ``keys`` are the keys it waits on, ``deadline_ms`` an absolute unix time in ms or 0
    for "forever", ``timeout_reply`` what the client gets when the deadline passes (or
    at once, when the command cannot block: inside MULTI/EXEC).
    """

    __slots__ = ("keys", "deadline_ms", "timeout_reply")

    def __init__(self, keys: list[bytes], deadline_ms: int, timeout_reply: Any) -> None:
        self.keys = keys
        self.deadline_ms = deadline_ms
        self.timeout_reply = timeout_reply


class Client:
    """State of one client connection."""

    def __init__(self, node: Node, client_id: int, sink: Callable[[bytes], None] | None = None) -> None:
        self.node = node
        self.id = client_id
        self.sink: Callable[[bytes], None] = sink or (lambda data: None)
        self.resp = 2
        self.db: Database = node.keyspace[0]
        self.name: bytes = b""
        self.lib_name: bytes = b""
        self.lib_ver: bytes = b""
        self.authenticated = not node.config.requirepass
        self.addr = "127.0.0.1:0"
        self.laddr = "127.0.0.1:0"
        self.fd = -1
        self.created = time.time()
        self.last_interaction = self.created
        self.last_command = "NULL"
        self.reply_mode = ReplyMode.ON
        self.close_after_reply = False
        # MULTI/EXEC and WATCH
        self.in_multi = False
        self.multi_queue: list[tuple[CommandSpec, list[bytes]]] = []
        self.multi_error = False
        self.in_exec = False
        self.watched_keys: list[tuple[Database, bytes]] = []
        #: watched keys that were already expired when WATCHed (Redis's ``wk->expired``):
        #: their deletion by expiry is not a change, see Database.touch
        self.watched_stale: set[tuple[Database, bytes]] = set()
        self.watch_dirty = False
        # pub/sub: ordered sets (dicts with None values), in subscription order
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        # blocking
        self.blocked: Blocked | None = None
        self.blocked_args: list[bytes] | None = None
        self.blocked_spec: CommandSpec | None = None
        self.blocked_db: Database | None = None
        self.blocked_timer: Any = None
        # cluster
        self.asking = False
        self.readonly = False
        # misc flags
        self.is_monitor = False
        self.is_master = False  # the connection from our primary, on a replica
        self.is_replica = False  # a replica of ours, after SYNC/PSYNC (Redis's CLIENT_SLAVE)
        #: commands to propagate instead of this one (set by propagate_as; server/replication.py)
        self.propagate_override: list[list[bytes]] | None = None
        self.no_evict = False
        self.no_touch = False
        self.paused = False
        self.killed = False
        self.on_unblocked: Callable[[], None] = lambda: None
        self.on_close: Callable[[], None] = lambda: None
        #: bytes written but not yet taken by the socket (client-output-buffer-limit checks)
        self.output_buffered: Callable[[], int] = lambda: 0

    # -- replies -----------------------------------------------------------------------

    def reply(self, value: Any) -> None:
        """Send a command's reply, honouring CLIENT REPLY OFF/SKIP."""
        mode = self.reply_mode
        if mode is _REPLIES_ON:
            self.sink(encode(value, self.resp))
        elif mode is ReplyMode.SKIP:
            self.reply_mode = ReplyMode.ON
        elif mode is ReplyMode.SKIP_NEXT:
            self.reply_mode = ReplyMode.SKIP

    def push(self, value: Any) -> None:
        """Send an out-of-band message (pub/sub, MONITOR, invalidation), ignoring REPLY OFF."""
        self.sink(encode(value, self.resp))

    def write_raw(self, data: bytes) -> None:
        self.sink(data)

    # -- state helpers for handlers ------------------------------------------------------

    @property
    def subscription_count(self) -> int:
        return len(self.channels) + len(self.patterns)

    def select(self, index: int) -> None:
        self.db = self.node.keyspace[index]

    def modified(self, key: bytes, dirty: int = 1) -> None:
        """Report a change to ``key``: invalidates WATCHes, counts towards ``dirty``."""
        self.db.touch(key)
        self.node.dirty += dirty

    def propagate_as(self, *commands: list[bytes]) -> None:
        """Send ``commands`` to replicas instead of the running command (Redis's
        rewriteClientCommandVector/alsoPropagate); a no-op when nothing replicates."""
        if self.node.repl_feed is not None:
            self.propagate_override = [*(self.propagate_override or ()), *commands]

    def notify(self, event_class: str, event: str, key: bytes) -> None:
        """Publish a keyspace notification (if notify-keyspace-events enables the class)."""
        self.node.notify_keyspace_event(event_class, event, key, self.db.index)

    def unwatch_all(self) -> None:
        for db, key in self.watched_keys:
            watchers = db.watched.get(key)
            if watchers is not None:
                watchers.discard(self)
                if not watchers:
                    del db.watched[key]
        self.watched_keys = []
        self.watched_stale.clear()
        self.watch_dirty = False

    def reset_multi(self) -> None:
        self.in_multi = False
        self.multi_queue = []
        self.multi_error = False
        self.unwatch_all()
