"""One client connection over asyncio: bytes in, parser, dispatch, bytes out.

Theory of operation
-------------------
:class:`ClientConnection` is an asyncio ``Protocol`` (callbacks, no coroutine per
client: it is the fastest shape asyncio and uvloop offer). On ``data_received`` the
bytes go to the sans-IO :class:`~..protocol.parser.RequestParser`; each complete
command goes through :func:`~.dispatch.process_command`; replies are collected and
written with one ``transport.write`` per batch, so a pipeline of N commands costs one
system call, as in Redis.

Fairness: a client that sends a huge pipeline is served at most
:data:`MAX_COMMANDS_PER_TURN` commands per event-loop turn, then yields, so other
clients keep getting answers. A client that does not read its replies makes its
transport buffer fill up; asyncio then calls ``pause_writing`` and we stop reading
from that client, and stop running the commands it already sent (back pressure),
instead of buffering without bound. For that to work within a batch too, a batch's
replies are handed to the transport as soon as they pass :data:`OUTPUT_FLUSH_BYTES`
(a pipeline of GETs of a big value must not build a huge reply in memory first).

A protocol error is answered with ``-ERR Protocol error: ...`` and the connection is
closed after the reply, as Redis does. A blocked client (BLPOP) keeps its unread
commands in the parser until it is unblocked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..protocol.encoder import encode
from ..protocol.fast_parser import make_request_parser
from ..protocol.parser import ProtocolError
from . import errors
from .client import Blocked, Client, ReplyMode
from .dispatch import process_command

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("pyredis_cluster")

#: Commands served from one client before letting the event loop serve others.
MAX_COMMANDS_PER_TURN = 1000
#: Replies gathered in a batch beyond which they are written at once (back pressure).
OUTPUT_FLUSH_BYTES = 256 * 1024
#: ReplyMode.ON as a module global: reading an Enum member through its class costs
#: several times a global lookup, and the reply path does it once per command.
_REPLIES_ON = ReplyMode.ON


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


class ClientConnection(asyncio.Protocol):
    def __init__(self, node: Node) -> None:
        self.node = node
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self._max_bulk_len = node.config.proto_max_bulk_len  # what the parser was last given
        self.parser = make_request_parser(self._max_bulk_len)
        self._out: list[bytes] | None = None  # replies gathered during a batch
        self._out_size = 0  # bytes in _out
        self._closing = False
        self._paused_reading = False
        self._resume_scheduled = False
        #: ``self._sink`` bound once, so _process can tell by identity that the client
        #: still writes to us (a test double may wrap ``client.sink``, testing/faults.py)
        self._own_sink = self._sink
        self._parser_authenticated = True  # what the parser's authenticated flag was last set to

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        node = self.node
        node.stats.total_connections_received += 1
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        host = str(peer[0]) if isinstance(peer, tuple) else "?"
        if len(node.clients) >= node.config.maxclients:
            node.stats.rejected_connections += 1
            transport.write(b"-" + errors.MAX_CLIENTS.encode() + b"\r\n")
            transport.close()
            return
        if node.config.protected_mode and not node.config.requirepass and not _is_loopback(host):
            node.stats.rejected_connections += 1
            transport.write(b"-" + errors.PROTECTED_MODE_DENIED.encode() + b"\r\n")
            transport.close()
            return
        client = node.new_client(self._own_sink)
        client.addr = _format_addr(peer)
        client.laddr = _format_addr(sock)
        sock_obj = transport.get_extra_info("socket")
        client.fd = sock_obj.fileno() if sock_obj is not None else -1
        client.on_unblocked = self._on_unblocked
        client.on_close = self.close
        client.output_buffered = lambda: transport.get_write_buffer_size()  # type: ignore[attr-defined]
        self.parser.authenticated = self._parser_authenticated = client.authenticated
        self.client = client
        if node.config.tcp_keepalive and sock_obj is not None:
            _set_keepalive(sock_obj, node.config.tcp_keepalive)

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None or self._closing:
            return
        node = self.node
        stats = node.stats
        stats.net_input_bytes += len(data)
        stats.total_reads_processed += 1
        client.last_interaction = time.time()  # CLIENT LIST idle=, and the idle timeout
        config = node.config
        parser = self.parser
        # Redis reads proto-max-bulk-len live: CONFIG SET applies to open connections too.
        # The parser's limit is a property (a call): set it only when the option changed.
        if config.proto_max_bulk_len != self._max_bulk_len:
            self._max_bulk_len = parser.max_bulk_len = config.proto_max_bulk_len
        parser.feed(data)
        if parser.buffered > config.client_query_buffer_limit:
            log.warning("Closing client that reached max query buffer length: id=%d addr=%s", client.id, client.addr)
            self.close()
            return
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self.client is not None:
            self.node.forget_client(self.client)

    def pause_writing(self) -> None:
        # The client does not read its replies: stop reading its commands.
        if self.transport is not None and not self._paused_reading:
            self._paused_reading = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self._paused_reading:
            self._paused_reading = False
            self.transport.resume_reading()
            self._schedule_resume()

    # -- command processing ------------------------------------------------------------

    def _sink(self, data: bytes) -> None:
        out = self._out
        if out is not None:
            out.append(data)
            self._out_size += len(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.node.stats.net_output_bytes += len(data)
            self.transport.write(data)

    def _process(self) -> None:
        client = self.client
        assert client is not None
        parser = self.parser
        out: list[bytes] = []
        self._out = out
        self._out_size = 0
        served = 0
        own_sink = self._own_sink
        authenticated = self._parser_authenticated
        try:
            while not self._closing and client.blocked is None and not client.paused:
                try:
                    args = parser.next_command()
                except ProtocolError as err:
                    # latin-1: the text may quote one raw request byte (see ProtocolError)
                    out.append(b"-ERR %s\r\n" % str(err).encode("latin-1"))
                    log.log(15, "Protocol error (%s) from client: id=%d addr=%s", err, client.id, client.addr)
                    client.close_after_reply = True
                    break
                if args is None:
                    break
                reply = process_command(client, args)
                if type(reply) is not Blocked:
                    if client.reply_mode is _REPLIES_ON and client.sink is own_sink:
                        # Client.reply inlined for the common case: with replies ON it
                        # encodes and calls the sink, and our sink appends to ``out``
                        # (self._out is ``out`` for the whole batch).
                        data = encode(reply, client.resp)
                        out.append(data)
                        self._out_size += len(data)
                    else:
                        client.reply(reply)
                if client.authenticated is not authenticated:  # AUTH, HELLO AUTH, RESET
                    # Only on a change: the parser's flag is a property (a call), and
                    # nothing but this loop and connection_made sets it.
                    authenticated = self._parser_authenticated = parser.authenticated = client.authenticated
                if client.close_after_reply:
                    break
                served += 1
                if self._out_size >= OUTPUT_FLUSH_BYTES:
                    self._flush(out)  # may call pause_writing() at once
                    if self._paused_reading:
                        break  # resume_writing() carries on with the rest
                if served >= MAX_COMMANDS_PER_TURN:
                    self._schedule_resume()
                    break
        finally:
            self._out = None
            self._flush(out)
            if client.close_after_reply:
                self.close()

    def _flush(self, out: list[bytes]) -> None:
        """Hand the replies gathered so far to the transport."""
        if out:
            data = b"".join(out)
            out.clear()
            self._out_size = 0
            self.node.stats.net_output_bytes += len(data)
            if self.transport is not None:
                self.transport.write(data)

    def _schedule_resume(self) -> None:
        if not self._resume_scheduled:
            self._resume_scheduled = True
            asyncio.get_running_loop().call_soon(self._resume)

    def _resume(self) -> None:
        self._resume_scheduled = False
        if not self._closing and self.client is not None and not self._paused_reading:
            self._process()

    def _on_unblocked(self) -> None:
        # The client got its reply; commands it pipelined behind the blocking one run now.
        if self.parser.has_partial_request():
            self._schedule_resume()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self.transport is not None:
            self.transport.close()


def _format_addr(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = str(addr[0])
        return f"{host}:{addr[1]}"
    return "?:0"


def _set_keepalive(sock: object, interval: int) -> None:
    import socket

    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # type: ignore[attr-defined]
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)  # type: ignore[attr-defined]
    except OSError:
        pass
