"""Pub/sub state: who listens to which channel or pattern, and delivering messages.

Theory of operation
-------------------
Three tables map a name to its subscribers, in subscription order (a dict used as an
ordered set, so delivery order is the order clients subscribed, as with Redis's
per-channel client lists):

* ``channels``: classic channels (SUBSCRIBE / PUBLISH);
* ``patterns``: glob patterns (PSUBSCRIBE), matched against every published channel
  with :func:`glob_match`;
* ``shard_channels``: Redis 7.0's sharded channels (SSUBSCRIBE / SPUBLISH). They never
  see patterns, and a client's count of them is separate from its channels+patterns
  count. (Node-local for now; in cluster mode they belong to the slot of the channel.)

Each client keeps the mirror image (``c.channels``, ``c.patterns``,
``c.shard_channels``: ordered dicts used as sets) so that unsubscribing from
everything and forgetting a client are cheap.

Every (un)subscription is confirmed to the client with a push of three elements
(kind, name, the client's running count): an array in RESP2, a ``>`` push frame in
RESP3. Confirmations and messages are pushes: they ignore CLIENT REPLY OFF/SKIP, as
Redis's ``CLIENT_PUSHING`` flag makes them do. A mass unsubscribe with nothing to
unsubscribe from still confirms once, with a null name.

Classic pub/sub is node-local in a standalone server; in cluster mode PUBLISH is also
broadcast on the bus (the cluster layer calls :meth:`PubSub.publish` on receipt).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..protocol.encoder import Push

if TYPE_CHECKING:
    from .client import Client


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """Redis's ``stringmatchlen``: ``*`` ``?`` ``[...]`` (ranges, ``^``), backslash escapes.

    Quirks kept on purpose, because clients see them: an empty subject only matches an
    empty pattern (so ``*`` does not match the empty key; KEYS and SCAN special-case a
    bare ``*`` before calling this); an unterminated ``[`` class runs to the end of the
    pattern; ``[a-]`` is a range up to ``]``; range bounds compare as C's *signed* chars.

    Each token but ``*`` matches exactly one byte, so the classic greedy algorithm
    (on a mismatch, let the last ``*`` swallow one more byte) decides the same thing
    as Redis's recursion, in O(len(pattern) * len(subject)) at worst and without
    recursion, so patterns like ``a*a*a*...b`` cannot blow up.
    """
    if not subject:
        return not pattern
    class_nocase = False
    if nocase:
        if b"[" in pattern:
            class_nocase = True  # classes fold case their own way: see _match_token
        else:
            pattern, subject = pattern.lower(), subject.lower()
    if not _GLOB_SPECIAL.search(pattern):
        return pattern == subject
    plen, slen = len(pattern), len(subject)
    pi = si = 0
    resume_pi = -1  # pattern position just after the last '*' seen
    resume_si = 0  # where that '*' stopped swallowing
    while si < slen:
        if pi < plen and pattern[pi] == 42:  # '*'
            while pi < plen and pattern[pi] == 42:
                pi += 1
            if pi == plen:
                return True
            resume_pi, resume_si = pi, si
            continue
        if pi < plen:
            matched, next_pi = _match_token(pattern, pi, subject[si], class_nocase)
            if matched:
                pi = next_pi
                si += 1
                continue
        if resume_pi < 0:
            return False
        resume_si += 1
        pi, si = resume_pi, resume_si
    while pi < plen and pattern[pi] == 42:
        pi += 1
    return pi == plen


_GLOB_SPECIAL = re.compile(rb"[*?\[\\]")


def _signed_char(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _fold(byte: int) -> int:
    """C's tolower() in the C locale: only A-Z change."""
    return byte + 32 if 65 <= byte <= 90 else byte


def _match_token(p: bytes, pi: int, ch: int, nocase: bool = False) -> tuple[bool, int]:
    """Match one non-``*`` pattern token at ``p[pi]`` against byte ``ch``.

    Returns (matched, position of the next token). ``nocase`` follows Redis exactly,
    quirks included: a range's bounds are folded *after* being put in order (so
    ``[Z-a]`` matches nothing), and an escaped byte inside a class is compared as is.
    (Without classes, the caller folds the whole pattern and subject instead.)
    """
    plen = len(p)
    c = p[pi]
    fold = _fold if nocase else int
    if c == 63:  # '?'
        return True, pi + 1
    if c == 92:  # backslash: the next byte literally (a trailing backslash is itself)
        if pi + 1 < plen:
            return fold(p[pi + 1]) == fold(ch), pi + 2
        return fold(ch) == 92, pi + 1
    if c != 91:  # '['
        return fold(c) == fold(ch), pi + 1
    pi += 1
    negate = pi < plen and p[pi] == 94  # '^'
    if negate:
        pi += 1
    matched = False
    while True:
        if pi < plen and p[pi] == 92 and plen - pi >= 2:
            pi += 1
            if p[pi] == ch:
                matched = True
        elif pi < plen and p[pi] == 93:  # ']'
            break
        elif pi >= plen:  # unterminated: the class ends with the pattern
            pi -= 1
            break
        elif plen - pi >= 3 and p[pi + 1] == 45:  # a range 'x-y'
            low, high, value = _signed_char(p[pi]), _signed_char(p[pi + 2]), _signed_char(ch)
            if low > high:
                low, high = high, low
            if nocase:  # folding a negative (signed) char leaves it alone, as tolower does
                low, high, value = _fold(low), _fold(high), _fold(value)
            pi += 2
            if low <= value <= high:
                matched = True
        elif fold(p[pi]) == fold(ch):
            matched = True
        pi += 1
    return matched != negate, pi + 1


class PubSub:
    """The node's subscription tables; every change is confirmed to the client."""

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Client, None]] = {}
        self.patterns: dict[bytes, dict[Client, None]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, c: Client, channel: bytes) -> None:
        _add(self.channels, c.channels, c, channel)
        c.push(Push([b"subscribe", channel, len(c.channels) + len(c.patterns)]))

    def psubscribe(self, c: Client, pattern: bytes) -> None:
        _add(self.patterns, c.patterns, c, pattern)
        c.push(Push([b"psubscribe", pattern, len(c.channels) + len(c.patterns)]))

    def ssubscribe(self, c: Client, channel: bytes) -> None:
        _add(self.shard_channels, c.shard_channels, c, channel)
        c.push(Push([b"ssubscribe", channel, len(c.shard_channels)]))

    # -- unsubscribing -----------------------------------------------------------------------

    def unsubscribe(self, c: Client, channels: list[bytes]) -> None:
        """UNSUBSCRIBE: the given channels, or all of them when none is given."""
        for channel in channels or list(c.channels) or [None]:
            if channel is not None:
                _remove(self.channels, c.channels, c, channel)
            c.push(Push([b"unsubscribe", channel, len(c.channels) + len(c.patterns)]))

    def punsubscribe(self, c: Client, patterns: list[bytes]) -> None:
        for pattern in patterns or list(c.patterns) or [None]:
            if pattern is not None:
                _remove(self.patterns, c.patterns, c, pattern)
            c.push(Push([b"punsubscribe", pattern, len(c.channels) + len(c.patterns)]))

    def sunsubscribe(self, c: Client, channels: list[bytes]) -> None:
        for channel in channels or list(c.shard_channels) or [None]:
            if channel is not None:
                _remove(self.shard_channels, c.shard_channels, c, channel)
            c.push(Push([b"sunsubscribe", channel, len(c.shard_channels)]))

    def forget(self, c: Client) -> None:
        """Drop every subscription of ``c`` silently (RESET, disconnect)."""
        for table, names in (
            (self.channels, c.channels),
            (self.patterns, c.patterns),
            (self.shard_channels, c.shard_channels),
        ):
            for name in list(names):
                _remove(table, names, c, name)

    # -- publishing --------------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel subscribers then pattern subscribers; return receivers."""
        receivers = 0
        subscribers = self.channels.get(channel)
        if subscribers:
            push = Push([b"message", channel, message])
            for client in list(subscribers):
                client.push(push)
            receivers = len(subscribers)
        if self.patterns:
            for pattern, clients in list(self.patterns.items()):
                if glob_match(pattern, channel):
                    push = Push([b"pmessage", pattern, channel, message])
                    for client in list(clients):
                        client.push(push)
                        receivers += 1
        return receivers

    def publish_shard(self, channel: bytes, message: bytes) -> int:
        """SPUBLISH: shard channels only (patterns never see sharded messages)."""
        subscribers = self.shard_channels.get(channel)
        if not subscribers:
            return 0
        push = Push([b"smessage", channel, message])
        for client in list(subscribers):
            client.push(push)
        return len(subscribers)

    # -- introspection -----------------------------------------------------------------------

    @staticmethod
    def matching(table: dict[bytes, dict[Client, None]], pattern: bytes | None) -> list[bytes]:
        """Active names of ``table`` (PUBSUB CHANNELS / SHARDCHANNELS), optionally filtered."""
        if pattern is None:
            return list(table)
        return [name for name in table if glob_match(pattern, name)]


def _add(table: dict[bytes, dict[Client, None]], names: dict[bytes, None], c: Client, name: bytes) -> None:
    if name not in names:
        names[name] = None
        table.setdefault(name, {})[c] = None


def _remove(table: dict[bytes, dict[Client, None]], names: dict[bytes, None], c: Client, name: bytes) -> None:
    if name in names:
        del names[name]
        subscribers = table.get(name)
        if subscribers is not None:
            subscribers.pop(c, None)
            if not subscribers:
                del table[name]
