"""The Redis 7.0 cluster bus wire format, sans-IO: ``encode(msg)`` and ``BusDecoder``.

Theory of operation
-------------------
**Sending.** ``encode(message)`` packs the 2256-byte header and the payload
big-endian with ``struct`` and fills in the framing fields the dataclasses do not
carry: signature ``RCmb``, ``totlen``, ``ver`` = 1, ``type``, ``count`` (gossip
entries), ``extensions`` (and the EXT_DATA bit in ``mflags[0]`` whenever there are
extensions, because a 7.0 receiver only length-checks extensions under that bit
but *processes* ``extensions`` entries regardless). Reserved bytes are zero, as a
real node's calloc'd buffer is. EXT_DATA is framing: the decoder clears it from a
decoded header's ``mflags`` when it decoded extensions, so ``encode(decode(b)) == b``
and ``decode(encode(m)) == m``.

**Receiving.** A link's bytes go into ``BusDecoder.feed()``; ``next_message()``
returns one message, ``NEED_DATA``, or a ``DroppedPacket``. The decoder follows
what ``clusterReadHandler`` and ``clusterProcessPacket`` do in 7.0.15
(bus.md §1.8), in the same order:

1. With 8 bytes buffered, the signature must be ``RCmb`` and ``totlen`` at least
   2256, else the link is unusable: ``BusFramingError`` is raised (and raised again
   on every later call). The caller must close the link, as Redis does.
2. Wait for ``totlen`` bytes in all.
3. ``ver`` != 1: dropped silently (``DroppedPacket`` with ``log`` None); the link
   stays up.
4. The length the type implies must equal ``totlen`` exactly; ping extensions
   (only if EXT_DATA is set) must each be a multiple of 8 and fit. Otherwise a
   ``DroppedPacket`` carrying Redis's own warning text; the link stays up.
5. Unknown types (>= 11) pass with whatever ``totlen`` they have and decode to
   ``UnknownMessage``; the core logs "Received unknown packet type" and ignores
   them. Unknown extension types decode to ``UnknownExt``.

Deliberately weak / different from 7.0
--------------------------------------
Where 7.0's C code would read past the packet, we drop the packet instead
(``DropReason.MALFORMED_EXTENSION``): an extension shorter than its own 8-byte
header (7.0 accepts length 0 and loops on the same spot), a length that does not
fit in 16 bits (7.0 validates the truncated value but walks the full one), or an
extension header that starts beyond the gossip that overruns ``totlen``. A
PUBLISH/MODULE whose lengths overflow 32 bits is simply a length mismatch here
(7.0's arithmetic would wrap). When EXT_DATA is clear but ``extensions`` is not 0,
7.0 validates nothing and later walks garbage; we decode no extensions. There is
no size cap by default, like Redis; ``BusDecoder(max_message_size=...)`` adds one.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, replace
from typing import Literal

from .constants import CLUSTER_NAMELEN, CLUSTER_PROTO_VER, NET_IP_STR_LEN
from .messages import (
    CLUSTERMSG_TYPE_COUNT,
    Fail,
    FailoverAuthAck,
    FailoverAuthRequest,
    GossipEntry,
    HostnameExt,
    Meet,
    Message,
    MessageFlags,
    MessageHeader,
    MessageType,
    MFStart,
    Module,
    Ping,
    PingExt,
    Pong,
    Publish,
    PublishShard,
    UnknownExt,
    UnknownMessage,
    Update,
    message_type_log_name,
)
from .nodes import NodeFlags
from .slots import SLOT_BITMAP_BYTES, SlotBitmap

SIGNATURE = b"RCmb"

# sig totlen ver port type count currentEpoch configEpoch offset sender myslots
# slaveof myip extensions notused1 pport cport flags state mflags
_HEADER = struct.Struct(
    f">4sIHHHHQQQ{CLUSTER_NAMELEN}s{SLOT_BITMAP_BYTES}s{CLUSTER_NAMELEN}s{NET_IP_STR_LEN}sH30sHHHB3s"
)
HEADER_SIZE = _HEADER.size
"""``CLUSTERMSG_MIN_LEN``: 2256 bytes of header before the payload."""
assert HEADER_SIZE == 2256

# nodename ping_sent pong_received ip port cport flags pport notused1
_GOSSIP = struct.Struct(f">{CLUSTER_NAMELEN}sII{NET_IP_STR_LEN}sHHHHH")
GOSSIP_SIZE = _GOSSIP.size
assert GOSSIP_SIZE == 104

_EXT_HEADER = struct.Struct(">IHH")  # length (incl. this header), type, unused
_PUBLISH_HEADER = struct.Struct(">II")  # channel_len, message_len
_MODULE_HEADER = struct.Struct(">8sIB")  # module_id (raw, host order), len, type
_UPDATE = struct.Struct(f">Q{CLUSTER_NAMELEN}s{SLOT_BITMAP_BYTES}s")

FAIL_LEN = HEADER_SIZE + CLUSTER_NAMELEN  # 2296
UPDATE_LEN = HEADER_SIZE + _UPDATE.size  # 4352
PUBLISH_MIN_LEN = HEADER_SIZE + _PUBLISH_HEADER.size  # 2264
MODULE_MIN_LEN = HEADER_SIZE + _MODULE_HEADER.size  # 2269

_ZERO_NAME = bytes(CLUSTER_NAMELEN)
_PING_TYPES = (MessageType.PING, MessageType.PONG, MessageType.MEET)
_HEADER_ONLY_TYPES = (MessageType.FAILOVER_AUTH_REQUEST, MessageType.FAILOVER_AUTH_ACK, MessageType.MFSTART)
_PING_CLASSES: dict[int, type[Ping] | type[Pong] | type[Meet]] = {
    MessageType.PING: Ping,
    MessageType.PONG: Pong,
    MessageType.MEET: Meet,
}
_HEADER_ONLY_CLASSES: dict[int, type[FailoverAuthRequest] | type[FailoverAuthAck] | type[MFStart]] = {
    MessageType.FAILOVER_AUTH_REQUEST: FailoverAuthRequest,
    MessageType.FAILOVER_AUTH_ACK: FailoverAuthAck,
    MessageType.MFSTART: MFStart,
}


# ----------------------------------------------------------------------------
# Results and errors
# ----------------------------------------------------------------------------
class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData.NEED_DATA
"""``next_message()`` needs more bytes before it can return anything."""

NeedData = Literal[_NeedData.NEED_DATA]


class BusError(Exception):
    """Base class of the codec's exceptions."""


class BusFramingError(BusError):
    """The stream cannot be framed any more (bad signature or length): close the link.

    Redis logs "Bad message length or signature received from Cluster bus." and
    frees the link; ``log`` carries that line.
    """

    log = "Bad message length or signature received from Cluster bus."


class EncodeError(BusError, ValueError):
    """A message cannot be encoded (a field does not fit its wire size)."""


class DropReason(enum.Enum):
    BAD_VERSION = "bad_version"  # ver != 1: silently ignored
    BAD_LENGTH = "bad_length"  # totlen != length implied by the type
    EXT_PADDING = "ext_padding"  # extension length not a multiple of 8
    EXT_OVERRUN = "ext_overrun"  # extension longer than what is left of the packet
    MALFORMED_EXTENSION = "malformed_extension"  # our stricter check (see module docstring)


@dataclass(frozen=True, slots=True)
class DroppedPacket:
    """A complete packet that a 7.0 node would drop while keeping the link open.

    ``log`` is the WARNING line Redis writes for it (None when Redis is silent).
    """

    reason: DropReason
    message_type: int
    totlen: int
    expected_len: int | None
    log: str | None


# ----------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------
def _name_bytes(name: str, what: str) -> bytes:
    raw = _latin1(name, what)
    if len(raw) != CLUSTER_NAMELEN:
        raise EncodeError(f"{what} must be exactly {CLUSTER_NAMELEN} characters, got {len(raw)}")
    return raw


def _ip_bytes(ip: str, what: str) -> bytes:
    raw = _latin1(ip, what)
    if len(raw) >= NET_IP_STR_LEN:  # room for the terminating NUL
        raise EncodeError(f"{what} longer than {NET_IP_STR_LEN - 1} bytes")
    return raw  # struct pads with NULs


def _latin1(text: str, what: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{what} is not encodable as bytes: {text!r}") from exc


def _u(value: int, bits: int, what: str) -> int:
    if not 0 <= value < (1 << bits):
        raise EncodeError(f"{what}={value} does not fit in u{bits}")
    return value


def _encode_ext(ext: PingExt) -> bytes:
    if isinstance(ext, HostnameExt):
        raw = _latin1(ext.hostname, "hostname") + b"\0"
        raw += bytes(-len(raw) % 8)  # EIGHT_BYTE_ALIGN(strlen + 1)
        return _EXT_HEADER.pack(_EXT_HEADER.size + len(raw), ext.TYPE, 0) + raw
    length = _EXT_HEADER.size + len(ext.payload)
    if length % 8:
        raise EncodeError(f"extension length {length} is not a multiple of 8")
    return (
        _EXT_HEADER.pack(_u(length, 16, "extension length"), _u(ext.type, 16, "extension type"), 0)
        + ext.payload
    )


def _encode_gossip(g: GossipEntry) -> bytes:
    return _GOSSIP.pack(
        _name_bytes(g.nodename, "gossip nodename"),
        _u(g.ping_sent, 32, "gossip ping_sent"),
        _u(g.pong_received, 32, "gossip pong_received"),
        _ip_bytes(g.ip, "gossip ip"),
        _u(g.port, 16, "gossip port"),
        _u(g.cport, 16, "gossip cport"),
        _u(g.flags.value, 16, "gossip flags"),
        _u(g.pport, 16, "gossip pport"),
        0,
    )


def encode(message: Message) -> bytes:
    """Serialise ``message`` to the exact bytes a Redis 7.0 node would send.

    Raises ``EncodeError`` if a field does not fit (a name that is not 40
    characters, an IP of 46 bytes or more, a port above 65535...).
    """
    h = message.header
    mtype = message.type
    mflags = h.mflags
    count = 0
    n_ext = 0
    if isinstance(message, Ping | Pong | Meet):
        count = len(message.gossip)
        n_ext = len(message.extensions)
        payload = b"".join(
            [_encode_gossip(g) for g in message.gossip] + [_encode_ext(e) for e in message.extensions]
        )
        if n_ext:
            mflags |= MessageFlags.EXT_DATA
    elif isinstance(message, Fail):
        payload = _name_bytes(message.nodename, "FAIL nodename")
    elif isinstance(message, Publish | PublishShard):
        payload = (
            _PUBLISH_HEADER.pack(len(message.channel), len(message.message))
            + message.channel
            + message.message
        )
    elif isinstance(message, FailoverAuthRequest | FailoverAuthAck | MFStart):
        payload = b""
    elif isinstance(message, Update):
        payload = _UPDATE.pack(
            _u(message.config_epoch, 64, "UPDATE config_epoch"),
            _name_bytes(message.nodename, "UPDATE nodename"),
            message.slots.to_bytes(),
        )
    elif isinstance(message, Module):
        if len(message.module_id) != 8:
            raise EncodeError("module_id must be 8 bytes")
        payload = (
            _MODULE_HEADER.pack(
                message.module_id, len(message.payload), _u(message.module_type, 8, "module type")
            )
            + message.payload
        )
    elif isinstance(message, UnknownMessage):
        payload = message.data
    else:  # pragma: no cover - exhaustive over Message
        raise EncodeError(f"not a bus message: {message!r}")

    totlen = HEADER_SIZE + len(payload)
    header = _HEADER.pack(
        SIGNATURE,
        _u(totlen, 32, "totlen"),
        CLUSTER_PROTO_VER,
        _u(h.port, 16, "port"),
        _u(mtype, 16, "type"),
        _u(count, 16, "gossip count"),
        _u(h.current_epoch, 64, "current_epoch"),
        _u(h.config_epoch, 64, "config_epoch"),
        _u(h.offset, 64, "offset"),
        _name_bytes(h.sender, "sender"),
        h.myslots.to_bytes(),
        _ZERO_NAME if h.slaveof is None else _name_bytes(h.slaveof, "slaveof"),
        _ip_bytes(h.myip, "myip"),
        _u(n_ext, 16, "extensions"),
        b"",
        _u(h.pport, 16, "pport"),
        _u(h.cport, 16, "cport"),
        _u(h.flags.value, 16, "flags"),
        _u(int(h.state), 8, "state"),
        bytes([_u(mflags.value, 8, "mflags")]),
    )
    return header + payload


# ----------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------
def _cstr(raw: bytes) -> str:
    """A NUL-terminated (or NUL-padded) C string field, as text."""
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("latin-1")


def _decode_header(packet: bytes) -> MessageHeader:
    (
        _sig,
        _totlen,
        _ver,
        port,
        _type,
        _count,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots,
        slaveof,
        myip,
        _extensions,
        _notused1,
        pport,
        cport,
        flags,
        state,
        mflags,
    ) = _HEADER.unpack_from(packet)
    return MessageHeader(
        sender=sender.decode("latin-1"),
        port=port,
        cport=cport,
        pport=pport,
        current_epoch=current_epoch,
        config_epoch=config_epoch,
        offset=offset,
        myslots=SlotBitmap.from_bytes(myslots),
        slaveof=None if slaveof == _ZERO_NAME else slaveof.decode("latin-1"),
        myip=_cstr(myip),
        flags=NodeFlags(flags),
        state=state,
        mflags=MessageFlags(mflags[0]),
    )


def _check_length(packet: bytes) -> DroppedPacket | list[tuple[int, int]] | None:
    """7.0's clusterProcessPacket length checks.

    Returns a ``DroppedPacket``, or for PING/PONG/MEET with EXT_DATA the list of
    validated extension ``(offset, length)`` spans, or None when the packet is fine.
    """
    totlen = len(packet)
    mtype, count = struct.unpack_from(">HH", packet, 12)
    name = message_type_log_name(mtype)

    def bad_length(expected: int) -> DroppedPacket:
        return DroppedPacket(
            DropReason.BAD_LENGTH,
            mtype,
            totlen,
            expected,
            f"Received invalid {name} packet of length {totlen} but expected length {expected}",
        )

    spans: list[tuple[int, int]] | None = None
    if mtype in _PING_TYPES:
        explen = HEADER_SIZE + GOSSIP_SIZE * count
        (n_ext,) = struct.unpack_from(">H", packet, 2214)
        (mflags0,) = struct.unpack_from(">B", packet, 2253)
        if mflags0 & MessageFlags.EXT_DATA.value and explen <= totlen:
            spans = []
            for _ in range(n_ext):
                if totlen - explen < _EXT_HEADER.size:
                    # 7.0 would read the extension header beyond the packet.
                    return DroppedPacket(
                        DropReason.EXT_OVERRUN,
                        mtype,
                        totlen,
                        None,
                        f"Received invalid {name} packet with extension data that exceeds "
                        f"total packet length ({totlen})",
                    )
                (length,) = struct.unpack_from(">I", packet, explen)
                # 7.0 reads the u32 length into a u16 and checks that value, in this order.
                length16 = length & 0xFFFF
                if length16 % 8:
                    return DroppedPacket(
                        DropReason.EXT_PADDING,
                        mtype,
                        totlen,
                        None,
                        f"Received a {name} packet without proper padding ({length16} bytes)",
                    )
                if totlen - explen < length16:
                    return DroppedPacket(
                        DropReason.EXT_OVERRUN,
                        mtype,
                        totlen,
                        None,
                        f"Received invalid {name} packet with extension data that exceeds "
                        f"total packet length ({totlen})",
                    )
                if length != length16 or length < _EXT_HEADER.size:
                    # 7.0 would accept this and then walk the wrong bytes (a zero length
                    # loops on the same spot; a >16-bit one jumps past the check).
                    return DroppedPacket(
                        DropReason.MALFORMED_EXTENSION,
                        mtype,
                        totlen,
                        None,
                        f"Received a {name} packet with a malformed extension length ({length} bytes)",
                    )
                spans.append((explen, length))
                explen += length
    elif mtype == MessageType.FAIL:
        explen = FAIL_LEN
    elif mtype in (MessageType.PUBLISH, MessageType.PUBLISHSHARD):
        explen = PUBLISH_MIN_LEN
        if totlen >= PUBLISH_MIN_LEN:
            channel_len, message_len = _PUBLISH_HEADER.unpack_from(packet, HEADER_SIZE)
            explen += channel_len + message_len
    elif mtype in _HEADER_ONLY_TYPES:
        explen = HEADER_SIZE
    elif mtype == MessageType.UPDATE:
        explen = UPDATE_LEN
    elif mtype == MessageType.MODULE:
        explen = MODULE_MIN_LEN
        if totlen >= MODULE_MIN_LEN:
            (bulk_len,) = struct.unpack_from(">I", packet, HEADER_SIZE + 8)
            explen += bulk_len
    else:
        explen = totlen  # unknown type: "assume it's well formed"
    if explen != totlen:
        return bad_length(explen)
    return spans


def _decode_ext(packet: bytes, offset: int, length: int) -> PingExt:
    _length, ext_type, _unused = _EXT_HEADER.unpack_from(packet, offset)
    body = packet[offset + _EXT_HEADER.size : offset + length]
    if ext_type == HostnameExt.TYPE:
        return HostnameExt(_cstr(body))
    return UnknownExt(ext_type, body)


def _decode_body(packet: bytes, spans: list[tuple[int, int]] | None) -> Message:
    header = _decode_header(packet)
    (mtype,) = struct.unpack_from(">H", packet, 12)
    if mtype in _PING_TYPES:
        (count,) = struct.unpack_from(">H", packet, 14)
        gossip = []
        for i in range(count):
            name, ping_sent, pong_received, ip, port, cport, flags, pport, _ = _GOSSIP.unpack_from(
                packet, HEADER_SIZE + GOSSIP_SIZE * i
            )
            gossip.append(
                GossipEntry(
                    nodename=name.decode("latin-1"),
                    ping_sent=ping_sent,
                    pong_received=pong_received,
                    ip=_cstr(ip),
                    port=port,
                    cport=cport,
                    flags=NodeFlags(flags),
                    pport=pport,
                )
            )
        extensions = tuple(_decode_ext(packet, off, length) for off, length in spans or ())
        if extensions:
            # EXT_DATA is framing that ``encode`` derives from the extension list;
            # clearing it here makes decode(encode(m)) == m and encode(decode(b)) == b.
            header = replace(header, mflags=MessageFlags(header.mflags.value & ~MessageFlags.EXT_DATA.value))
        return _PING_CLASSES[mtype](header, tuple(gossip), extensions)
    if mtype == MessageType.FAIL:
        return Fail(header, packet[HEADER_SIZE:FAIL_LEN].decode("latin-1"))
    if mtype in (MessageType.PUBLISH, MessageType.PUBLISHSHARD):
        channel_len, _message_len = _PUBLISH_HEADER.unpack_from(packet, HEADER_SIZE)
        channel = packet[PUBLISH_MIN_LEN : PUBLISH_MIN_LEN + channel_len]
        body = packet[PUBLISH_MIN_LEN + channel_len :]
        cls = Publish if mtype == MessageType.PUBLISH else PublishShard
        return cls(header, channel, body)
    if mtype in _HEADER_ONLY_TYPES:
        return _HEADER_ONLY_CLASSES[mtype](header)
    if mtype == MessageType.UPDATE:
        config_epoch, name, slots = _UPDATE.unpack_from(packet, HEADER_SIZE)
        return Update(header, config_epoch, name.decode("latin-1"), SlotBitmap.from_bytes(slots))
    if mtype == MessageType.MODULE:
        module_id, _len, module_type = _MODULE_HEADER.unpack_from(packet, HEADER_SIZE)
        return Module(header, module_id, module_type, packet[MODULE_MIN_LEN:])
    assert mtype >= CLUSTERMSG_TYPE_COUNT
    return UnknownMessage(header, mtype, packet[HEADER_SIZE:])


def check_frame_start(first8: bytes) -> int:
    """Validate signature and ``totlen`` of a frame's first 8 bytes; return ``totlen``.

    Raises ``BusFramingError`` exactly when 7.0's read handler closes the link.
    """
    if first8[:4] != SIGNATURE:
        raise BusFramingError(f"bad signature {first8[:4]!r} (expected {SIGNATURE!r})")
    totlen: int = struct.unpack_from(">I", first8, 4)[0]
    if totlen < HEADER_SIZE:
        raise BusFramingError(f"bad message length {totlen} (minimum {HEADER_SIZE})")
    return totlen


def decode_packet(packet: bytes) -> Message | DroppedPacket:
    """Decode one complete packet (exactly ``totlen`` bytes).

    Returns the message, or a ``DroppedPacket`` for what 7.0 drops with the link
    kept. Raises ``BusFramingError`` for what makes 7.0 close the link, or if
    ``len(packet)`` is not the packet's ``totlen``.
    """
    packet = bytes(packet)
    if len(packet) < 8:
        raise BusFramingError(f"packet of {len(packet)} bytes is shorter than a frame start")
    totlen = check_frame_start(packet[:8])
    if totlen != len(packet):
        raise BusFramingError(f"totlen {totlen} does not match the {len(packet)} bytes given")
    (ver, mtype) = struct.unpack_from(">H2xH", packet, 8)
    if ver != CLUSTER_PROTO_VER:
        return DroppedPacket(DropReason.BAD_VERSION, mtype, totlen, None, None)
    checked = _check_length(packet)
    if isinstance(checked, DroppedPacket):
        return checked
    return _decode_body(packet, checked)


class BusDecoder:
    """Sans-IO decoder for one bus link.

    Usage (in ``bus.py``)::

        decoder.feed(data)
        while (item := decoder.next_message()) is not NEED_DATA:
            if isinstance(item, DroppedPacket): log(item.log)   # link stays up
            else: handle(item)
        # BusFramingError from next_message(): close the link.

    On EOF, ``in_partial_frame`` tells a clean close (False) from a truncated frame.
    """

    def __init__(self, max_message_size: int | None = None) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        self._error: BusFramingError | None = None

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._error is None:
            self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buf)

    @property
    def in_partial_frame(self) -> bool:
        """True if a frame has started but is not complete (a truncated stream on EOF)."""
        return bool(self._buf)

    @property
    def failed(self) -> bool:
        """True once a framing error happened: the link must be closed."""
        return self._error is not None

    def next_message(self) -> Message | DroppedPacket | NeedData:
        """Return the next message, a ``DroppedPacket``, or ``NEED_DATA``.

        Raises ``BusFramingError`` (now and on every later call) when the stream
        cannot be framed: bad signature, ``totlen`` < 2256, or over the size cap.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        if len(buf) < 8:
            return NEED_DATA
        try:
            totlen = check_frame_start(bytes(buf[:8]))
            if self._max is not None and totlen > self._max:
                raise BusFramingError(f"message length {totlen} exceeds the cap of {self._max}")
        except BusFramingError as exc:
            self._error = exc
            self._buf = bytearray()
            raise
        if len(buf) < totlen:
            return NEED_DATA
        packet = bytes(buf[:totlen])
        del buf[:totlen]
        return decode_packet(packet)
