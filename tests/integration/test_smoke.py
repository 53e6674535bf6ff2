"""First contact: our node answers over a real socket like redis-server does."""

from tests.differential import assert_same


def test_ping_set_get(client):
    assert client.raw("PING") == b"+PONG\r\n"
    assert client.raw("SET", "k", "v") == b"+OK\r\n"
    assert client.raw("GET", "k") == b"$1\r\nv\r\n"


def test_inline_commands(client):
    client.send_raw(b'PING\r\nset x "a b"\r\nget x\r\n')
    assert [client.read_reply()[1] for _ in range(3)] == [b"+PONG\r\n", b"+OK\r\n", b"$3\r\na b\r\n"]


def test_same_as_redis(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["PING"], ["PING", "hello"], ["ECHO", "x"], ["SET", "a", "1"], ["GET", "a"], ["GET", "missing"],
        ["NOSUCHCMD", "a", "b"], ["GET"], ["SELECT", "99"], ["SELECT", "x"], ["HELLO", "4"],
    ])  # fmt: skip
