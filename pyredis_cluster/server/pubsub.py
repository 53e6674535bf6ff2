"""Pub/sub state: who listens to which channel or pattern, and delivering messages.

Classic pub/sub is node-local in a standalone server; in cluster mode PUBLISH is also
broadcast on the bus (the cluster layer calls :meth:`PubSub.publish` on receipt).
Sharded channels (SSUBSCRIBE/SPUBLISH) live in their own table, as in Redis 7.0.
Messages are ``Push`` replies, so a RESP3 client gets ``>`` frames and a RESP2 client
the classic arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol.encoder import Push

if TYPE_CHECKING:
    from .client import Client


def glob_match(pattern: bytes, subject: bytes) -> bool:
    """Redis's stringmatchlen: * ? [...] with ranges and ^ negation, backslash escapes."""
    return _glob(pattern, 0, subject, 0)


def _glob(p: bytes, pi: int, s: bytes, si: int) -> bool:
    plen, slen = len(p), len(s)
    while pi < plen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return True
            return any(_glob(p, pi + 1, s, start) for start in range(si, slen + 1))
        if si >= slen:
            return False
        if c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 94
            if negate:
                pi += 1
            matched = False
            while pi < plen and p[pi] != 93:
                if p[pi] == 92 and pi + 1 < plen:
                    pi += 1
                    if p[pi] == s[si]:
                        matched = True
                elif pi + 2 < plen and p[pi + 1] == 45:
                    low, high = p[pi], p[pi + 2]
                    if low > high:
                        low, high = high, low
                    if low <= s[si] <= high:
                        matched = True
                    pi += 2
                elif p[pi] == s[si]:
                    matched = True
                pi += 1
            if pi >= plen:
                pi -= 1  # unterminated class: Redis treats the end as the class end
            if matched == negate:
                return False
            si += 1
        elif c == 92 and pi + 1 < plen:  # backslash escape
            pi += 1
            if p[pi] != s[si]:
                return False
            si += 1
        else:
            if c != s[si]:
                return False
            si += 1
        pi += 1
    return si == slen


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

