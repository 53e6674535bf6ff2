"""MULTI/EXEC/DISCARD/WATCH against a real redis-server 7.0, byte for byte, RESP2 and RESP3."""

from __future__ import annotations

import time

from tests.differential import assert_same
from tests.protocol.sessions import Session, assert_same_script
from tests.support import wait_until


def test_queueing_and_exec(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["EXEC"], ["DISCARD"], ["MULTI"], ["EXEC"],  # an empty transaction: an empty array
        ["MULTI"], ["SET", "k", "1"], ["INCR", "k"], ["INCRBY", "k", "x"], ["SADD", "k", "m"], ["GET", "k"],
        ["PING"], ["ECHO", "e"], ["EXEC"],  # runtime errors do not stop the others
        ["GET", "k"],
        ["MULTI"], ["MULTI"], ["WATCH", "k"], ["SET", "k", "2"], ["EXEC"],  # these errors do not abort
        ["MULTI"], ["SET", "k", "3"], ["DISCARD"], ["GET", "k"], ["DISCARD"],
        ["MULTI"], ["SET", "a", "1"], ["NOSUCHCMD", "x"], ["SET", "b", "2"], ["EXEC"], ["EXISTS", "a", "b"],
        ["MULTI"], ["SET", "a"], ["EXEC"],  # wrong arity flags the transaction
        ["MULTI"], ["CONFIG", "NOSUCH"], ["EXEC"],  # unknown subcommand too
        ["MULTI"], ["SET", "a", "1"], ["SAVE"], ["EXEC"], ["GET", "a"],  # no_multi commands
        ["MULTI"], ["SHUTDOWN"], ["EXEC"],
        ["MULTI"], ["EXEC", "x"], ["DISCARD", "x"], ["MULTI", "x"], ["EXEC"],  # arity of the commands themselves
        ["WATCH"], ["UNWATCH", "x"], ["UNWATCH"],
        ["MULTI"], ["SELECT", "2"], ["SET", "in2", "x"], ["EXEC"], ["GET", "in2"], ["SELECT", "0"], ["GET", "in2"],
    ])  # fmt: skip


def test_blocking_commands_do_not_block_in_multi(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["MULTI"], ["BZPOPMIN", "nozset", "0"], ["BZPOPMAX", "nozset", "10"], ["BZMPOP", "0", "1", "nozset", "MIN"],
        ["ZADD", "z", "1", "a"], ["BZPOPMIN", "z", "0"], ["EXEC"],
    ])  # fmt: skip


def test_watch_other_client(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(0, "SET", "x", "30")
        s.run(0, "WATCH", "x")
        s.run(1, "SET", "x", "40")  # another client changes it
        s.run(0, "MULTI")
        s.run(0, "INCR", "x")
        s.run(0, "EXEC")  # null array (RESP3: null)
        s.run(0, "GET", "x")
        s.run(0, "WATCH", "missing")
        s.run(1, "SET", "missing", "now")  # creating a watched key counts
        s.run(0, "MULTI")
        s.run(0, "EXEC")
        s.run(0, "WATCH", "x", "y")
        s.run(1, "GET", "x")  # reads do not count
        s.run(1, "SET", "other", "1")
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")  # runs
        s.run(0, "WATCH", "x")
        s.run(1, "DEL", "nothing")  # a no-op write on another key
        s.run(1, "EXPIRE", "x", "100")  # EXPIRE modifies the key
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")
        s.run(0, "WATCH", "x")
        s.run(1, "PERSIST", "x")
        s.run(0, "UNWATCH")  # forgets the keys and the dirty flag
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")

    assert_same_script(our_port, real_redis_port, script, connections=2)


def test_watch_same_client_and_lifecycle(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SET", "x", "1"], ["WATCH", "x"], ["SET", "x", "2"], ["MULTI"], ["PING"], ["EXEC"],  # own change counts
        ["MULTI"], ["PING"], ["EXEC"],  # EXEC (even failed) unwatched everything
        ["WATCH", "x"], ["MULTI"], ["PING"], ["EXEC"], ["SET", "x", "3"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x"], ["SET", "x", "4"], ["MULTI"], ["DISCARD"], ["MULTI"], ["INCR", "x"], ["EXEC"],  # DISCARD unwatches
        ["WATCH", "x"], ["WATCH", "x", "y"], ["SET", "y", "1"], ["WATCH", "z"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x"], ["SET", "x", "5"], ["MULTI"], ["NOSUCH"], ["EXEC"],  # EXECABORT wins over WATCH
        ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x"], ["SELECT", "1"], ["SET", "x", "db1"], ["SELECT", "0"], ["MULTI"], ["PING"], ["EXEC"],  # per db
        ["WATCH", "x"], ["MSET", "a", "1", "x", "2"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x"], ["RENAME", "x", "x2"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x2"], ["SET", "x2", "same", "NX"], ["MULTI"], ["PING"], ["EXEC"],  # NX did nothing
    ])  # fmt: skip


def test_watch_and_flush_swapdb(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SET", "x", "30"], ["WATCH", "x"], ["FLUSHALL"], ["MULTI"], ["PING"], ["EXEC"],
        ["DEL", "x"], ["WATCH", "x"], ["FLUSHALL"], ["MULTI"], ["PING"], ["EXEC"],  # the key did not exist
        ["SET", "x", "30"], ["WATCH", "x"], ["FLUSHDB"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "x"], ["FLUSHDB"], ["MULTI"], ["PING"], ["EXEC"],
        ["SET", "x", "30"], ["WATCH", "x"], ["SELECT", "1"], ["FLUSHDB"], ["SELECT", "0"], ["MULTI"], ["PING"], ["EXEC"],
        ["FLUSHALL"], ["SET", "x", "30"], ["WATCH", "x"], ["SWAPDB", "0", "1"], ["MULTI"], ["PING"], ["EXEC"],
        ["FLUSHALL"], ["SELECT", "1"], ["SET", "x", "30"], ["SELECT", "0"], ["WATCH", "x"], ["SWAPDB", "0", "1"],
        ["MULTI"], ["PING"], ["EXEC"],
        ["FLUSHALL"], ["WATCH", "x"], ["SWAPDB", "0", "1"], ["MULTI"], ["PING"], ["EXEC"],  # in neither db
        ["FLUSHALL"], ["MSET", "a", "a", "b", "b"], ["WATCH", "b", "a"], ["FLUSHALL"], ["PING"],
    ])  # fmt: skip


def _wait_past(deadline_ms: float) -> None:
    wait_until(lambda: time.time() * 1000 > deadline_ms + 2, what="the TTL to pass")


def test_watch_and_expiry(our_port, real_redis_port):
    """Redis 7.0: a watched key whose TTL passes before EXEC counts as changed, even if
    nothing deleted it; a key already expired when WATCHed ("stale") does not, even when
    it is deleted (lazily or by FLUSHDB) before EXEC."""

    def script(s: Session) -> None:
        # Expires while watched.
        start = time.time() * 1000
        s.run(0, "SET", "k", "v", "PX", "30")
        s.run(0, "WATCH", "k")
        _wait_past(start + 30)
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")
        # Already expired when watched, then deleted by a lookup.
        start = time.time() * 1000
        s.run(0, "SET", "stale", "v", "PX", "1")
        _wait_past(start + 1)
        s.run(0, "WATCH", "stale")
        s.run(0, "EXISTS", "stale")
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")
        # Already expired when watched, then FLUSHDB.
        start = time.time() * 1000
        s.run(0, "SET", "stale", "v", "PX", "1")
        _wait_past(start + 1)
        s.run(0, "WATCH", "stale")
        s.run(0, "FLUSHDB")
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")
        # Already expired when watched, then written again: a change.
        start = time.time() * 1000
        s.run(0, "SET", "stale", "v", "PX", "1")
        _wait_past(start + 1)
        s.run(0, "WATCH", "stale")
        s.run(1, "SET", "stale", "new")
        s.run(0, "MULTI")
        s.run(0, "PING")
        s.run(0, "EXEC")

    assert_same_script(our_port, real_redis_port, script, connections=2)


def test_multi_exec_edge_replies(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(0, "MULTI")
        s.run(0, "SUBSCRIBE", "a")
        s.run(0, "EXEC")  # *1 holding the confirmation push
        s.run(0, "MULTI")  # subscribed (RESP2): refused
        s.run(0, "UNSUBSCRIBE")
        s.run(0, "EXEC", "x")  # a refused EXEC aborts, saying why
        s.run(0, "SUBSCRIBE", "b")
        s.run(0, "EXEC")  # RESP2: refused in subscribed context, as an EXECABORT
        s.run(1, "MULTI")
        s.run(1, "QUIT")  # not queued: runs at once

    assert_same_script(our_port, real_redis_port, script, connections=2)
