"""A request parser that uses hiredis's C reader when it is safe, and ours otherwise.

Theory of operation
-------------------
Parsing requests is the largest cost of a pure-Python server under pipelined load,
and hiredis (a C extension) parses RESP arrays of bulk strings much faster. But
hiredis reads *replies*: it also accepts shapes a Redis server refuses in a request
(``+status`` elements, RESP3 sets, maps, pushes...), and it knows nothing of inline
commands or Redis's request limits. So hiredis is used only where its answer is
provably the one :class:`~.parser.RequestParser` would give:

* the client has authenticated (unauthenticated clients have tighter limits);
* nothing is half-parsed by the reference parser;
* the bytes start with ``*`` and contain no line starting with a type byte that
  hiredis would turn into bytes or a list without it being a bulk request
  (``+ = ~ > % |``): one regex scan, in C;
* hiredis parses every complete request into a list of ``bytes``, without a
  protocol error.

If any check fails, the same bytes go to the reference parser, which gives Redis's
exact behaviour and error texts. A request cut at the end of a read is not kept
inside hiredis: its bytes are kept and parsed again, whole, with the next read, so
hiredis never holds state we might need to hand back.

Without hiredis installed, :func:`make_request_parser` returns the reference parser.
"""

from __future__ import annotations

import re
from collections import deque

from .parser import DEFAULT_PROTO_MAX_BULK_LEN, PROTO_INLINE_MAX_SIZE, ProtocolError, RequestParser

try:
    import hiredis
except ImportError:  # the reference parser is always there
    hiredis = None

#: A line that hiredis could read as something other than a bulk string in a request
#: (_UNSAFE_TYPE_LINE), or an array count of 100000 or more anywhere (_HUGE_COUNT):
#: hiredis allocates a list of that size as soon as it reads the count, so
#: '*2000000000' would make it try to allocate 16 GB (a request that big goes to the
#: reference parser, which refuses or waits). Two patterns searched one after the
#: other, not one alternation: each starts with a literal the regex engine finds with
#: a fast scan, whereas an alternation is tried at every byte (3x slower on a
#: pipeline of small requests); "either matches" is exactly "the alternation matches".
_UNSAFE_TYPE_LINE = re.compile(rb"\r\n[+=~>%|]")
_HUGE_COUNT = re.compile(rb"\*[0-9]{6}")


def make_request_parser(
    max_bulk_len: int = DEFAULT_PROTO_MAX_BULK_LEN, authenticated: bool = True
) -> RequestParser | FastRequestParser:
    """The fastest request parser available (hiredis-assisted when installed)."""
    if hiredis is None:
        return RequestParser(max_bulk_len, authenticated)
    return FastRequestParser(max_bulk_len, authenticated)


def _encoded_size(command: list[bytes]) -> int:
    """Bytes of a request in canonical multibulk form (what hiredis consumed for it)."""
    size = len(b"*%d\r\n" % len(command))
    for arg in command:
        size += len(b"$%d\r\n" % len(arg)) + len(arg) + 2
    return size


class FastRequestParser:
    """Same interface as :class:`RequestParser`; hiredis on the common path."""

    __slots__ = ("_slow", "_slow_fed", "_ready", "_pending", "_reader")

    def __init__(self, max_bulk_len: int = DEFAULT_PROTO_MAX_BULK_LEN, authenticated: bool = True) -> None:
        self._slow = RequestParser(max_bulk_len, authenticated)
        #: False while the reference parser holds no byte (so it would answer None and
        #: has no partial request): lets the hiredis path skip asking it, once per read.
        self._slow_fed = False
        self._ready: deque[list[bytes]] = deque()
        self._pending = b""  # the start of a request cut at the end of the last read
        #: A hiredis reader known to be empty (it ended the last read at a request
        #: boundary), reused rather than made again for every read; None otherwise.
        self._reader: hiredis.Reader | None = None

    @property
    def authenticated(self) -> bool:
        return self._slow.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._slow.authenticated = value

    @property
    def max_bulk_len(self) -> int:
        return self._slow.max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value: int) -> None:
        self._slow.max_bulk_len = value

    @property
    def buffered(self) -> int:
        return len(self._pending) + (self._slow.buffered if self._slow_fed else 0)

    def has_partial_request(self) -> bool:
        return bool(self._pending or self._ready) or (self._slow_fed and self._slow.has_partial_request())

    def _feed_slow(self, data: bytes) -> None:
        self._slow_fed = True
        self._slow.feed(data)

    def feed(self, data: bytes) -> None:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        slow = self._slow
        if (
            not slow.authenticated
            or (self._slow_fed and slow.has_partial_request())
            or data[:1] != b"*"
            or len(data) >= slow.max_bulk_len
            or _UNSAFE_TYPE_LINE.search(data) is not None
            or _HUGE_COUNT.search(data) is not None
        ):
            self._feed_slow(data)
            return
        reader = self._reader or hiredis.Reader()
        self._reader = None  # until it is known to be empty again
        reader.feed(data)
        parsed: list[list[bytes]] = []
        try:
            while (command := reader.gets()) is not False:
                if type(command) is not list:
                    raise ValueError
                for arg in command:
                    if type(arg) is not bytes:
                        raise ValueError
                parsed.append(command)
        except (ValueError, hiredis.ProtocolError):
            self._feed_slow(data)
            return
        # Did the bytes end exactly after a request? hiredis keeps a half-read request
        # inside itself and has_data() cannot tell, so ask it: an empty request fed now
        # comes back as a top-level [] only if nothing was half-read (inside an array it
        # would become an element; inside a bulk or a header, bytes or an error).
        reader.feed(b"*0\r\n")
        try:
            at_boundary = reader.gets() == []
        except hiredis.ProtocolError:
            at_boundary = False
        if at_boundary:
            self._reader = reader  # it has read everything it was given, the probe too
        else:
            # Rare: a request was cut by the read. Count what the complete ones used;
            # the rest is kept for the next read.
            consumed = sum(_encoded_size(command) for command in parsed)
            self._pending = data[consumed:]
            if len(self._pending) > PROTO_INLINE_MAX_SIZE or self._refused_so_far(self._pending):
                # A big request in flight, or one whose start Redis already refuses
                # (hiredis waits for '*3000000000' to complete, Redis answers at once):
                # let the reference parser buffer it and enforce the limits as it grows.
                self._feed_slow(self._pending)
                self._pending = b""
        self._ready.extend(filter(None, parsed))  # '*0' (an empty list) is skipped, as Redis does

    def _refused_so_far(self, partial: bytes) -> bool:
        """True if the reference parser would not simply wait for the rest of ``partial``."""
        scratch = RequestParser(self._slow.max_bulk_len, self._slow.authenticated)
        scratch.feed(partial)
        try:
            return scratch.next_command() is not None
        except ProtocolError:
            return True

    def next_command(self) -> list[bytes] | None:
        if self._ready:
            return self._ready.popleft()
        if not self._slow_fed:
            return None  # what the reference parser answers when it holds nothing
        command = self._slow.next_command()
        if command is None and not self._slow.has_partial_request():
            self._slow_fed = False  # it consumed (and let go of) every byte it was fed
        return command
