"""Pub/sub against a real redis-server 7.0, byte for byte, in RESP2 and RESP3.

Sessions (tests/protocol/sessions.py) drive several connections, so pushes delivered
to subscribers are compared too, not only the replies of the publishing client.
"""

from __future__ import annotations

import itertools
import random

from tests.differential import assert_same
from tests.protocol.sessions import Session, assert_same_script
from tests.support import RawClient


def test_subscribe_unsubscribe_counts(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(0, "UNSUBSCRIBE")  # nothing to unsubscribe from: one confirmation, null name
        s.run(0, "PUNSUBSCRIBE")
        s.run(0, "SUNSUBSCRIBE")
        s.run(0, "UNSUBSCRIBE", "nope", "nada")
        s.run(0, "PUNSUBSCRIBE", "x*")
        s.run(0, "SUBSCRIBE", "a", "b", "a")  # a repeated name confirms again, count unchanged
        s.run(0, "PSUBSCRIBE", "a*", "b?", "a*")
        s.run(0, "SSUBSCRIBE", "s1", "s2")  # shard channels count apart
        s.run(0, "UNSUBSCRIBE", "b", "zz")
        s.run(0, "PUNSUBSCRIBE", "b?")
        s.run(0, "SUNSUBSCRIBE", "s1")
        s.run(0, "PING")
        s.run(0, "PING", "hello")
        s.run(0, "UNSUBSCRIBE")  # one channel left: deterministic order
        s.run(0, "PUNSUBSCRIBE")
        s.run(0, "SUNSUBSCRIBE")
        s.run(0, "PING")
        s.run(0, "PING", "hello")
        s.run(0, "SUBSCRIBE", "")
        s.run(0, "UNSUBSCRIBE", "")
        s.run(0, "SUBSCRIBE", b"\x00\xff\r\n bin")
        s.run(0, "UNSUBSCRIBE")

    assert_same_script(our_port, real_redis_port, script)


def test_subscribed_context_restrictions(our_port, real_redis_port):
    """RESP2: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET while subscribed; RESP3: anything."""

    def script(s: Session) -> None:
        s.run(0, "SUBSCRIBE", "chan")
        for cmd in (["GET", "k"], ["SET", "k", "v"], ["PUBLISH", "chan", "x"], ["PUBSUB", "NUMPAT"],
                    ["CONFIG", "GET", "maxmemory"], ["MULTI"], ["ECHO", "x"], ["NOSUCH", "a"], ["GET"],
                    ["PING", "a", "b"], ["SUBSCRIBE"], ["PUBSUB", "NOSUCH"], ["CLIENT", "ID", "x"]):  # fmt: skip
            s.run(0, *cmd)
        s.run(0, "PSUBSCRIBE", "p*")
        s.run(0, "UNSUBSCRIBE", "chan")
        s.run(0, "GET", "k")  # still subscribed to a pattern
        s.run(0, "PUNSUBSCRIBE", "p*")
        s.run(0, "GET", "k")  # no subscription left: back to normal
        s.run(0, "SSUBSCRIBE", "sc")
        s.run(0, "GET", "k")  # a shard subscription restricts too
        s.run(0, "RESET")
        s.run(0, "GET", "k")

    assert_same_script(our_port, real_redis_port, script)


def test_publish_delivery(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(1, "SUBSCRIBE", "news", "foo.bar")
        s.run(2, "PSUBSCRIBE", "foo.*", "n?ws", "[a-m]*")
        s.run(3, "SUBSCRIBE", "news")
        s.run(0, "PUBLISH", "news", "hello", pushes={1: 1, 2: 1, 3: 1})
        # Two patterns of one client match: Redis walks its pattern table in hash order.
        s.run(0, "PUBLISH", "foo.bar", "", pushes={1: 1, 2: 2}, unordered=True)
        s.run(0, "PUBLISH", "nobody", "x")
        s.run(0, "PUBLISH", "fooXbar", "x", pushes={2: 1})
        s.run(0, "PUBLISH", b"bin\x00\r\n", b"\x00\xff", pushes={2: 1})
        s.run(0, "PUBSUB", "NUMSUB", "news", "foo.bar", "nobody", "news")
        s.run(0, "PUBSUB", "NUMSUB")
        s.run(0, "PUBSUB", "NUMPAT")
        s.run(0, "PUBSUB", "CHANNELS", "foo*")
        s.run(0, "PUBSUB", "CHANNELS", "n*")
        s.run(0, "PUBSUB", "CHANNELS", "zzz")
        s.run(3, "UNSUBSCRIBE", "news")
        s.run(0, "PUBLISH", "news", "again", pushes={1: 1, 2: 1})
        s.run(2, "PUNSUBSCRIBE", "n?ws")
        s.run(0, "PUBLISH", "news", "third", pushes={1: 1})
        s.run(1, "QUIT")  # a subscriber that leaves stops counting
        s.run(0, "PUBLISH", "news", "fourth")
        s.run(0, "PUBSUB", "NUMSUB", "news", "foo.bar")
        s.run(0, "PUBSUB", "NUMPAT")
        s.run(0, "PUBLISH", "mx", "m", pushes={2: 1})

    assert_same_script(our_port, real_redis_port, script, connections=4)


def test_sharded_pubsub(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(1, "SSUBSCRIBE", "orders", "users")
        s.run(2, "PSUBSCRIBE", "*")  # patterns never see sharded messages
        s.run(2, "SUBSCRIBE", "orders")  # nor do classic channel subscribers
        s.run(0, "SPUBLISH", "orders", "o1", pushes={1: 1})
        s.run(0, "SPUBLISH", "nobody", "x")
        s.run(0, "PUBLISH", "orders", "classic", pushes={2: 2})
        s.run(0, "PUBSUB", "SHARDCHANNELS", "u*")  # one name per listing: Redis lists in hash order
        s.run(0, "PUBSUB", "SHARDCHANNELS", "o*")
        s.run(0, "PUBSUB", "SHARDNUMSUB", "orders", "users", "nobody")
        s.run(0, "PUBSUB", "SHARDNUMSUB")
        s.run(0, "PUBSUB", "CHANNELS")
        s.run(1, "SUNSUBSCRIBE", "orders")
        s.run(0, "SPUBLISH", "orders", "o2")
        s.run(1, "GET", "k")  # RESP2: refused while a shard subscription is left
        s.run(1, "SUNSUBSCRIBE")

    assert_same_script(our_port, real_redis_port, script, connections=3)


def test_pubsub_errors_and_arity(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["PUBLISH"], ["PUBLISH", "a"], ["PUBLISH", "a", "b", "c"], ["SPUBLISH", "a"], ["SUBSCRIBE"],
        ["PSUBSCRIBE"], ["SSUBSCRIBE"], ["PUBSUB"], ["PUBSUB", "NOSUCH"], ["PUBSUB", "NUMPAT", "x"],
        ["PUBSUB", "CHANNELS", "a", "b"], ["PUBSUB", "SHARDCHANNELS", "a", "b"], ["PUBSUB", "HELP", "x"],
        ["pubsub", "channels"], ["PUBSUB", "numsub", "a", "b"], ["PUBSUB", "SHARDNUMSUB", "x"],
        ["PUBLISH", "nobody", "x"], ["SPUBLISH", "nobody", "x"],
    ])  # fmt: skip


def test_pubsub_help_shape(our_port, real_redis_port):
    """HELP's text is our own, but its shape is Redis's: status lines, usage line first,
    the same subcommands listed, HELP last."""
    replies = []
    for port in (our_port, real_redis_port):
        with RawClient(port) as conn:
            replies.append(conn.call("PUBSUB", "HELP"))
    ours, theirs = replies
    assert ours[0] == theirs[0] == "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"

    def usages(lines: list[str]) -> list[str]:
        return [line for line in lines[1:] if not line.startswith(" ")]

    assert usages(ours) == usages(theirs)


def test_reset_and_disconnect_clean_subscriptions(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(1, "SUBSCRIBE", "c1", "c2")
        s.run(1, "PSUBSCRIBE", "p*")
        s.run(1, "SSUBSCRIBE", "s")
        s.run(0, "PUBSUB", "NUMSUB", "c1", "c2")
        s.run(1, "RESET")
        s.run(0, "PUBSUB", "NUMSUB", "c1", "c2")
        s.run(0, "PUBSUB", "NUMPAT")
        s.run(0, "PUBSUB", "SHARDNUMSUB", "s")
        s.run(0, "PUBLISH", "c1", "x")
        s.run(1, "PING")
        s.run(2, "SUBSCRIBE", "c1")
        s.run(2, "PSUBSCRIBE", "c*")
        s.run(2, "QUIT")
        s.run(0, "PUBSUB", "NUMSUB", "c1")
        s.run(0, "PUBSUB", "NUMPAT")

    assert_same_script(our_port, real_redis_port, script, connections=3)


def test_client_reply_off_does_not_silence_pushes(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(1, "CLIENT", "REPLY", "OFF", n=0)
        s.run(1, "SUBSCRIBE", "ch")
        s.run(1, "PSUBSCRIBE", "c*")
        s.run(0, "PUBLISH", "ch", "m", pushes={1: 2})
        s.run(1, "UNSUBSCRIBE", "ch")
        s.run(2, "CLIENT", "REPLY", "SKIP", n=0)
        s.run(2, "SUBSCRIBE", "ch")  # pushes still come, and SKIP is used up
        s.run(2, "PING")

    assert_same_script(our_port, real_redis_port, script, connections=3)


def test_pubsub_inside_multi(our_port, real_redis_port):
    """Confirmations of a SUBSCRIBE run by EXEC land inside the EXEC reply, in order;
    SSUBSCRIBE is refused there (DENY BLOCKING)."""

    def script(s: Session) -> None:
        s.run(0, "MULTI")
        s.run(0, "SUBSCRIBE", "a", "b")
        s.run(0, "SSUBSCRIBE", "c")
        s.run(0, "PSUBSCRIBE", "p*")
        s.run(0, "PING")
        s.run(0, "PUBLISH", "a", "to-myself")
        # *5, 2 confirmations, the error, 1 confirmation, PING, then the message pushed
        # to ourselves before PUBLISH's own reply.
        s.run(0, "EXEC", n=3)
        s.run(0, "PING")

    assert_same_script(our_port, real_redis_port, script)


def test_keyspace_notifications(our_port, real_redis_port):
    def script(s: Session) -> None:
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "KEA")
        s.run(1, "PSUBSCRIBE", "__key*__:*")
        s.run(0, "SET", "foo", "bar", pushes={1: 2})
        s.run(0, "DEL", "foo", pushes={1: 2})
        s.run(0, "DEL", "foo")
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "Eg")
        s.run(0, "SET", "foo", "bar")
        s.run(0, "EXPIRE", "foo", "100", pushes={1: 1})
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "K$")
        s.run(0, "APPEND", "foo", "x", pushes={1: 1})
        s.run(0, "SELECT", "3")
        s.run(0, "SET", "k3", "v", pushes={1: 1})
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "En")  # 'new' only when asked for
        s.run(0, "SET", "fresh", "v", pushes={1: 1})
        s.run(0, "SET", "fresh", "w")
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "KEn$")
        s.run(0, "SET", "fresh2", "v", pushes={1: 4})  # new, then set; keyspace then keyevent
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "")
        s.run(0, "SET", "k3", "v")

    try:
        assert_same_script(our_port, real_redis_port, script, connections=2)
    finally:
        for port in (our_port, real_redis_port):
            with RawClient(port) as conn:
                conn.call("CONFIG", "SET", "notify-keyspace-events", "")


# -- glob patterns, checked through PUBSUB CHANNELS -------------------------------------------

_CHANNELS = [
    b"", b"a", b"b", b"ab", b"abc", b"a.b", b"foo.bar", b"foo", b"]", b"[", b"\\", b"^", b"-", b"*", b"?",
    b"a]", b"a-", b"aa", b"Ab", b"ABC", b"\xff", b"\x80", b"\x7f", b"a\xff", b"x*y", b"x?y", b"\\a", b"]a",
]  # fmt: skip
_PATTERN_PARTS = [b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"a", b"b", b"c", b"A", b".", b"\xff", b"\x80", b"z"]


def _glob_patterns() -> list[bytes]:
    rng = random.Random(7)
    fixed = [
        b"*", b"**", b"?", b"[", b"[^", b"[]", b"[]]", b"[^]]", b"[a-]", b"[-a]", b"[z-a]", b"[a-\xff]",
        b"[\xff-a]", b"[\\]]", b"[\\", b"\\", b"a\\", b"\\*", b"\\?", b"[a-c]*", b"*[^a]", b"a*b", b"*.*",
        b"[abc", b"[^abc", b"?*?", b"*?", b"[\x80-\xff]", b"[\x7f-\x80]", b"a[", b"[]a]", b"[[]", b"[-]",
        b"[^-]", b"x[*]y", b"x[?]y", b"[a\\-c]", b"***a", b"a***", b"*a*b*c*",
    ]  # fmt: skip
    randomized = [b"".join(rng.choices(_PATTERN_PARTS, k=rng.randint(1, 6))) for _ in range(150)]
    return fixed + randomized


def test_glob_matches_redis_through_pubsub_channels(our_port, real_redis_port):
    """Subscribe to tricky channel names on both servers, then compare which ones
    PUBSUB CHANNELS <pattern> lists for many patterns (Redis's order is its hash
    table's, so the lists are compared sorted)."""
    results = []
    for port in (our_port, real_redis_port):
        with RawClient(port) as subscriber, RawClient(port) as query:
            subscriber.call("SUBSCRIBE", *_CHANNELS)
            for _ in _CHANNELS[1:]:
                subscriber.read_reply()
            results.append([sorted(query.call("PUBSUB", "CHANNELS", pattern)) for pattern in _glob_patterns()])
    ours, theirs = results
    differences = [
        (pattern, mine, real) for pattern, mine, real in zip(_glob_patterns(), ours, theirs) if mine != real
    ]
    assert not differences, differences


def test_glob_matches_redis_through_psubscribe(our_port, real_redis_port):
    """The same check as delivered pmessages: which patterns a publish reaches."""
    patterns = _glob_patterns()[:60]
    counts = []
    for port in (our_port, real_redis_port):
        with RawClient(port) as subscriber, RawClient(port) as publisher:
            subscriber.call("PSUBSCRIBE", *patterns)
            for _ in patterns[1:]:
                subscriber.read_reply()
            counts.append([publisher.call("PUBLISH", channel, "m") for channel in _CHANNELS])
    assert counts[0] == counts[1]


def test_unsubscribe_all_lists_every_channel(our_port, real_redis_port):
    names = [f"ch{i}" for i in range(6)]
    for port in (our_port, real_redis_port):
        with RawClient(port) as conn:
            conn.call("SUBSCRIBE", *names)
            for _ in names[1:]:
                conn.read_reply()
            conn.send_raw(b"*1\r\n$11\r\nUNSUBSCRIBE\r\n")
            replies = [conn.read_reply()[0] for _ in names]
            assert sorted(r[1].decode() for r in replies) == names
            assert sorted(r[2] for r in replies) == list(range(6))  # the count goes down to 0
            assert [r[0] for r in replies] == [b"unsubscribe"] * 6


def test_pattern_channel_combinations(our_port, real_redis_port):
    """Every (pattern, channel) pair of a small alphabet, through real deliveries."""
    alphabet = [b"a", b"b", b"[", b"]", b"*", b"?", b"\\", b"-", b"^"]
    patterns = sorted({b"".join(p) for n in (1, 2, 3) for p in itertools.product(alphabet, repeat=n)})
    channels = [b"a", b"b", b"ab", b"ba", b"[", b"]", b"a]", b"*", b"\\", b"-", b"^a"]
    listed = []
    for port in (our_port, real_redis_port):
        with RawClient(port) as subscriber, RawClient(port) as query:
            subscriber.call("SUBSCRIBE", *channels)
            for _ in channels[1:]:
                subscriber.read_reply()
            query.send_raw(b"".join(b"*3\r\n$6\r\nPUBSUB\r\n$8\r\nCHANNELS\r\n$%d\r\n%s\r\n" % (len(p), p) for p in patterns))
            listed.append([sorted(query.read_reply()[0]) for _ in patterns])
    differences = [(p, a, b) for p, a, b in zip(patterns, *listed) if a != b]
    assert not differences, differences[:20]
