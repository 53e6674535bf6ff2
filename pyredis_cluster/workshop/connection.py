"""What a client sees: one connection, one command at a time, error replies as values.

Theory of operation
-------------------
The scenarios want to *show* what a client sees (``-MOVED 3999 127.0.0.1:7002``,
``-CLUSTERDOWN The cluster is down``), so error replies are returned, not raised:
:class:`~pyredis_cluster.protocol.encoder.ErrorReply` is a ``str`` holding the exact
text after the ``-``; bulk strings come back as ``bytes``, nil as ``None``. The
connection itself is the harness's small asyncio RESP client
(:class:`~pyredis_cluster.testing.topology.Resp`), asked not to raise.

A connection is kept open where the protocol needs it: ``ASKING`` only applies to the
next command of the same connection, and ``WATCH``/``MULTI``/``EXEC`` form one
transaction per connection. It connects on its first command, so a refused connection
(an unreachable address) shows up as ``OSError`` from :meth:`Connection.call`.
"""

from __future__ import annotations

from typing import Any

from ..protocol.encoder import ErrorReply
from ..testing.topology import Resp

HOST = "127.0.0.1"


class Connection(Resp):
    """One client connection to ``host:port`` (use ``async with``)."""

    async def call(self, *args: bytes | str | int, check: bool = False, timeout: float = 10.0) -> Any:
        """Send one command, return its reply (an ``ErrorReply`` for ``-ERR ...``)."""
        return await super().call(*args, check=check, timeout=timeout)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def call(port: int, *args: bytes | str | int, host: str = HOST) -> Any:
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
