"""Helpers shared by the tests: free ports, a raw RESP client, a real redis-server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis.asyncio

from pyredis_cluster.protocol.reply_parser import NEED_DATA, ReplyParser

INSTALL_HINT = "install them with: apt-get install -y redis-server redis-tools"


def free_port() -> int:
    """A currently free loopback port (for processes that cannot bind port 0 themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and in range too."""
    for _ in range(200):
        with socket.socket() as low, socket.socket() as high:
            try:
                low.bind(("127.0.0.1", 0))
                port = low.getsockname()[1]
                if port + 10000 > 65535:
                    low.close()
                    port = 20000 + port % 30000
                    low2 = socket.socket()
                    try:
                        low2.bind(("127.0.0.1", port))
                    finally:
                        low2.close()
                high.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair found")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except (OSError, ConnectionError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def encode_command(args: Sequence[bytes | str | int]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RawClient:
    """A blocking RESP client that returns each reply's exact bytes (and its value)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.parser = ReplyParser()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self) -> tuple[Any, bytes]:
        while True:
            result = self.parser.next_reply()
            if result is not NEED_DATA:
                return result  # type: ignore[return-value]
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self.parser.feed(chunk)

    def raw(self, *args: bytes | str | int) -> bytes:
        """Send one command, return the exact bytes of its reply."""
        self.sock.sendall(encode_command(args))
        return self.read_reply()[1]

    def call(self, *args: bytes | str | int) -> Any:
        self.sock.sendall(encode_command(args))
        return self.read_reply()[0]

    def is_closed(self, timeout: float = 2.0) -> bool:
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def require_redis_binaries() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(f"redis-server is not installed: {INSTALL_HINT}")
    return path


@contextmanager
def real_redis_server(*extra: str) -> Iterator[int]:
    """Start a real redis-server 7.0 on a free loopback port; stop it (by PID) afterwards."""
    binary = require_redis_binaries()
    workdir = tempfile.mkdtemp(prefix="real-redis-")
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # Any answer will do: with --requirepass, PING gets NOAUTH.
            wait_until(lambda p=port: RawClient(p).raw("PING")[:1] in (b"+", b"-"), timeout=5,
                       what="redis-server to answer")  # fmt: skip
            break
        except AssertionError:
            proc.terminate()
            proc.wait()
    else:
        raise RuntimeError("could not start redis-server")
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def python_module_cmd(*args: str) -> list[str]:
    return [os.environ.get("PYTHON", "python3"), "-m", "pyredis_cluster", *args]


def refuses_connections(port: int) -> bool:
    """Nothing listens on ``port`` of the loopback (a closed node's port)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


async def async_command(port: int, *args: str) -> Any:
    """One command over redis-py's asyncio client (decoded replies), on a fresh connection."""
    client = redis.asyncio.Redis(port=port, decode_responses=True)
    try:
        return await client.execute_command(*args)
    finally:
        await client.aclose()


async def async_raw_reply(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """The exact bytes of a one-line reply (redis-py would reword a MOVED error)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        await writer.wait_closed()
