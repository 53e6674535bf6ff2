"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...), and waking them fairly.

Theory of operation
-------------------
A blocking command whose keys are empty returns a :class:`~.client.Blocked`. The
connection then stops reading that client's commands and registers it here, under each
key it waits on, in arrival order. When a command makes one of those keys non-empty,
the keyspace records the key as *ready*; after that command, :meth:`serve_ready_keys`
goes through the ready keys and, for each, re-runs the blocked commands of the clients
waiting on it, first come first served. A client whose command now succeeds is
unblocked and gets its reply; one that would still block (another client took the
element first) stays in line, keeping its place. A deadline timer answers the
command's timeout reply (a null) when it passes. This is Redis 7.2's "re-execute the
command" model, which gives the same replies as 7.0's per-type serving code with one
mechanism for every blocking command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import Blocked, Client

if TYPE_CHECKING:
    from .command_table import CommandSpec
    from .keyspace import Keyspace


class BlockingManager:
    def __init__(self, keyspace: Keyspace, schedule: Any) -> None:
        self.keyspace = keyspace
        #: schedule(delay_seconds, callback) -> handle with .cancel(); the node's event loop
        self.schedule = schedule
        self.blocked_clients = 0
        #: While a blocked command is re-run for a key that became ready, that key.
        #: Redis 7.0 serves a client from the ready key only (not from the first of its
        #: keys that happens to be non-empty), and leaves it blocked when that key holds
        #: another type; handlers read this to do the same.
        self.serving_key: bytes | None = None

    def block(self, c: Client, spec: CommandSpec, args: list[bytes], blocked: Blocked) -> None:
        """Park client ``c`` until one of ``blocked.keys`` is ready or the deadline passes."""
        c.blocked = blocked
        c.blocked_args = args
        c.blocked_spec = spec
        c.blocked_db = c.db
        for key in blocked.keys:
            waiting = self.keyspace.blocked_on.setdefault((c.db.index, key), [])
            if c not in waiting:
                waiting.append(c)
        self.blocked_clients += 1
        if blocked.deadline_ms:
            delay = max(0.0, (blocked.deadline_ms - self.keyspace.now_ms) / 1000)
            c.blocked_timer = self.schedule(delay, lambda: self.timeout(c))

    def unblock(self, c: Client) -> None:
        """Take ``c`` out of every waiting line (it got its reply, timed out or left)."""
        blocked = c.blocked
        if blocked is None:
            return
        assert c.blocked_db is not None
        for key in blocked.keys:
            line = self.keyspace.blocked_on.get((c.blocked_db.index, key))
            if line is not None:
                if c in line:
                    line.remove(c)
                if not line:
                    del self.keyspace.blocked_on[(c.blocked_db.index, key)]
        if c.blocked_timer is not None:
            c.blocked_timer.cancel()
            c.blocked_timer = None
        c.blocked = None
        c.blocked_args = None
        c.blocked_spec = None
        self.blocked_clients -= 1

    def timeout(self, c: Client) -> None:
        blocked = c.blocked
        if blocked is None:
            return
        busy = c.node.busy
        if busy is not None:  # the node is in a MIGRATE: Redis answers timeouts after it
            busy.defer(lambda: self.timeout(c))
            return
        c.blocked_timer = None
        self.unblock(c)
        c.reply(blocked.timeout_reply)
        c.on_unblocked()

    def unblock_with_reply(self, c: Client, reply: Any) -> None:
        """CLIENT UNBLOCK and friends: end the wait with a given reply."""
        if c.blocked is None:
            return
        self.unblock(c)
        c.reply(reply)
        c.on_unblocked()

    def rerun(self, c: Client, args: list[bytes]) -> None:
        """End a command's wait that was not about keys (a client pause, a MIGRATE in
        flight) and run it again through the whole pipeline, as if it had just arrived."""
        from .dispatch import process_command  # dispatch imports us indirectly through the node

        self.unblock(c)
        reply = process_command(c, args)
        if type(reply) is not Blocked:
            c.reply(reply)
        c.on_unblocked()

    def serve_ready_keys(self) -> None:
        """Wake clients waiting on keys that became ready, first come first served."""
        from .dispatch import call  # dispatch imports us indirectly through the node

        keyspace = self.keyspace
        while keyspace.ready_keys:
            ready, keyspace.ready_keys = keyspace.ready_keys, []
            seen: set[tuple[int, bytes]] = set()
            for db, key in ready:
                if (db.index, key) in seen:
                    continue
                seen.add((db.index, key))
                for c in list(keyspace.blocked_on.get((db.index, key), ())):
                    if c.blocked is None or key not in db.data:
                        continue
                    spec, args = c.blocked_spec, c.blocked_args
                    assert spec is not None and args is not None
                    saved_db = c.db
                    c.db = db
                    self.serving_key = key
                    try:
                        reply = call(c, spec, args)
                    finally:
                        self.serving_key = None
                        c.db = saved_db
                    if type(reply) is Blocked:
                        continue
                    self.unblock(c)
                    c.reply(reply)
                    c.on_unblocked()
