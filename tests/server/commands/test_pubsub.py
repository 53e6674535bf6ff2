"""Pub/sub without sockets: glob_match against Redis's stringmatchlen, and the PubSub tables.

``glob_match`` is checked three ways: known cases (each checked against a real
redis-server with KEYS / PUBSUB CHANNELS), a literal model of Redis's recursive
algorithm run on random patterns (hypothesis), and, in
tests/integration/test_diff_pubsub.py, the real server itself.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import Push, encode
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node
from pyredis_cluster.server.pubsub import glob_match

# -- a model of Redis's stringmatchlen, step by step like the C code -------------------------


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte


def redis_model(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Redis 7.0's recursive matcher, with its give-up flag, over indexes instead of pointers.

    Reading one byte past the end of the pattern yields 0, like the C string's NUL.
    """
    give_up = [False]

    def at(i: int) -> int:
        return pattern[i] if i < len(pattern) else 0

    def eq(a: int, b: int) -> bool:
        return _lower(a) == _lower(b) if nocase else a == b

    def match(p: int, s: int) -> bool:
        plen, slen = len(pattern) - p, len(string) - s
        while plen and slen:
            c = pattern[p]
            if c == ord("*"):
                while plen and at(p + 1) == ord("*"):
                    p += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if match(p + 1, s):
                        return True
                    if give_up[0]:
                        return False
                    s += 1
                    slen -= 1
                give_up[0] = True
                return False
            elif c == ord("?"):
                s += 1
                slen -= 1
            elif c == ord("["):
                p += 1
                plen -= 1
                negate = at(p) == ord("^")
                if negate:
                    p += 1
                    plen -= 1
                matched = False
                while True:
                    if at(p) == ord("\\") and plen >= 2:
                        p += 1
                        plen -= 1
                        if pattern[p] == string[s]:
                            matched = True
                    elif at(p) == ord("]"):
                        break
                    elif plen == 0:
                        p -= 1
                        plen += 1
                        break
                    elif plen >= 3 and at(p + 1) == ord("-"):
                        start, end, ch = _signed(pattern[p]), _signed(pattern[p + 2]), _signed(string[s])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _lower(start), _lower(end), _lower(ch)
                        p += 2
                        plen -= 2
                        if start <= ch <= end:
                            matched = True
                    elif eq(pattern[p], string[s]):
                        matched = True
                    p += 1
                    plen -= 1
                if negate:
                    matched = not matched
                if not matched:
                    return False
                s += 1
                slen -= 1
            else:
                if c == ord("\\") and plen >= 2:
                    p += 1
                    plen -= 1
                if not eq(pattern[p], string[s]):
                    return False
                s += 1
                slen -= 1
            p += 1
            plen -= 1
            if slen == 0:
                while at(p) == ord("*"):
                    p += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return match(0, 0)


# Cases checked against redis-server 7.0.15 (PUBSUB CHANNELS). Note "[a-]" is the range
# ']'..'a' (swapped), and "[^]]" is an empty negated class (any byte) followed by "]".
KNOWN = [
    (b"*", b"", False), (b"", b"", True), (b"", b"a", False), (b"*", b"a", True), (b"**", b"abc", True),
    (b"?", b"", False), (b"?", b"a", True), (b"?", b"ab", False), (b"a*", b"a", True), (b"*a", b"a", True),
    (b"a*b*", b"ab", True), (b"[", b"a", False), (b"[", b"[", False), (b"[^", b"a", True), (b"[^", b"\xff", True),
    (b"[]", b"]", False), (b"[]a]", b"]", False), (b"[]a]", b"a]", False), (b"[a-]", b"]", True),
    (b"[a-]", b"_", True), (b"[a-]", b"b", False), (b"[a-]", b"-", False), (b"[z-a]", b"m", True), (b"[a-\xff]", b"\xff", True),
    (b"[a-\xff]", b"a", True), (b"[a-\xff]", b"b", False), (b"[a-\xff]", b"\x80", False),
    (b"[\xff-a]", b"\x00", True), (b"[\\]]", b"]", True), (b"[\\", b"\\", True), (b"\\", b"\\", True),
    (b"a\\", b"a\\", True), (b"\\*", b"*", True), (b"\\*", b"a", False), (b"x[*]y", b"x*y", True),
    (b"[abc", b"c", True), (b"[abc", b"d", False), (b"[^abc", b"d", True), (b"[^]]", b"a", False),
    (b"[^]]", b"a]", True), (b"[^]]", b"]]", True), (b"foo.*", b"foo.1", True), (b"foo.*", b"foo1", False), (b"h?llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False), (b"h[a-b]llo", b"hbllo", True), (b"*a*a*a*a*a*a*a*b", b"a" * 60, False),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "subject", "expected"), KNOWN)
def test_known_cases(pattern, subject, expected):
    assert glob_match(pattern, subject) is expected
    assert redis_model(pattern, subject) is expected  # the model agrees with the real server


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [(b"HELLO", b"hello", True), (b"h*O", b"hello", True), (b"[A-Z]", b"q", True), (b"[Z-a]", b"m", False),
     (b"[Z-a]", b"Z", False), (b"[\\A]", b"a", False), (b"[\\A]", b"A", True), (b"[ABC]", b"b", True),
     (b"\\A", b"a", True)],
)  # fmt: skip
def test_nocase_quirks(pattern, subject, expected):
    """nocase (only CONFIG GET uses it, on option names, so these come from Redis's C code,
    not from the server): range bounds fold after ordering, escapes in a class do not fold."""
    assert glob_match(pattern, subject, nocase=True) is expected
    assert redis_model(pattern, subject, nocase=True) is expected


_GLOB_ALPHABET = st.sampled_from(list(b"*?[]^-\\abAZ\x00\xff\x80z"))


@settings(max_examples=1500, deadline=None)
@given(
    pattern=st.lists(_GLOB_ALPHABET, max_size=8).map(bytes),
    subject=st.lists(st.sampled_from(list(b"abAZ[]^-*?\\\x00\xff\x80z")), max_size=6).map(bytes),
    nocase=st.booleans(),
)
def test_glob_matches_the_model(pattern, subject, nocase):
    assert glob_match(pattern, subject, nocase) == redis_model(pattern, subject, nocase)


def test_glob_is_not_exponential():
    started = time.perf_counter()
    assert not glob_match(b"*a" * 30 + b"b", b"a" * 2000)
    assert glob_match(b"*a*" * 20, b"a" * 5000)
    assert time.perf_counter() - started < 2.0


# -- the tables, through the dispatch pipeline (no sockets) ---------------------------------------


class Wire:
    """A client of a Node without I/O, whose output is collected as bytes."""

    def __init__(self, node: Node) -> None:
        self.out: list[bytes] = []
        self.client = node.new_client(self.out.append)

    def send(self, *args: str | bytes) -> bytes:
        """Run one command; return everything written to the client meanwhile."""
        argv = [a if isinstance(a, bytes) else a.encode() for a in args]
        self.out.clear()
        reply = process_command(self.client, argv)
        self.client.reply(reply)
        return b"".join(self.out)


@pytest.fixture
def node() -> Node:
    return Node()


def push(*items: object, resp: int = 2) -> bytes:
    return encode(Push(list(items)), resp)


def test_subscribe_counts_and_tables(node):
    a = Wire(node)
    assert a.send("SUBSCRIBE", "x", "y", "x") == push(b"subscribe", b"x", 1) + push(b"subscribe", b"y", 2) + push(
        b"subscribe", b"x", 2
    )
    assert a.send("PSUBSCRIBE", "p*") == push(b"psubscribe", b"p*", 3)
    assert a.send("SSUBSCRIBE", "s") == push(b"ssubscribe", b"s", 1)  # counted apart
    assert list(node.pubsub.channels) == [b"x", b"y"]
    assert list(a.client.channels) == [b"x", b"y"] and list(a.client.patterns) == [b"p*"]
    assert a.send("UNSUBSCRIBE") == push(b"unsubscribe", b"x", 2) + push(b"unsubscribe", b"y", 1)
    assert a.send("PUNSUBSCRIBE") == push(b"punsubscribe", b"p*", 0)
    assert a.send("PUNSUBSCRIBE") == push(b"punsubscribe", None, 0)
    assert a.send("SUNSUBSCRIBE", "s", "t") == push(b"sunsubscribe", b"s", 0) + push(b"sunsubscribe", b"t", 0)
    assert node.pubsub.channels == {} and node.pubsub.patterns == {} and node.pubsub.shard_channels == {}


def test_publish_reaches_channel_then_patterns(node):
    a, b, publisher = Wire(node), Wire(node), Wire(node)
    a.send("SUBSCRIBE", "news")
    b.send("PSUBSCRIBE", "n*", "*s")
    a.out.clear()
    b.out.clear()
    assert publisher.send("PUBLISH", "news", "hi") == b":3\r\n"
    assert a.out == [push(b"message", b"news", b"hi")]
    assert sorted(b.out) == sorted([push(b"pmessage", b"n*", b"news", b"hi"), push(b"pmessage", b"*s", b"news", b"hi")])


def test_resp3_pushes_and_commands_while_subscribed(node):
    a = Wire(node)
    a.send("HELLO", "3")
    assert a.send("SUBSCRIBE", "c") == push(b"subscribe", b"c", 1, resp=3)
    assert a.send("SET", "k", "v") == b"+OK\r\n"  # RESP3: anything goes while subscribed
    assert a.send("PING") == b"+PONG\r\n"
    b = Wire(node)
    b.send("SUBSCRIBE", "c")
    assert b.send("SET", "k", "v").startswith(b"-ERR Can't execute 'set'")
    assert b.send("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def test_forget_client_and_reset_clean_everything(node):
    a = Wire(node)
    a.send("SUBSCRIBE", "c1", "c2")
    a.send("PSUBSCRIBE", "p")
    a.send("SSUBSCRIBE", "s")
    assert a.send("RESET") == b"+RESET\r\n"
    assert node.pubsub.channels == {} and node.pubsub.patterns == {} and node.pubsub.shard_channels == {}
    b = Wire(node)
    b.send("SUBSCRIBE", "c1")
    b.send("PSUBSCRIBE", "p")
    node.forget_client(b.client)
    assert node.pubsub.channels == {} and node.pubsub.patterns == {}
    assert Wire(node).send("PUBLISH", "c1", "x") == b":0\r\n"


def test_keyspace_notification_classes(node):
    listener = Wire(node)
    listener.send("PSUBSCRIBE", "*")
    listener.out.clear()
    node.config.notify_keyspace_events = "g$K"  # keyspace channel only, generic and string classes
    node.notify_keyspace_event("$", "set", b"k", 0)
    node.notify_keyspace_event("l", "lpush", b"k", 0)  # class not enabled
    assert listener.out == [push(b"pmessage", b"*", b"__keyspace@0__:k", b"set")]
    listener.out.clear()
    node.config.notify_keyspace_events = "gE"
    node.notify_keyspace_event("g", "del", b"k", 5)
    assert listener.out == [push(b"pmessage", b"*", b"__keyevent@5__:del", b"k")]
