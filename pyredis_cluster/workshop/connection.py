"""A tiny RESP client for the scenarios: one connection, one command at a time, replies as values.

Theory of operation
-------------------
The scenarios want to *show* what a client sees (``-MOVED 3999 127.0.0.1:7002``,
``-CLUSTERDOWN The cluster is down``), so error replies are returned as values, not
raised: :class:`~pyredis_cluster.protocol.encoder.ErrorReply` is a ``str`` holding
the exact text after the ``-``. Replies are parsed by the project's own sans-IO
:class:`~pyredis_cluster.protocol.reply_parser.ReplyParser`; bulk strings come back
as ``bytes``.

A connection is kept open on purpose where the protocol needs it: ``ASKING`` only
applies to the next command of the same connection, and ``WATCH``/``MULTI``/``EXEC``
form one transaction per connection.

Deliberately weak: no pipelining, no RESP3, no reconnection. Scenario code opens a
fresh :class:`Connection` where a node may have gone away.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..protocol.encoder import ErrorReply
from ..protocol.reply_parser import NEED_DATA, ReplyParser

HOST = "127.0.0.1"
#: No single reply of a scenario takes longer than this (MIGRATE-free, loopback only).
REPLY_TIMEOUT_SECONDS = 10.0


def encode_command(args: tuple[Any, ...]) -> bytes:
    """A RESP array of bulk strings (what every client sends)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    """One client connection to ``host:port`` (use ``async with``)."""

    def __init__(self, port: int, host: str = HOST) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = ReplyParser()

    async def open(self) -> Connection:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), REPLY_TIMEOUT_SECONDS)  # fmt: skip
        return self

    async def call(self, *args: Any) -> Any:
        """Send one command, return its reply (an ``ErrorReply`` for ``-ERR ...``)."""
        assert self._reader is not None and self._writer is not None, "connection not open"
        self._writer.write(encode_command(args))
        while (reply := self._parser.next_reply()) is NEED_DATA:
            data = await asyncio.wait_for(self._reader.read(65536), REPLY_TIMEOUT_SECONDS)
            if not data:
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")
            self._parser.feed(data)
        value, _raw = reply  # type: ignore[misc]
        return value

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
            self._writer = None

    async def __aenter__(self) -> Connection:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def call(port: int, *args: Any, host: str = HOST) -> Any:
    """One command on a fresh connection."""
    async with Connection(port, host) as connection:
        return await connection.call(*args)


def is_error(reply: Any, code: str | None = None) -> bool:
    """True for an error reply (starting with ``code``, e.g. "MOVED", if given)."""
    return isinstance(reply, ErrorReply) and (code is None or reply.split(" ", 1)[0] == code)


def text(reply: Any) -> str:
    """A reply as a client would print it (errors with their leading dash)."""
    if isinstance(reply, ErrorReply):
        return f"-{reply}"
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if reply is None:
        return "(nil)"
    return str(reply)
