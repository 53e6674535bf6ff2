"""Pub/sub state: who listens to which channel or pattern, and delivering messages.

Classic pub/sub is node-local in a standalone server; in cluster mode PUBLISH is also
broadcast on the bus (the cluster layer calls :meth:`PubSub.publish` on receipt).
Sharded channels (SSUBSCRIBE/SPUBLISH) live in their own table, as in Redis 7.0.
Messages are ``Push`` replies, so a RESP3 client gets ``>`` frames and a RESP2 client
the classic arrays.
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
    if nocase:
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
            matched, next_pi = _match_token(pattern, pi, subject[si])
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


def _match_token(p: bytes, pi: int, ch: int) -> tuple[bool, int]:
    """Match one non-``*`` pattern token at ``p[pi]`` against byte ``ch``.

    Returns (matched, position of the next token).
    """
    plen = len(p)
    c = p[pi]
    if c == 63:  # '?'
        return True, pi + 1
    if c == 92:  # backslash: the next byte literally (a trailing backslash is itself)
        if pi + 1 < plen:
            return p[pi + 1] == ch, pi + 2
        return ch == 92, pi + 1
    if c != 91:  # '['
        return c == ch, pi + 1
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
            pi += 2
            if low <= value <= high:
                matched = True
        elif p[pi] == ch:
            matched = True
        pi += 1
    return matched != negate, pi + 1


class PubSub:
    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Client, None]] = {}
        self.patterns: dict[bytes, dict[Client, None]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel subscribers then pattern subscribers; return receivers."""
        receivers = 0
        for client in list(self.channels.get(channel, ())):
            client.push(Push([b"message", channel, message]))
            receivers += 1
        for pattern, clients in list(self.patterns.items()):
            if glob_match(pattern, channel):
                for client in list(clients):
                    client.push(Push([b"pmessage", pattern, channel, message]))
                    receivers += 1
        return receivers

    def publish_shard(self, channel: bytes, message: bytes) -> int:
        receivers = 0
        for client in list(self.shard_channels.get(channel, ())):
            client.push(Push([b"smessage", channel, message]))
            receivers += 1
        return receivers

