"""Docker's port publishing, in miniature: a TCP forwarder, and an address nobody answers on.

Theory of operation
-------------------
``docker run -p 7001:6379`` makes a process on the host (docker-proxy) listen on host
port 7001 and copy bytes both ways to port 6379 inside the container. The node inside
only knows its container address; a client on the host only knows ``host:7001``.

:class:`PortMapping` is that proxy: it listens on ``127.0.0.1:<published>`` (a free
port) and forwards each connection to the node's real port.

:class:`UnreachableAddress` stands for the container-internal address seen from the
host: an address the client cannot connect to. On one machine every loopback port is
reachable, so it is made deterministic instead: a socket *bound* to a loopback port but
never listening. Nothing else can take that port while it is held, and every connection
to it is refused at once (``ECONNREFUSED``), exactly what a client gets from an address
it has no route to, only faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from .connection import HOST

_CHUNK = 65536


class UnreachableAddress:
    """A loopback port held (bound, not listening): connections to it are refused."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((HOST, 0))
        self.port: int = self._socket.getsockname()[1]

    def close(self) -> None:
        self._socket.close()


class PortMapping:
    """``127.0.0.1:<published port>`` forwarded to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0  # the published port, once started
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> PortMapping:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            node_reader, node_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            client_writer.close()
            return
        loop = asyncio.get_running_loop()
        pipes = [loop.create_task(_pipe(client_reader, node_writer)), loop.create_task(_pipe(node_reader, client_writer))]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until either side closes; then close the other direction too."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
