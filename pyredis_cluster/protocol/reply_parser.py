"""Sans-IO parser for replies (RESP2 and RESP3), for our own client side.

The node is also a client at times: MIGRATE talks to the target node, a replica reads
its primary's stream, tests compare replies byte for byte. :class:`ReplyParser` gives
each complete reply both as a Python value and as the exact bytes it came in.
"""

from __future__ import annotations

from typing import Any

from .encoder import Double, ErrorReply, Map, Push, SetReply, Status, Verbatim

NEED_DATA = object()


class ReplyProtocolError(Exception):
    pass


class ReplyParser:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_reply(self) -> tuple[Any, bytes] | object:
        """(value, raw bytes) of the next complete reply, or NEED_DATA."""
        start = self._pos
        try:
            value, end = self._parse(start)
        except _Incomplete:
            return NEED_DATA
        raw = bytes(self._buf[start:end])
        self._pos = end
        if self._pos > 65536:
            del self._buf[: self._pos]
            self._pos = 0
        return value, raw

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buf.find(b"\r\n", pos)
        if end == -1:
            raise _Incomplete
        return bytes(self._buf[pos:end]), end + 2

    def _parse(self, pos: int) -> tuple[Any, int]:
        if pos >= len(self._buf):
            raise _Incomplete
        kind = self._buf[pos]
        line, pos = self._line(pos + 1)
        if kind == 43:  # +
            return Status(line.decode("utf-8", "replace")), pos
        if kind == 45:  # -
            return ErrorReply(line.decode("utf-8", "replace")), pos
        if kind == 58:  # :
            return int(line), pos
        if kind in (36, 61):  # $ bulk, = verbatim
            length = int(line)
            if length < 0:
                return None, pos
            if pos + length + 2 > len(self._buf):
                raise _Incomplete
            data = bytes(self._buf[pos : pos + length])
            if kind == 61:
                return Verbatim(data[4:], data[:3]), pos + length + 2
            return data, pos + length + 2
        if kind in (42, 126, 62, 37):  # * ~ > %
            count = int(line)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count * 2 if kind == 37 else count):
                item, pos = self._parse(pos)
                items.append(item)
            if kind == 37:
                return Map(list(zip(items[::2], items[1::2]))), pos
            if kind == 126:
                return SetReply(items), pos
            if kind == 62:
                return Push(items), pos
            return items, pos
        if kind == 95:  # _
            return None, pos
        if kind == 44:  # ,
            return Double(float(line)), pos
        if kind == 35:  # #
            return line == b"t", pos
        if kind == 40:  # ( big number
            return int(line), pos
        raise ReplyProtocolError(f"unexpected reply type byte {chr(kind)!r}")


class _Incomplete(Exception):
    pass
