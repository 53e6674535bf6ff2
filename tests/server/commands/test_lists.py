"""List command handlers, tested without sockets: a Node, Clients, the dispatch pipeline.

Expected values come from an independent model (a plain Python list with the documented
semantics of each command) or are documented facts of Redis (event names, null shapes,
7.0's quicklist encoding); byte-exact replies are checked against the real server in
tests/integration/test_diff_lists.py and tests/integration/test_blocking.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import NULL_ARRAY, ErrorReply, encode
from pyredis_cluster.server.client import Blocked
from pyredis_cluster.server.commands.lists import ListValue, list_encoding
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node


class Env:
    """A node with clients whose replies (sent later, e.g. on wake-up) are collected."""

    def __init__(self) -> None:
        self.node = Node()
        self.db = self.node.keyspace[0]
        self.events: list[tuple[str, str, bytes]] = []
        self.node.notify_keyspace_event = (  # type: ignore[method-assign]
            lambda cls, event, key, dbid: self.events.append((cls, event, key))
        )
        self.sent: dict[int, list[bytes]] = {}
        self.main = self.new_client()

    def new_client(self) -> Any:
        out: list[bytes] = []
        client = self.node.new_client(out.append)
        self.sent[client.id] = out
        return client

    def run_as(self, client: Any, *words: str | bytes | int) -> Any:
        args = [w if isinstance(w, bytes) else str(w).encode() for w in words]
        return process_command(client, args)

    def __call__(self, *words: str | bytes | int) -> Any:
        return self.run_as(self.main, *words)


@pytest.fixture
def env() -> Env:
    return Env()


def test_lists_are_quicklists_in_redis_7_0(env: Env) -> None:
    env("RPUSH", "small", "a")
    env("RPUSH", "big", *["x" * 100] * 200)
    assert list_encoding(env.db.get(b"small")) == "quicklist"
    assert list_encoding(env.db.get(b"big")) == "quicklist"
    assert type(env.db.get(b"small")) is ListValue and ListValue.TYPE_NAME == "list"


def test_push_order_and_lengths(env: Env) -> None:
    assert env("LPUSH", "l", "a", "b", "c") == 3  # each pushed at the head in turn
    assert env("RPUSH", "l", "d") == 4
    assert env("LRANGE", "l", 0, -1) == [b"c", b"b", b"a", b"d"]
    assert env("LPUSHX", "missing", "x") == 0 and env("EXISTS", "missing") == 0


def test_empty_lists_are_deleted_with_a_del_event(env: Env) -> None:
    for emptying in (["LPOP", "l"], ["RPOP", "l", "5"], ["LTRIM", "l", "1", "0"], ["LREM", "l", "0", "v"],
                     ["LMPOP", "1", "l", "LEFT"], ["LMOVE", "l", "other", "LEFT", "LEFT"], ["BLPOP", "l", "0"]):  # fmt: skip
        env("RPUSH", "l", "v")
        env.events.clear()
        env(*emptying)
        assert env("EXISTS", "l") == 0, emptying
        assert ("g", "del", b"l") in env.events, emptying
        env("DEL", "other")


def test_event_names(env: Env) -> None:
    env("RPUSH", "l", "a", "b", "c")
    env("LPUSH", "l", "z")
    env("LSET", "l", "0", "y")
    env("LINSERT", "l", "AFTER", "y", "x")
    env("LREM", "l", "1", "x")
    env("LTRIM", "l", "0", "-1")
    env("LPOP", "l")
    env("RPOP", "l")
    env("LMOVE", "l", "m", "LEFT", "RIGHT")
    env("LMOVE", "l", "m", "LEFT", "RIGHT")
    names = [event for cls, event, _ in env.events if cls == "l"]
    # the destination's push is announced before the source's pop, then the del
    assert names == ["rpush", "lpush", "lset", "linsert", "lrem", "ltrim", "lpop", "rpop"] + ["rpush", "lpop"] * 2
    assert env.events[-1] == ("g", "del", b"l")


def test_null_shapes(env: Env) -> None:
    assert env("LPOP", "nokey") is None
    assert env("LPOP", "nokey", "1") is NULL_ARRAY
    assert env("LMPOP", "1", "nokey", "LEFT") is NULL_ARRAY
    assert env("LMOVE", "nokey", "x", "LEFT", "LEFT") is None
    env("RPUSH", "l", "a")
    assert env("LPOP", "l", "0") == []


def test_wrong_type_never_touches_the_data(env: Env) -> None:
    env("SET", "s", "v")
    env("RPUSH", "l", "a")
    for cmd in (["LPUSH", "s", "x"], ["LMOVE", "l", "s", "LEFT", "LEFT"], ["RPOPLPUSH", "l", "s"],
                ["LMPOP", "2", "s", "l", "LEFT"], ["BLPOP", "s", "l", "0"]):  # fmt: skip
        reply = env(*cmd)
        assert type(reply) is ErrorReply and reply.startswith("WRONGTYPE"), cmd
    assert env("LRANGE", "l", 0, -1) == [b"a"] and env("GET", "s") == b"v"


# -- model-based: random sequences against a plain Python list -------------------------------------


def _norm(start: int, end: int, n: int) -> range:
    start = start + n if start < 0 else start
    end = end + n if end < 0 else end
    start = max(start, 0)
    end = min(end, n - 1)
    return range(start, end + 1) if start <= end else range(0)


def apply_model(model: list[bytes], cmd: list[Any]) -> Any:
    """What each command does to a list and answers, written from its documentation."""
    name = cmd[0]
    if name == "RPUSH":
        model.extend(cmd[1:])
        return len(model)
    if name == "LPUSH":
        for element in cmd[1:]:
            model.insert(0, element)
        return len(model)
    if name in ("LPOP", "RPOP"):
        if not model:
            return None
        return model.pop(0) if name == "LPOP" else model.pop()
    if name == "LRANGE":
        return [model[i] for i in _norm(cmd[1], cmd[2], len(model))]
    if name == "LTRIM":
        kept = [model[i] for i in _norm(cmd[1], cmd[2], len(model))]
        model[:] = kept
        return "OK"
    if name == "LINDEX":
        index = cmd[1]
        return model[index] if -len(model) <= index < len(model) else None
    if name == "LREM":
        count, element = cmd[1], cmd[2]
        positions = [i for i, e in enumerate(model) if e == element]
        if count < 0:
            positions = positions[::-1][: -count]
        elif count > 0:
            positions = positions[:count]
        for i in sorted(positions, reverse=True):
            del model[i]
        return len(positions)
    if name == "LINSERT":
        if cmd[2] not in model:
            return -1 if model else 0
        at = model.index(cmd[2]) + (1 if cmd[1] == "AFTER" else 0)
        model.insert(at, cmd[3])
        return len(model)
    if name == "LPOS":
        matches = [i for i, e in enumerate(model) if e == cmd[1]]
        rank = cmd[2]
        ordered = matches if rank > 0 else matches[::-1]
        return ordered[abs(rank) - 1] if len(ordered) >= abs(rank) else None
    raise AssertionError(name)


_ELEMENT = st.sampled_from([b"a", b"b", b"c", b""])
_INDEX = st.integers(-5, 5)
_COMMANDS = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH"]), st.lists(_ELEMENT, min_size=1, max_size=3)).map(lambda t: [t[0], *t[1]]),
    st.sampled_from([["LPOP"], ["RPOP"]]),
    st.tuples(st.sampled_from(["LRANGE", "LTRIM"]), _INDEX, _INDEX).map(list),
    st.tuples(st.just("LINDEX"), _INDEX).map(list),
    st.tuples(st.just("LREM"), st.integers(-2, 2), _ELEMENT).map(list),
    st.tuples(st.just("LINSERT"), st.sampled_from(["BEFORE", "AFTER"]), _ELEMENT, _ELEMENT).map(list),
    st.tuples(st.just("LPOS"), _ELEMENT, st.sampled_from([1, 2, -1, -2])).map(list),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_COMMANDS, max_size=40))
def test_commands_agree_with_a_list_model(commands: list[list[Any]]) -> None:
    env = Env()
    model: list[bytes] = []
    for cmd in commands:
        name, rest = cmd[0], cmd[1:]
        if name == "LPOS":
            words = [name, "k", rest[0], "RANK", rest[1]]
        elif name == "LINSERT":
            words = [name, "k", rest[0], rest[1], rest[2]]
        else:
            words = [name, "k", *rest]
        expected = apply_model(model, cmd)
        got = env(*words)
        assert (got == "OK" if expected == "OK" else got == expected), (words, got, expected)
        assert env("EXISTS", "k") == (1 if model else 0)


# -- blocking, through the dispatch pipeline and the blocking manager ---------------------------------


def test_blocked_clients_are_served_in_order_by_a_push(env: Env) -> None:
    first, second = env.new_client(), env.new_client()
    assert type(env.run_as(first, "BLPOP", "k", "0")) is Blocked
    assert type(env.run_as(second, "BRPOP", "k", "0")) is Blocked
    assert env.node.blocking.blocked_clients == 2
    assert env("RPUSH", "k", "a", "b", "c") == 3  # the reply counts what was pushed
    assert env.sent[first.id] == [encode([b"k", b"a"])]
    assert env.sent[second.id] == [encode([b"k", b"c"])]
    assert env("LRANGE", "k", 0, -1) == [b"b"] and env.node.blocking.blocked_clients == 0


def test_blocking_commands_inside_multi_answer_their_timeout_reply(env: Env) -> None:
    env("MULTI")
    for cmd in (["BLPOP", "k", "0"], ["BLMOVE", "k", "d", "LEFT", "LEFT", "0"], ["BLMPOP", "0", "1", "k", "LEFT"]):
        env(*cmd)
    # BLMOVE answers a null bulk here (a null array when it really times out)
    assert encode(env("EXEC")) == encode([NULL_ARRAY, None, NULL_ARRAY])
    assert env.node.blocking.blocked_clients == 0


def test_a_blocked_move_makes_its_destination_ready_in_turn(env: Env) -> None:
    mover, popper = env.new_client(), env.new_client()
    env.run_as(mover, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    env.run_as(popper, "BLPOP", "dst", "0")
    env("RPUSH", "src", "x")
    assert env.sent[mover.id] == [encode(b"x")]
    assert env.sent[popper.id] == [encode([b"dst", b"x"])]
    assert env("EXISTS", "src", "dst") == 0


def test_disconnect_unblocks(env: Env) -> None:
    gone = env.new_client()
    env.run_as(gone, "BLPOP", "k", "0")
    env.node.forget_client(gone)
    assert env.node.blocking.blocked_clients == 0
    assert env("RPUSH", "k", "v") == 1 and env("LLEN", "k") == 1  # nobody took the element


@pytest.mark.parametrize("timeout", ["-1", "abc", "1e5000", "inf", "nan", " 1"])
def test_bad_timeouts_are_errors_not_blocks(env: Env, timeout: str) -> None:
    reply = env("BLPOP", "k", timeout)
    assert type(reply) is ErrorReply and "timeout" in reply
