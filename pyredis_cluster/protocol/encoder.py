"""Turn reply values into RESP2 or RESP3 bytes.

Theory of operation
-------------------
Command handlers return plain Python values and never think about the wire format;
the connection encodes them for the protocol version the client chose with HELLO:

================  ======================  ==========================
value             RESP2                   RESP3
================  ======================  ==========================
``bytes``         ``$3\\r\\nfoo\\r\\n``       same
``int``           ``:1\\r\\n``               same
``None``          ``$-1\\r\\n`` (null bulk)   ``_\\r\\n``
``NULL_ARRAY``    ``*-1\\r\\n``              ``_\\r\\n``
``list/tuple``    ``*N`` array             same
``Map``           flat array k1 v1 ...     ``%N`` map
``SetReply``      array                    ``~N`` set
``Double``        bulk ``%.17g``           ``,%.17g``
``Verbatim``      bulk string              ``=N\\r\\ntxt:...``
``Push``          array                    ``>N`` push
``Status``        ``+OK``                  same
``ErrorReply``    ``-ERR ...``             same
``Raw``           the bytes as they are    same
================  ======================  ==========================

Doubles are printed with C's ``%.17g``, which is what Redis 7.0 does (7.2 moved to
the shortest round-trip form; 7.0 clients see ``1.1000000000000001``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class Status(str):
    """A simple string reply: ``+<text>``."""

    __slots__ = ()


class ErrorReply(str):
    """An error reply: ``-<text>``. The text starts with its code (ERR, WRONGTYPE, MOVED...)."""

    __slots__ = ()


class Double(float):
    """A floating point reply: a bulk string in RESP2, a ``,`` double in RESP3."""

    __slots__ = ()


class Map:
    """A map reply: ``%`` in RESP3, a flat array of alternating keys and values in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[tuple[Any, Any]] | dict[Any, Any]) -> None:
        self.items = list(items.items()) if isinstance(items, dict) else list(items)

    def __repr__(self) -> str:
        return f"Map({self.items!r})"


class SetReply(list):
    """A set reply: ``~`` in RESP3, an array in RESP2."""

    __slots__ = ()


class Push(list):
    """An out-of-band push (pub/sub messages): ``>`` in RESP3, an array in RESP2."""

    __slots__ = ()


class Verbatim:
    """A verbatim string (INFO, CLUSTER NODES...): ``=`` in RESP3, a bulk string in RESP2."""

    __slots__ = ("text", "format")

    def __init__(self, text: bytes, format: bytes = b"txt") -> None:
        self.text = text
        self.format = format


class Raw(bytes):
    """Bytes already encoded as RESP, written as they are (for precomputed replies)."""

    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


#: The null array (``*-1`` in RESP2), what BLPOP answers on timeout for example.
NULL_ARRAY = _NullArray()

OK = Status("OK")
QUEUED = Status("QUEUED")
PONG = Status("PONG")


def format_double(value: float) -> bytes:
    """Redis 7.0's ``%.17g`` text for a double, with ``inf``/``-inf`` and ``nan``."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    return b"%.17g" % value


_OK_BYTES = b"+OK\r\n"


def encode(value: Any, resp: int = 2) -> bytes:
    """Encode one reply value for protocol version ``resp`` (2 or 3)."""
    kind = type(value)  # the most common replies first, without building a list
    if kind is bytes:
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if value is OK:
        return _OK_BYTES
    if kind is int:
        return b":%d\r\n" % value
    if value is None:
        return b"_\r\n" if resp == 3 else b"$-1\r\n"
    out: list[bytes] = []
    _encode_into(out, value, resp)
    return b"".join(out)


def _encode_into(out: list[bytes], value: Any, resp: int) -> None:
    append = out.append
    kind = type(value)
    if kind is bytes:
        append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is int:
        append(b":%d\r\n" % value)
    elif value is None:
        append(b"_\r\n" if resp == 3 else b"$-1\r\n")
    elif kind is Status:
        append(b"+%s\r\n" % value.encode())
    elif kind is ErrorReply:
        append(b"-%s\r\n" % value.encode())
    elif kind is Raw:
        append(value)
    elif kind is list or kind is tuple:
        append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(out, item, resp)
    elif kind is Map:
        items = value.items
        append(b"%%%d\r\n" % len(items) if resp == 3 else b"*%d\r\n" % (2 * len(items)))
        for key, item in items:
            _encode_into(out, key, resp)
            _encode_into(out, item, resp)
    elif kind is SetReply:
        append(b"~%d\r\n" % len(value) if resp == 3 else b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(out, item, resp)
    elif kind is Push:
        append(b">%d\r\n" % len(value) if resp == 3 else b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(out, item, resp)
    elif kind is Double:
        text = format_double(value)
        append(b",%s\r\n" % text if resp == 3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is Verbatim:
        if resp == 3:
            append(b"=%d\r\n%s:%s\r\n" % (len(value.text) + 4, value.format, value.text))
        else:
            append(b"$%d\r\n%s\r\n" % (len(value.text), value.text))
    elif value is NULL_ARRAY:
        append(b"_\r\n" if resp == 3 else b"*-1\r\n")
    elif kind is bool:
        if resp == 3:
            append(b"#t\r\n" if value else b"#f\r\n")
        else:
            append(b":1\r\n" if value else b":0\r\n")
    elif kind is float:
        _encode_into(out, Double(value), resp)
    elif kind is str:
        _encode_into(out, value.encode(), resp)
    elif isinstance(value, (bytearray, memoryview)):
        _encode_into(out, bytes(value), resp)
    elif isinstance(value, int):  # IntEnum and friends
        append(b":%d\r\n" % value)
    else:
        raise TypeError(f"cannot encode reply value of type {kind.__name__}")
