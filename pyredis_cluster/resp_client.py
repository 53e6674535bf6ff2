"""A minimal RESP client for the project's own tools (trace, clock, local cluster...).

The command-line tools that talk to a running cluster (``python -m pyredis_cluster
trace``, ``clock``...) need little: send a command, read one reply (or a pushed
pub/sub message), and learn the cluster's nodes from ``CLUSTER NODES``. That is this
module, on top of the sans-IO reply parser (``protocol/reply_parser.py``), so the tools
do not need redis-py. Error replies come back as values (``ErrorReply``, a ``str``),
never raised: a tool usually wants to show them.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .protocol.encoder import ErrorReply
from .protocol.reply_parser import NEED_DATA, ReplyParser


class ClusterToolError(Exception):
    """Something a tool reports as ``error: ...`` (exit status 1)."""


def encode_command(args: Sequence[str | bytes | int]) -> bytes:
    """One request in RESP's multibulk form."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    """One RESP2 connection: commands, then (maybe) a subscription's messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = ReplyParser()

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> Connection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer)

    async def reply(self) -> Any:
        """The next reply or pushed message; ConnectionError at EOF."""
        while (result := self.parser.next_reply()) is NEED_DATA:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.parser.feed(chunk)
        return result[0]  # type: ignore[index]

    async def call(self, *args: str | bytes | int, timeout: float = 5.0) -> Any:
        self.writer.write(encode_command(args))
        return await asyncio.wait_for(self.reply(), timeout)

    def close(self) -> None:
        self.writer.close()


async def call_once(host: str, port: int, *args: str | bytes | int, timeout: float = 5.0) -> Any:
    """One command on a connection of its own."""
    conn = await Connection.open(host, port, timeout)
    try:
        return await conn.call(*args, timeout=timeout)
    finally:
        conn.close()


def call_blocking(host: str, port: int, *args: str | bytes | int, timeout: float = 5.0) -> Any:
    """One command on a fresh blocking socket, for code without an event loop (the
    local-cluster supervisor)."""
    parser = ReplyParser()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode_command(args))
        while (result := parser.next_reply()) is NEED_DATA:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{host}:{port} closed the connection")
            parser.feed(chunk)
    return result[0]  # type: ignore[index]


@dataclass
class Peer:
    """A node of the cluster as CLUSTER NODES lists it."""

    node_id: str
    host: str
    port: int
    flags: str


def parse_cluster_nodes(text: str, default_host: str) -> list[Peer]:
    """The reachable nodes of a CLUSTER NODES reply (no ``noaddr``/handshake), by port."""
    peers = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        host_port = words[1].split("@", 1)[0]
        host, _, port = host_port.rpartition(":")
        if not port.isdigit() or int(port) == 0 or "noaddr" in words[2] or "handshake" in words[2]:
            continue
        peers.append(Peer(words[0], host or default_host, int(port), words[2]))
    return sorted(peers, key=lambda peer: peer.port)


async def discover(host: str, port: int, only: bool, timeout: float) -> list[Peer]:
    """The cluster's nodes as seen from ``host:port`` (``only``: just that node). The
    node asked is listed with the address the user gave, not the one it announces."""
    try:
        conn = await Connection.open(host, port, timeout)
    except (OSError, TimeoutError) as err:
        raise ClusterToolError(f"cannot connect to {host}:{port}: {err}") from None
    try:
        myid = await conn.call("CLUSTER", "MYID")
        listing = await conn.call("CLUSTER", "NODES")
    finally:
        conn.close()
    if isinstance(myid, ErrorReply) or isinstance(listing, ErrorReply):
        raise ClusterToolError(f"{host}:{port} is not a cluster node: {myid if isinstance(myid, ErrorReply) else listing}")
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    myid = myid.decode() if isinstance(myid, bytes) else str(myid)
    if only:
        return [Peer(myid, host, port, "myself")]
    peers = parse_cluster_nodes(text, host)
    for peer in peers:
        if peer.node_id == myid:
            peer.host, peer.port = host, port
    return peers


def add_node_arguments(parser: argparse.ArgumentParser, only_help: str) -> None:
    """The options every cluster tool takes to find its cluster: a node to ask, ``--only``."""
    parser.add_argument("--host", default="127.0.0.1", help="a node's host (default 127.0.0.1)")
    parser.add_argument("--port", "-p", type=int, default=7000, help="a node's client port (default 7000)")
    parser.add_argument("--only", action="store_true", help=only_help)
    parser.add_argument("--timeout", type=float, default=5.0, help=argparse.SUPPRESS)
