"""The replication stream a primary produces (server/replication.py), without sockets.

The expected bytes are Redis 7.0's stream format: RESP multibulks, SELECT before the
first command of a database, relative expiries made absolute, MULTI/EXEC around the
commands of a transaction with more than one write.
"""

from __future__ import annotations

from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node
from pyredis_cluster.server.replication import StreamParser, encode_command, get_replication


def _stream(*commands: list[bytes]) -> tuple[list[list[bytes]], Node]:
    node = Node()
    replication = get_replication(node)
    replication.ensure_backlog()
    client = node.new_client(lambda data: None)
    for command in commands:
        process_command(client, command)
    assert replication.backlog is not None
    parser = StreamParser()
    parser.feed(bytes(replication.backlog))
    parsed = []
    while (item := parser.next_command()) is not None:
        parsed.append(item[0])
    assert replication.offset == len(replication.backlog)
    return parsed, node


def test_writes_are_streamed_with_select_and_reads_are_not() -> None:
    stream, _ = _stream([b"SET", b"a", b"1"], [b"GET", b"a"], [b"SELECT", b"2"], [b"INCR", b"n"], [b"DEL", b"missing"])
    assert stream == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SELECT", b"2"], [b"INCR", b"n"]]


def test_relative_expiries_become_absolute() -> None:
    stream, node = _stream([b"SET", b"a", b"1", b"EX", b"100"], [b"SETEX", b"b", b"50", b"v"],
                           [b"EXPIRE", b"b", b"10"], [b"EXPIRE", b"b", b"-1"], [b"INCRBYFLOAT", b"f", b"1.5"])  # fmt: skip
    db = node.keyspace[0]
    assert stream[1][:3] == [b"SET", b"a", b"1"] and stream[1][3] == b"PXAT"
    assert int(stream[1][4]) == db.get_expire(b"a")
    assert stream[2][:4] == [b"SET", b"b", b"v", b"PXAT"]
    assert stream[3][:2] == [b"PEXPIREAT", b"b"]
    assert stream[4] == [b"DEL", b"b"]  # an expiry in the past deletes the key
    assert stream[5] == [b"SET", b"f", b"1.5", b"KEEPTTL"]


def test_transactions_are_wrapped_only_with_several_writes() -> None:
    stream, _ = _stream([b"MULTI"], [b"SET", b"a", b"1"], [b"GET", b"a"], [b"EXEC"],
                        [b"MULTI"], [b"SET", b"a", b"2"], [b"SADD", b"s", b"x"], [b"EXEC"])  # fmt: skip
    assert stream == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"MULTI"], [b"SET", b"a", b"2"],
                      [b"SADD", b"s", b"x"], [b"EXEC"]]  # fmt: skip


def test_spop_is_streamed_as_srem_of_the_popped_members() -> None:
    stream, node = _stream([b"SADD", b"s", b"x", b"y", b"z"], [b"SPOP", b"s", b"2"])
    assert stream[2][:2] == [b"SREM", b"s"] and len(set(stream[2][2:])) == 2
    reader = node.new_client(lambda data: None)
    assert [process_command(reader, [b"SISMEMBER", b"s", member]) for member in stream[2][2:]] == [0, 0]
    assert process_command(reader, [b"SCARD", b"s"]) == 1


def test_stream_parser_splits_commands_and_keepalives() -> None:
    parser = StreamParser()
    data = b"\n" + encode_command([b"PING"]) + encode_command([b"SET", b"k", b"v\r\n"])
    parser.feed(data[:7])
    assert parser.next_command() == ([], b"\n")
    assert parser.next_command() is None
    parser.feed(data[7:])
    assert parser.next_command() == ([b"PING"], encode_command([b"PING"]))
    assert parser.next_command() == ([b"SET", b"k", b"v\r\n"], encode_command([b"SET", b"k", b"v\r\n"]))


def test_a_write_on_a_lazily_expired_key_streams_the_del_and_the_write() -> None:
    node = Node()
    replication = get_replication(node)
    client = node.new_client(lambda data: None)
    process_command(client, [b"SET", b"k", b"v", b"PX", b"1"])
    node.keyspace[0].set_expire(b"k", 1)  # long past
    replication.ensure_backlog()
    process_command(client, [b"INCR", b"k"])  # finds k expired: DEL, then the INCR
    parser = StreamParser()
    parser.feed(bytes(replication.backlog or b""))
    stream = []
    while (item := parser.next_command()) is not None:
        stream.append(item[0])
    assert stream[-4:] == [[b"MULTI"], [b"DEL", b"k"], [b"INCR", b"k"], [b"EXEC"]]


def test_flushes_are_streamed_even_when_nothing_was_deleted() -> None:
    stream, _ = _stream([b"FLUSHALL"], [b"SET", b"b", b"1"], [b"FLUSHDB"], [b"FLUSHDB"], [b"FLUSHALL", b"BOGUS"])
    assert stream == [[b"SELECT", b"0"], [b"FLUSHALL"], [b"SET", b"b", b"1"], [b"FLUSHDB"], [b"FLUSHDB"]]


def test_blocking_pops_served_at_once_are_streamed_as_the_pops_they_did() -> None:
    stream, _ = _stream([b"RPUSH", b"l", b"a", b"b", b"c"], [b"ZADD", b"z", b"1", b"x", b"2", b"y"],
                        [b"BLPOP", b"l", b"0"], [b"BLMPOP", b"0", b"1", b"l", b"RIGHT", b"COUNT", b"2"],
                        [b"BZPOPMAX", b"z", b"0"], [b"BZMPOP", b"0", b"1", b"z", b"MIN"])  # fmt: skip
    assert stream[3:] == [[b"LPOP", b"l"], [b"RPOP", b"l", b"2"], [b"ZPOPMAX", b"z"], [b"ZPOPMIN", b"z", b"1"]]
