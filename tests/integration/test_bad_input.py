"""Malformed input over real sockets: our bytes against redis-server 7.0's, and the node's
robustness (other clients keep being served, nothing leaks, nothing starves).

Differential cases send exactly the bytes that trigger the error (no extra bytes the
server would leave unread: closing a socket with unread input resets the connection
and could eat the reply), then read until the server closes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, encode_command, real_redis_server, wait_until


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send ``data``; return everything received and whether the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                return bytes(received), True
            except TimeoutError:
                break
            if not chunk:
                return bytes(received), True
            received += chunk
            if received.endswith(b"$13\r\nPONG-SENTINEL\r\n"):
                return bytes(received), False
        return bytes(received), False


def _alive_probe() -> bytes:
    """A trailing command whose reply shows the connection is still alive and in sync."""
    return b"*2\r\n$4\r\nECHO\r\n$13\r\nPONG-SENTINEL\r\n"


CLOSING_CASES = {
    "out of range multibulk length": b"*3000000000\r\n",
    "multibulk length over INT_MAX": b"*2147483648\r\n",
    "non-number multibulk length": b"*x1\r\n",
    "empty multibulk length": b"*\r\n",
    "wrong payload header": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
    "no bulk header": b"*1\r\nfoo\r\n",
    "CR as the bulk header": b"*1\r\n\r\n\r\n",
    "high byte as the bulk header": b"*1\r\n\xff\r\n",
    "negative bulk length": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
    "bulk length over proto-max-bulk-len": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
    "non-number bulk length": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n",
    "unbalanced double quotes": b'set """test-key""" test-value\r\n',
    "unbalanced single quotes": b"set 'abc\r\n",
    "closing quote followed by a letter": b'set "a"b c\r\n',
    "commands before the error run": b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\nxyz\r\n",
    "too big inline request": b"PING " + b"a" * 65600,
    "too big mbulk count string": b"*" + b"1" * 65600,
    "too big bulk count string": b"*1\r\n$" + b"1" * 65600,
    "NUL hides the inline line end": b"\x00" + b"payload\n" * 8200 + b"x",
    "NUL hides the count line end": b"*\x00" + b"payload\r\n" * 7300,
    "NUL after a dollar": b"$\x00" + b"payload\n" * 8200 + b"x",
    "a line of 100000 bytes in one burst": b"ECHO " + b"a" * 100_000 + b"\r\n",
}


@pytest.mark.parametrize("name", list(CLOSING_CASES))
def test_protocol_errors_same_bytes_and_close(name, our_port, real_redis_port):
    data = CLOSING_CASES[name]
    ours = exchange(our_port, data)
    theirs = exchange(real_redis_port, data)
    assert theirs[1], "redis-server should have closed"
    assert ours == theirs


NON_CLOSING_CASES = {
    "empty lines": b"\r\n\n\r\n   \r\n",
    "negative multibulk": b"*-10\r\n*0\r\n*-1\r\n",
    "LF without CR": b"PING\nECHO hi\n",
    "quotes and escapes": b"ECHO \"a\\x41\\n\\\"b\" 'c\\'d' e\"f g\"\r\nECHO \"\\xZZ\\q\"\r\n",
    "tabs and vertical tabs": b"ECHO\ta\x0bb\r\n\x0b\x0cPING\r\n",
    "a line of 65000 bytes": b"ECHO " + b"a" * 65000 + b"\r\n",
    "trailer bytes not checked": b"*1\r\n$4\r\nPINGxx",
    "binary bulk": b"*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n\xff\x80\x01\r\n",
    "unknown inline command": b"NOSUCH 'a b' c\r\n",
    "inline arity error": b"GET\r\n",
}


@pytest.mark.parametrize("name", list(NON_CLOSING_CASES))
def test_odd_but_valid_input_same_bytes(name, our_port, real_redis_port):
    data = NON_CLOSING_CASES[name] + _alive_probe()
    ours = exchange(our_port, data)
    theirs = exchange(real_redis_port, data)
    assert not theirs[1]
    assert ours == theirs


# -- before AUTH -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def password_ports() -> Iterator[tuple[int, int]]:
    with node_in_thread(requirepass="secret") as node, real_redis_server() as real:
        with RawClient(real) as admin:  # set after start: the helper checks the start with PING
            admin.call("CONFIG", "SET", "requirepass", "secret")
        yield node.port, real


@pytest.mark.parametrize(
    "data",
    [b"*11\r\n", b"*1\r\n$16385\r\n", b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", b"*1\r\n$-1\r\n", b"*x\r\n"],
)
def test_unauthenticated_limits(data, password_ports):
    ours, real = password_ports
    assert exchange(ours, data) == exchange(real, data)


def test_limits_lift_after_auth(password_ports):
    ours, real = password_ports
    big = b"*2\r\n$4\r\nECHO\r\n$20000\r\n" + b"x" * 20000 + b"\r\n"
    data = b"PING\r\n*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n" + big + _alive_probe()
    assert exchange(ours, data) == exchange(real, data)
    eleven = encode_command(["MSET"] + ["k", "v"] * 5)  # 11 arguments
    data = b"AUTH secret\r\n" + eleven + _alive_probe()
    assert exchange(ours, data) == exchange(real, data)


# -- robustness over real sockets -----------------------------------------------------------------


@pytest.fixture
def node() -> Iterator[object]:
    with node_in_thread() as running:
        yield running


def test_garbage_does_not_disturb_other_clients(node):
    port = node.port  # type: ignore[attr-defined]
    garbage = [
        b"*3000000000\r\n", b"*1\r\n$999999999999\r\n", b"*2\r\n$3\r\nGET\r\n$100\r\nhalf",
        b"\x00\xff\xfe" * 1000, b"*1\r\n$536870912\r\n", b"$$$$\r\n", b"*5\r\n$1\r\n",
        b'"unbalanced\r\n', b"*1\r\n$3\r\nGET", b"\r\n" * 5000, b"*-5\r\n*1\r\n$4\r\nPING\r\n",
    ]  # fmt: skip
    with RawClient(port) as good:
        good.call("SET", "k", "v")
        sockets = []
        for round_ in range(3):
            for data in garbage:
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(data)
                sockets.append(sock)
                assert good.raw("GET", "k") == b"$1\r\nv\r\n"
            assert good.call("INCR", "n") == round_ + 1
        # Half-sent frames stay pending without harm; closing them cleans up.
        for sock in sockets:
            sock.close()
        wait_until(lambda: len(node.clients) == 1, what="dead connections to be forgotten")  # type: ignore[attr-defined]
        assert good.raw("PING") == b"+PONG\r\n"


def _connection_of(node: object, client_id: int) -> object:
    """The ClientConnection serving a client (its sink is the connection's bound method)."""
    return node.clients[client_id].sink.__self__  # type: ignore[attr-defined]


def test_client_that_never_reads_does_not_block_others(node):
    """A pipeline of GETs of a 1 MB value from a client that never reads: the node stops
    reading from it once its output backs up, and serves everyone else meanwhile."""
    port = node.port  # type: ignore[attr-defined]
    value = b"x" * (1 << 20)
    with RawClient(port) as good:
        good.call("SET", "big", value)
        lazy = socket.create_connection(("127.0.0.1", port))
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        lazy_id = good.call("CLIENT", "ID") + 1  # the next connection gets the next id
        pipeline = encode_command(["GET", "big"]) * 2000  # 2 GB of replies if all were produced
        sender = threading.Thread(target=_send_until_blocked, args=(lazy, pipeline), daemon=True)
        sender.start()
        wait_until(lambda: lazy_id in node.clients, what="the lazy client to connect")  # type: ignore[attr-defined]
        conn = _connection_of(node, lazy_id)
        wait_until(lambda: conn._paused_reading, what="back pressure on the lazy client")  # type: ignore[attr-defined]
        for i in range(50):
            assert good.raw("INCR", "counter") == b":%d\r\n" % (i + 1)
        buffered = conn.transport.get_write_buffer_size()  # type: ignore[attr-defined]
        assert buffered < 64 * len(value), buffered  # bounded, not 2 GB
        lazy.close()
        wait_until(lambda: lazy_id not in node.clients, what="the lazy client to go")  # type: ignore[attr-defined]
        assert good.raw("PING") == b"+PONG\r\n"


def _send_until_blocked(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass


def test_huge_pipeline_does_not_starve_others(node):
    """While one client's 100k-command pipeline is being served, another client's
    command is answered long before that pipeline is done."""
    port = node.port  # type: ignore[attr-defined]
    total = 100_000
    with RawClient(port) as other, socket.create_connection(("127.0.0.1", port)) as heavy:
        replies_seen = [0]
        done = threading.Event()

        def read_heavy() -> None:
            pending = b""
            while replies_seen[0] < total:
                chunk = heavy.recv(1 << 16)
                if not chunk:
                    break
                pending += chunk
                count = pending.count(b"\r\n")
                replies_seen[0] += count
                pending = pending[pending.rfind(b"\r\n") + 2 :] if count else pending
            done.set()

        reader = threading.Thread(target=read_heavy, daemon=True)
        reader.start()
        heavy.sendall(encode_command(["INCR", "hits"]) * total)
        wait_until(lambda: replies_seen[0] > 0, what="the pipeline to start")
        assert other.raw("PING") == b"+PONG\r\n"
        progress = replies_seen[0]
        assert progress < total, "the other client waited for the whole pipeline"
        assert done.wait(60)
        assert other.call("GET", "hits") == b"%d" % total
