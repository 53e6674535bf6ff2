"""Sans-IO parser for client requests (RESP multibulk and inline commands).

Theory of operation
-------------------
A client sends commands in one of two shapes:

* **multibulk**: ``*<argc>\\r\\n`` then ``argc`` bulk strings ``$<len>\\r\\n<bytes>\\r\\n``;
  this is what every client library sends.
* **inline**: one line of space-separated words (``PING\\r\\n``), with shell-like
  quoting, so that ``nc`` and ``telnet`` work.

The first byte of each request decides its shape, exactly as Redis does. The parser
never touches a socket: the connection calls :meth:`RequestParser.feed` with whatever
bytes arrived, then :meth:`RequestParser.next_command` until it returns ``None``
(more data needed). A request split across any number of reads parses the same as one
that arrived whole.

Redis's limits are enforced here, with Redis's exact error texts (``Protocol error:
...``); on such an error the connection replies ``-ERR <text>`` and closes, as Redis does.
Unauthenticated clients get the tighter limits Redis applies before AUTH.

Two consequences of Redis's C implementation are reproduced because clients can see them:

* Redis looks for the end of a line with ``strchr``, which stops at a NUL byte. A NUL
  before the line's ``\n`` (inline) or ``\r`` (``*``/``$`` count lines) hides the end of
  the line: the request never completes, and once more than 64 KB are buffered the
  client gets "too big ..." and is disconnected.
* Redis applies the 64 KB line limit after each read from the socket, and reads 16 KB at
  a time (``PROTO_IOBUF_LEN``). A line longer than 64 KB is therefore refused only if a
  read ended after 64 KB of it without its end in sight: lines up to 80 KB can pass
  when they arrive in one burst. We cannot see Redis's reads, so we model them: the
  bytes of each :meth:`RequestParser.feed` are taken as consecutive 16 KB reads, and
  the end of a feed as the end of a read. With one burst from a fresh connection this
  gives Redis's answer exactly; otherwise the outcome depends on packet timing for
  Redis too.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Longest line (inline request, or a ``*``/``$`` count line) Redis buffers before giving up.
PROTO_INLINE_MAX_SIZE = 64 * 1024
#: Largest multibulk count accepted from a client that has not authenticated yet.
UNAUTHENTICATED_MAX_MULTIBULK = 10
#: Largest bulk length accepted from a client that has not authenticated yet.
UNAUTHENTICATED_MAX_BULK = 16384
#: How much Redis reads from a client socket at a time (``PROTO_IOBUF_LEN``).
PROTO_IOBUF_LEN = 16 * 1024
#: Default for the ``proto-max-bulk-len`` option (512 MB).
DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
_INT_MAX = 2**31 - 1
_C_SPACE = b" \t\n\r\x0b\x0c"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = {110: 10, 114: 13, 116: 9, 98: 8, 97: 7}  # n r t b a


class ProtocolError(Exception):
    """A request Redis would refuse; ``str(err)`` is the text after ``-ERR ``.

    The text may carry one byte of the request as a character from U+0000 to U+00FF
    (``expected '$', got 'x'``): encode it with latin-1 to get Redis's exact bytes.
    """


def _error_char(byte: int) -> str:
    """A request byte quoted in an error: Redis writes it raw, but CR and LF as spaces."""
    return " " if byte in (10, 13) else chr(byte)


def strict_int(data: bytes) -> int | None:
    """Parse a 64-bit signed integer the way Redis's ``string2ll`` does, or return None.

    No spaces, no ``+`` sign, no leading zeros, no overflow: Redis is strict so that
    a number has exactly one spelling.
    """
    n = len(data)
    if n == 0 or n > 20:
        return None
    if data == b"0":
        return 0
    start = 1 if data[0] == 45 else 0  # '-'
    if start == n or not (49 <= data[start] <= 57):  # first digit 1-9
        return None
    if not data[start:].isdigit() or not data.isascii():
        return None
    value = int(data)
    if not (-(2**63) <= value <= 2**63 - 1):
        return None
    return value


def split_inline_args(line: bytes) -> list[bytes] | None:
    """Split an inline request into words like Redis's ``sdssplitargs``; None on bad quoting.

    Double quotes understand ``\\xHH``, ``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\a`` and
    ``\\<any>``; single quotes understand only ``\\'``. A quote may open in the middle
    of a word, and a closing quote must be followed by a space or the end of the line.
    A NUL byte ends the line (Redis reads it as a C string).
    """
    nul = line.find(b"\x00")
    if nul != -1:
        line = line[:nul]
    words: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _C_SPACE:
            i += 1
        if i >= n:
            return words
        word = bytearray()
        quote = 0  # 0 outside quotes, else the quote character that is open
        while True:
            if i >= n:
                if quote:
                    return None  # unterminated quotes
                break
            c = line[i]
            if quote == 34:  # inside "double quotes"
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    word.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    word.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                else:
                    word.append(c)
            elif quote == 39:  # inside 'single quotes'
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    word.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                else:
                    word.append(c)
            elif c in b" \n\r\t":
                break
            elif c == 34 or c == 39:
                quote = c
            else:
                word.append(c)
            i += 1
        words.append(bytes(word))


class RequestParser:
    """Incremental parser of client requests.

    ``feed()`` appends bytes; ``next_command()`` returns the next complete command as a
    list of byte strings, ``None`` when more bytes are needed, and raises
    :class:`ProtocolError` for input Redis would reject. Empty requests (``*0``, blank
    inline lines) are skipped silently, as Redis does.
    """

    __slots__ = ("_buf", "_pos", "_argc", "_args", "_fed_from", "authenticated", "max_bulk_len")

    def __init__(self, max_bulk_len: int = DEFAULT_PROTO_MAX_BULK_LEN, authenticated: bool = True) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._argc = 0  # arguments still expected by the multibulk request in progress
        self._args: list[bytes] = []
        self._fed_from = 0  # where the bytes of the last feed() start in _buf
        self.authenticated = authenticated
        self.max_bulk_len = max_bulk_len

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._fed_from = len(self._buf)
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed (the query buffer's length)."""
        return len(self._buf) - self._pos

    def has_partial_request(self) -> bool:
        return self._argc > 0 or self.buffered > 0

    def next_command(self) -> list[bytes] | None:
        while True:
            buf, pos = self._buf, self._pos
            if self._argc == 0:
                if pos >= len(buf):
                    self._compact()
                    return None
                if buf[pos] != 42:  # not '*': an inline request
                    command = self._parse_inline()
                    if command is None:
                        return None
                    if command:
                        return command
                    continue
                if not self._start_multibulk():
                    return None
                if self._argc == 0:
                    continue  # '*0' or negative: an empty request, skipped
            command = self._parse_bulks()
            if command is None:
                return None
            return command

    def commands(self) -> Iterable[list[bytes]]:
        while (command := self.next_command()) is not None:
            yield command

    # -- internals -------------------------------------------------------------

    def _compact(self) -> None:
        if self._pos > 65536 or self._pos == len(self._buf):
            del self._buf[: self._pos]
            self._fed_from = max(0, self._fed_from - self._pos)
            self._pos = 0

    def _line_refused(self, pos: int, end: int) -> bool:
        """True if Redis would have refused the line at ``pos`` before seeing its end at ``end``.

        That happens when one of its 16 KB reads ended more than 64 KB into the line with
        ``end`` not read yet (see the module docstring for the model of the reads).
        """
        limit = pos + PROTO_INLINE_MAX_SIZE  # a read must end beyond this for a refusal
        if end <= limit:
            return False
        first = self._fed_from
        if first > limit:  # the previous feed already ended past the limit
            return first <= end
        boundary = first + ((limit - first) // PROTO_IOBUF_LEN + 1) * PROTO_IOBUF_LEN
        return boundary <= end

    def _wait_for_line(self, pos: int, too_big: str) -> bool:
        """No end of line (yet): refuse once more than 64 KB wait, else ask for more bytes."""
        if len(self._buf) - pos > PROTO_INLINE_MAX_SIZE:
            raise ProtocolError("Protocol error: " + too_big)
        return False

    def _has_nul(self, pos: int, end: int) -> bool:
        """A NUL in ``[pos, end)`` hides ``end`` from Redis's ``strchr``."""
        return self._buf.find(b"\x00", pos, end) != -1

    def _parse_inline(self) -> list[bytes] | None:
        buf, pos = self._buf, self._pos
        newline = buf.find(b"\n", pos)
        if newline == -1 or self._has_nul(pos, newline):
            self._wait_for_line(pos, "too big inline request")
            return None
        if self._line_refused(pos, newline):
            raise ProtocolError("Protocol error: too big inline request")
        end = newline - 1 if newline > pos and buf[newline - 1] == 13 else newline
        line = bytes(buf[pos:end])
        self._pos = newline + 1
        words = split_inline_args(line)
        if words is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        return words

    def _start_multibulk(self) -> bool:
        buf, pos = self._buf, self._pos
        cr = buf.find(b"\r", pos)
        if cr == -1 or self._has_nul(pos, cr):
            return self._wait_for_line(pos, "too big mbulk count string")
        if self._line_refused(pos, cr):
            raise ProtocolError("Protocol error: too big mbulk count string")
        if cr + 1 >= len(buf):
            return False  # Redis wants one more byte (the \n it then skips unchecked)
        count = strict_int(bytes(buf[pos + 1 : cr]))
        if count is None or count > _INT_MAX:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if count > UNAUTHENTICATED_MAX_MULTIBULK and not self.authenticated:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        self._pos = cr + 2
        self._argc = max(count, 0)
        self._args = []
        return True

    def _parse_bulks(self) -> list[bytes] | None:
        buf = self._buf
        args = self._args
        pos = self._pos
        size = len(buf)
        while self._argc:
            cr = buf.find(b"\r", pos)
            if cr != -1 and cr + 1 < size and buf[pos] == 36:  # '$': the common case
                length = strict_int(bytes(buf[pos + 1 : cr]))
            else:
                length = None
            if length is None:
                # The slow path, where Redis's checks come in its order.
                self._pos = pos
                if cr == -1 or self._has_nul(pos, cr):
                    self._wait_for_line(pos, "too big bulk count string")
                    return None
                if self._line_refused(pos, cr):
                    raise ProtocolError("Protocol error: too big bulk count string")
                if cr + 1 >= size:
                    return None
                if buf[pos] != 36:
                    raise ProtocolError(f"Protocol error: expected '$', got '{_error_char(buf[pos])}'")
                raise ProtocolError("Protocol error: invalid bulk length")
            if length < 0 or length > self.max_bulk_len:
                raise ProtocolError("Protocol error: invalid bulk length")
            if length > UNAUTHENTICATED_MAX_BULK and not self.authenticated:
                raise ProtocolError("Protocol error: unauthenticated bulk length")
            start = cr + 2
            if start + length + 2 > size:
                self._pos = pos
                return None
            args.append(bytes(buf[start : start + length]))
            pos = start + length + 2
            self._argc -= 1
        self._pos = pos
        self._args = []
        self._compact()
        return args
