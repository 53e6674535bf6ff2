"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis 7.0 semantics).

Theory of operation
-------------------
MULTI puts the client in multi state; from then on the dispatch pipeline queues every
command (answering ``+QUEUED``) except EXEC, DISCARD, MULTI, WATCH, QUIT and RESET,
which run at once. A command refused while queueing (unknown, wrong arity, NOAUTH,
``no_multi``, a cluster redirection) flags the transaction (``c.multi_error``), and
EXEC then answers ``-EXECABORT`` and runs nothing. Errors raised *by* a queued command
while EXEC runs it do not stop the others: each gets its own reply in EXEC's array.

EXEC runs the queued commands through :func:`~..dispatch.call` (the same call path as
any command; nothing is parsed again) with ``c.in_exec`` set, which

* freezes the time for the whole transaction (a key cannot expire half-way through);
* makes blocking commands answer their timeout reply at once instead of blocking;
* makes SSUBSCRIBE refuse to run (it needs a client that may get several replies).

Pushes a command sends while EXEC runs it (a SUBSCRIBE's confirmations, a keyspace
notification to oneself) belong in the EXEC reply at that command's place, as in
Redis where they share the output buffer: EXEC captures the client's output while it
runs and returns everything as one raw reply, the array header first.

WATCH (optimistic locking): a watched key that changes between WATCH and EXEC makes
EXEC answer a null array and run nothing. "Changes" are Redis's ``signalModifiedKey``
points: any write by any client (including this one before MULTI), FLUSHALL, FLUSHDB,
SWAPDB, and deletion by expiry; :meth:`~..keyspace.Database.touch` marks the watching
clients dirty. Redis 7.0's rules for keys that expire:

* a watched key whose TTL passes before EXEC counts as changed, even if nothing has
  deleted it yet (EXEC checks the TTLs of the watched keys itself);
* a key that was *already* expired when WATCHed is "stale": its later deletion by
  expiry, or by a FLUSHDB, is no change (the client never saw it); writing a new value
  to it is.

EXEC, DISCARD and a failed EXEC all end the transaction and unwatch every key; UNWATCH
unwatches and clears the dirty flag. WATCH on an already dirty client does nothing
(the transaction is doomed anyway), as in Redis.
"""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import NULL_ARRAY, OK, Raw, encode
from .. import errors
from ..client import Client
from ..command_table import KeySpec, command
from ..errors import CommandError


@command("multi", 1, "noscript loading stale fast allow_busy", "@transaction",
         group="transactions", since="1.2.0",
         summary="Start a transaction: queue the following commands until EXEC",
         complexity="O(1)")  # fmt: skip
def multi(c: Client, args: list[bytes]) -> Any:
    if c.in_multi:
        raise CommandError(errors.MULTI_NESTED)  # does not abort the open transaction
    c.in_multi = True
    return OK


@command("discard", 1, "noscript loading stale fast allow_busy", "@transaction",
         group="transactions", since="2.0.0",
         summary="Drop the queued commands of a transaction and unwatch every key",
         complexity="O(N), where N is the number of commands queued")  # fmt: skip
def discard(c: Client, args: list[bytes]) -> Any:
    if not c.in_multi:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    c.reset_multi()
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog", "@transaction",
         group="transactions", since="1.2.0",
         summary="Run the queued commands of a transaction",
         complexity="The sum of the complexities of the queued commands")  # fmt: skip
def exec_(c: Client, args: list[bytes]) -> Any:
    if not c.in_multi:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    if not c.watch_dirty and _watched_key_expired(c):
        c.watch_dirty = True
    if c.multi_error:
        c.reset_multi()
        raise CommandError(errors.EXECABORT)
    if c.watch_dirty:
        c.reset_multi()
        return NULL_ARRAY
    return _run_queued(c)


def _run_queued(c: Client) -> Raw:
    """Run the queue; return the whole EXEC reply (pushes included) as raw bytes."""
    from ..dispatch import call  # dispatch imports the command modules through the node

    queued = c.multi_queue
    c.unwatch_all()  # Redis unwatches first: nothing the transaction does can dirty it
    captured: list[bytes] = [b"*%d\r\n" % len(queued)]
    saved_sink = c.sink
    c.sink = captured.append
    c.in_exec = True
    try:
        for spec, argv in queued:
            reply = call(c, spec, argv)
            # Encoded now, with the protocol in force now (a queued HELLO switches it).
            captured.append(encode(reply, c.resp))
    finally:
        c.in_exec = False
        c.sink = saved_sink
        c.reset_multi()
    return Raw(b"".join(captured))


def _watched_key_expired(c: Client) -> bool:
    """True if a watched key (not already stale at WATCH time) has passed its TTL."""
    stale = c.watched_stale
    return any(
        (db, key) not in stale and key in db.data and db.is_expired(key) for db, key in c.watched_keys
    )


@command("watch", -2, "noscript loading stale fast allow_busy", "@transaction",
         keys=[KeySpec("RO", index=1, lastkey=-1)],
         group="transactions", since="2.2.0",
         summary="Make the next EXEC fail if any of the given keys changes meanwhile",
         complexity="O(1) for every key.")  # fmt: skip
def watch(c: Client, args: list[bytes]) -> Any:
    if c.in_multi:
        raise CommandError(errors.WATCH_IN_MULTI)  # does not abort the open transaction
    if c.watch_dirty:
        return OK  # the next EXEC fails anyway: no point in watching more
    db = c.db
    watched = c.watched_keys
    for key in args[1:]:
        entry = (db, key)
        if entry in watched:
            continue
        watched.append(entry)
        db.watched.setdefault(key, set()).add(c)
        if key in db.data and db.is_expired(key):
            c.watched_stale.add(entry)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", "@transaction",
         group="transactions", since="2.2.0",
         summary="Forget every watched key",
         complexity="O(1)")  # fmt: skip
def unwatch(c: Client, args: list[bytes]) -> Any:
    c.unwatch_all()
    return OK
