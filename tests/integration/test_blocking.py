"""Blocking list commands over real sockets, on our node and on redis-server 7.0.

Each scenario drives several connections (some blocked in BLPOP/BLMOVE/BLMPOP...,
others pushing) and records every reply the blocked clients get, byte for byte. The
same scenario runs against our node and against the real redis-server and the two
transcripts must be equal: wake-up order among clients, which key a multi-key client
is served from, null shapes on timeout in RESP2 and RESP3, errors delivered to a
blocked client, chains of BLMOVEs, MULTI/EXEC pushes, disconnects.

No fixed sleeps: a scenario waits until the server reports the expected number of
blocked clients (INFO clients) before it pushes, so the order in which clients blocked
is known, and it reads replies with a socket timeout as the only bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support import RawClient, encode_command, wait_until


class Scenario:
    """Connections to one server plus helpers to block them and read what they get."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[RawClient] = []
        self.admin = self.connect()
        self.admin.call("FLUSHALL")
        self.wait_blocked(0)  # clients left blocked by an earlier scenario are gone

    def connect(self, resp: int = 2) -> RawClient:
        conn = RawClient(self.port, timeout=5)
        if resp == 3:
            conn.call("HELLO", 3)
        self.clients.append(conn)
        return conn

    def blocked_count(self) -> int:
        info = self.admin.call("INFO", "clients")
        for line in info.decode().splitlines():
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        raise AssertionError("INFO clients has no blocked_clients line")

    def wait_blocked(self, count: int) -> None:
        wait_until(lambda: self.blocked_count() == count, timeout=5, what=f"{count} blocked clients")

    def block(self, conn: RawClient, *args: str | bytes | int) -> None:
        """Send a blocking command and wait until the server has parked the client."""
        before = self.blocked_count()
        conn.send_raw(encode_command(args))
        self.wait_blocked(before + 1)

    def reply(self, conn: RawClient) -> bytes:
        return conn.read_reply()[1]

    def close(self) -> None:
        for conn in self.clients:
            conn.close()


@contextmanager
def scenario(port: int) -> Iterator[Scenario]:
    s = Scenario(port)
    try:
        yield s
    finally:
        s.close()


def same_on_both(our_port: int, real_port: int, play: Callable[[Scenario], list[bytes]]) -> list[bytes]:
    """Run a scenario on both servers; their transcripts must be equal."""
    with scenario(real_port) as s:
        theirs = play(s)
    with scenario(our_port) as s:
        ours = play(s)
    assert ours == theirs
    return ours


def test_push_wakes_a_blocked_client(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter, pusher = s.connect(), s.connect()
        s.block(waiter, "BLPOP", "k", "0")
        pushed = pusher.raw("RPUSH", "k", "v")
        out = [pushed, s.reply(waiter), pusher.raw("EXISTS", "k")]
        s.wait_blocked(0)
        return out

    assert same_on_both(our_port, real_redis_port, play)[1] == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_clients_are_served_first_come_first_served(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiters = [s.connect() for _ in range(4)]
        pusher = s.connect()
        s.block(waiters[0], "BLPOP", "k", "0")
        s.block(waiters[1], "BRPOP", "other", "k", "0")
        s.block(waiters[2], "BLPOP", "k", "0")
        s.block(waiters[3], "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5")
        out = [pusher.raw("RPUSH", "k", "a", "b")]  # two elements: the first two clients only
        out += [s.reply(waiters[0]), s.reply(waiters[1])]
        s.wait_blocked(2)
        out.append(pusher.raw("RPUSH", "k", "c", "d", "e"))
        out += [s.reply(waiters[2]), s.reply(waiters[3]), pusher.raw("EXISTS", "k")]
        return out

    transcript = same_on_both(our_port, real_redis_port, play)
    assert transcript[1:3] == [b"*2\r\n$1\r\nk\r\n$1\r\na\r\n", b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n"]


@pytest.mark.parametrize("resp", [2, 3])
def test_timeouts_answer_the_null_of_each_command(our_port: int, real_redis_port: int, resp: int) -> None:
    commands = [
        ["BLPOP", "k1", "k2", "0.05"], ["BRPOP", "k", "0.05"], ["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"],
        ["BRPOPLPUSH", "k", "d", "0.05"], ["BLMPOP", "0.05", "2", "k1", "k2", "RIGHT"],
    ]  # fmt: skip

    def play(s: Scenario) -> list[bytes]:
        conn = s.connect(resp)
        out = []
        for cmd in commands:
            started = time.monotonic()
            out.append(conn.raw(*cmd))
            assert time.monotonic() - started >= 0.045  # it did wait for its timeout
        return out

    transcript = same_on_both(our_port, real_redis_port, play)
    assert transcript[0] == (b"*-1\r\n" if resp == 2 else b"_\r\n")
    assert transcript[2] == transcript[0]  # BLMOVE times out with a null array too (7.0)


def test_a_client_blocked_on_several_keys_is_served_from_the_key_that_became_ready(
    our_port: int, real_redis_port: int
) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter, writer = s.connect(), s.connect()
        s.block(waiter, "BLPOP", "k1", "k2", "k3", "0")
        out = [writer.raw("RPUSH", "k3", "x"), s.reply(waiter)]
        s.block(waiter, "BLPOP", "k1", "k2", "0")
        # k2 becomes ready before k1 within the transaction: Redis 7.0 serves k2
        for cmd in (["MULTI"], ["RPUSH", "k2", "from-k2"], ["RPUSH", "k1", "from-k1"], ["EXEC"]):
            out.append(writer.raw(*cmd))
        out += [s.reply(waiter), writer.raw("LRANGE", "k1", "0", "-1")]
        # the same key named twice
        s.block(waiter, "BRPOP", "k9", "k9", "0")
        out += [writer.raw("LPUSH", "k9", "v"), s.reply(waiter)]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_a_key_that_comes_back_with_another_type_does_not_wake_list_clients(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter, mover, writer = s.connect(), s.connect(), s.connect()
        s.block(waiter, "BLPOP", "k", "other", "0")
        s.block(mover, "BLMOVE", "k", "dst", "LEFT", "LEFT", "0")
        out = [writer.raw("ZADD", "k", "1", "m")]  # a sorted set: list clients keep waiting
        out.append(writer.raw("SET", "other", "string"))
        out.append(b"%d" % s.blocked_count())
        out += [writer.raw("DEL", "k"), writer.raw("RPUSH", "k", "a", "b")]
        out += [s.reply(waiter), s.reply(mover), writer.raw("LRANGE", "dst", "0", "-1")]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_blmove_chains_unwind_in_one_push(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        first, second, third, last = s.connect(), s.connect(), s.connect(3), s.connect()
        s.block(first, "BLMOVE", "a", "b", "RIGHT", "LEFT", "0")
        s.block(second, "BRPOPLPUSH", "b", "c", "0")
        s.block(third, "BLMOVE", "c", "d", "LEFT", "RIGHT", "0")
        s.block(last, "BLPOP", "d", "0")
        out = [s.admin.raw("RPUSH", "a", "x")]
        out += [s.reply(first), s.reply(second), s.reply(third), s.reply(last)]
        out += [s.admin.raw("EXISTS", "a", "b", "c", "d")]
        # a circular move: one element goes round and ends where it started
        s.block(first, "BLMOVE", "p", "q", "LEFT", "LEFT", "0")
        s.block(second, "BLMOVE", "q", "p", "LEFT", "LEFT", "0")
        out += [s.admin.raw("LPUSH", "p", "round"), s.reply(first), s.reply(second), s.admin.raw("LRANGE", "p", "0", "-1")]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_blocked_move_into_a_wrong_type_gets_the_error(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        mover, other = s.connect(), s.connect()
        s.admin.call("SET", "target", "not a list")
        s.block(mover, "BRPOPLPUSH", "src", "target", "0")
        s.block(other, "BLPOP", "src", "0")
        out = [s.admin.raw("RPUSH", "src", "v"), s.reply(mover), s.reply(other), s.admin.raw("EXISTS", "src")]
        return out

    transcript = same_on_both(our_port, real_redis_port, play)
    assert transcript[1].startswith(b"-WRONGTYPE")


def test_pushes_inside_multi_wake_clients_after_exec(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter, second, writer = s.connect(), s.connect(), s.connect()
        s.block(waiter, "BLPOP", "k", "0")
        s.block(second, "BLPOP", "k", "0")
        out = [writer.raw(*cmd) for cmd in (["MULTI"], ["RPUSH", "k", "a", "b", "c"], ["LPOP", "k"], ["EXEC"])]
        out += [s.reply(waiter), s.reply(second), writer.raw("LRANGE", "k", "0", "-1")]
        # a transaction that leaves the list empty wakes nobody
        s.block(waiter, "BLPOP", "k", "0")
        out += [writer.raw(*cmd) for cmd in (["MULTI"], ["RPUSH", "k", "x"], ["DEL", "k"], ["EXEC"])]
        out.append(b"%d" % s.blocked_count())
        out += [writer.raw("RPUSH", "k", "y"), s.reply(waiter)]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_a_disconnected_blocked_client_leaves_the_line(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        gone, waiter = s.connect(), s.connect()
        s.block(gone, "BLPOP", "k", "0")
        s.block(waiter, "BLPOP", "k", "0")
        gone.close()
        s.wait_blocked(1)
        out = [s.admin.raw("RPUSH", "k", "a", "b"), s.reply(waiter), s.admin.raw("LRANGE", "k", "0", "-1")]
        s.wait_blocked(0)
        return out

    same_on_both(our_port, real_redis_port, play)


def test_commands_pipelined_behind_a_blocked_one_run_after_it(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter = s.connect()
        before = s.blocked_count()
        waiter.send_raw(encode_command(["BLPOP", "k", "0"]) + encode_command(["PING"]) + encode_command(["LLEN", "k"]))
        s.wait_blocked(before + 1)
        out = [s.admin.raw("RPUSH", "k", "a", "b")]
        out += [s.reply(waiter), s.reply(waiter), s.reply(waiter)]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_databases_are_separate_lines(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter, writer = s.connect(), s.connect()
        waiter.call("SELECT", "1")
        s.block(waiter, "BLPOP", "k", "0")
        out = [writer.raw("RPUSH", "k", "db0"), b"%d" % s.blocked_count()]
        writer.call("SELECT", "1")
        out += [writer.raw("RPUSH", "k", "db1"), s.reply(waiter), writer.raw("LLEN", "k")]
        return out

    same_on_both(our_port, real_redis_port, play)


def test_resp3_clients_and_blmpop_counts(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        left, right = s.connect(3), s.connect(3)
        s.block(left, "BLMPOP", "0", "2", "x", "y", "LEFT", "COUNT", "2")
        s.block(right, "BLMPOP", "0", "1", "y", "RIGHT", "COUNT", "10")
        out = [s.admin.raw("RPUSH", "y", "1", "2", "3", "4", "5"), s.reply(left), s.reply(right)]
        out.append(s.admin.raw("EXISTS", "y"))
        return out

    same_on_both(our_port, real_redis_port, play)


def test_a_client_blocked_with_a_timeout_is_woken_by_a_push_before_it(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        waiter = s.connect()
        s.block(waiter, "BLPOP", "k", "30")
        out = [s.admin.raw("LPUSH", "k", "v"), s.reply(waiter)]
        s.wait_blocked(0)
        return out

    same_on_both(our_port, real_redis_port, play)


def test_keyspace_events_of_served_clients(our_port: int, real_redis_port: int) -> None:
    def play(s: Scenario) -> list[bytes]:
        listener = s.connect()
        s.admin.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        try:
            listener.call("PSUBSCRIBE", "__keyevent@*")
            listener.call("SUBSCRIBE", "end")
            mover, popper = s.connect(), s.connect()
            s.block(mover, "BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
            s.block(popper, "BLMPOP", "0", "1", "b", "LEFT", "COUNT", "3")
            out = [s.admin.raw("RPUSH", "a", "x", "y"), s.reply(mover), s.reply(popper)]
            s.admin.call("PUBLISH", "end", "marker")  # delivered after every event above
            while (reply := listener.read_reply())[0][0] != b"message":
                out.append(reply[1])
            return out
        finally:
            s.admin.call("CONFIG", "SET", "notify-keyspace-events", "")

    transcript = same_on_both(our_port, real_redis_port, play)
    assert any(b"lpop" in line for line in transcript)
