"""Safe by default, like Redis: protected mode, requirepass, AUTH and HELLO AUTH."""

from __future__ import annotations

from typing import Any

import pytest

from pyredis_cluster.server import errors
from pyredis_cluster.server.connection import ClientConnection
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing.threaded import make_config, node_in_thread
from tests.support import RawClient, real_redis_server


class FakeTransport:
    """Just enough of a transport to see what connection_made does (no socket at all)."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 6379)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def connect_from(node: Node, host: str) -> FakeTransport:
    transport = FakeTransport((host, 40000))
    ClientConnection(node).connection_made(transport)  # type: ignore[arg-type]
    return transport


def test_protected_mode_refuses_non_loopback_clients_without_a_password() -> None:
    node = Node(make_config())
    transport = connect_from(node, "10.1.2.3")
    assert transport.written == b"-" + errors.PROTECTED_MODE_DENIED.encode() + b"\r\n"
    assert transport.closed
    assert node.clients == {}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "::1"])
def test_protected_mode_lets_loopback_clients_in(host: str) -> None:
    node = Node(make_config())
    transport = connect_from(node, host)
    assert not transport.closed and transport.written == b""
    assert len(node.clients) == 1


@pytest.mark.parametrize("options", [{"protected_mode": False}, {"requirepass": "secret"}])
def test_protected_mode_off_or_a_password_lets_remote_clients_in(options: dict[str, Any]) -> None:
    node = Node(make_config(**options))
    transport = connect_from(node, "10.1.2.3")
    assert not transport.closed and transport.written == b""


AUTH_SCRIPT: list[list[str]] = [
    ["GET", "k"], ["PING"], ["AUTH", "wrong"], ["AUTH", "default", "wrong"], ["AUTH", "nobody", "secret"],
    ["HELLO", "3"], ["HELLO", "3", "AUTH", "default", "wrong"], ["SET", "k", "v"], ["AUTH", "secret"],
    ["GET", "k"], ["AUTH", "default", "secret"], ["HELLO", "2", "AUTH", "default", "secret"],
]  # fmt: skip


def test_requirepass_and_auth_replies_match_redis() -> None:
    """Before AUTH: NOAUTH; wrong passwords: WRONGPASS; then everything works (byte for byte)."""

    def transcript(port: int) -> list[bytes]:
        with RawClient(port) as conn:
            return [conn.raw(*command) for command in AUTH_SCRIPT]

    with node_in_thread(requirepass="secret") as ours, real_redis_server("--requirepass", "secret") as real:
        mine, theirs = transcript(ours.port), transcript(real)
    # HELLO's reply carries the client id, which differs between the two servers.
    hello = [i for i, command in enumerate(AUTH_SCRIPT) if command[0] == "HELLO"]
    for i in hello:
        assert mine[i][:1] == theirs[i][:1]
    assert [m for i, m in enumerate(mine) if i not in hello] == [t for i, t in enumerate(theirs) if i not in hello]
    assert mine[0].startswith(b"-NOAUTH")


def test_auth_without_a_password_configured_matches_redis(our_port: int, real_redis_port: int) -> None:
    from tests.differential import assert_same

    assert_same(our_port, real_redis_port, [["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH", "default", ""]])
