"""Argument parsing helpers shared by every command module.

Numbers are parsed with Redis's strictness (no spaces, no ``+`` for integers, no
leading zeros...) and errors use Redis's texts. :class:`ArgCursor` walks optional
arguments (``SET k v NX EX 10 GET``) so handlers do not juggle indexes.
"""

from __future__ import annotations

import math

from ..protocol.parser import strict_int
from . import errors
from .errors import CommandError

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def parse_int(arg: bytes, error: str = errors.NOT_INTEGER) -> int:
    """A 64-bit signed integer, as Redis's getLongLongFromObject; CommandError otherwise."""
    value = strict_int(arg)
    if value is None:
        raise CommandError(error)
    return value


def parse_int_range(arg: bytes, low: int, high: int, error: str = errors.NOT_INTEGER) -> int:
    value = parse_int(arg, error)
    if not low <= value <= high:
        raise CommandError(error)
    return value


def parse_float(arg: bytes, error: str = errors.NOT_FLOAT) -> float:
    """A double as Redis's getDoubleFromObject (strtod, whole string, no NaN, no spaces)."""
    value = float_or_none(arg)
    if value is None:
        raise CommandError(error)
    return value


def float_or_none(arg: bytes) -> float | None:
    """strtod over the whole argument, refusing NaN and surrounding spaces, like Redis."""
    if not arg or arg[:1].isspace() or arg[-1:].isspace() or len(arg) > 5000:
        return None
    try:
        text = arg.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "_" in text:  # Python's float() accepts digit separators; strtod does not
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            value = float.fromhex(text)  # strtod reads hex floats such as 0x1p3
        except ValueError:
            return None
    return None if math.isnan(value) else value


class ArgCursor:
    """Walk a command's arguments from ``start``: ``while cur: word = cur.keyword()``."""

    __slots__ = ("args", "pos")

    def __init__(self, args: list[bytes], start: int) -> None:
        self.args = args
        self.pos = start

    def __bool__(self) -> bool:
        return self.pos < len(self.args)

    @property
    def remaining(self) -> int:
        return len(self.args) - self.pos

    def keyword(self) -> str:
        """The next argument, upper-cased, as a str (for option matching)."""
        word = self.args[self.pos].decode("utf-8", "replace").upper()
        self.pos += 1
        return word

    def peek_keyword(self) -> str:
        return self.args[self.pos].decode("utf-8", "replace").upper() if self else ""

    def take(self, error: str = errors.SYNTAX) -> bytes:
        """The next argument; a syntax error if there is none."""
        if self.pos >= len(self.args):
            raise CommandError(error)
        value = self.args[self.pos]
        self.pos += 1
        return value

    def take_int(self, error: str = errors.NOT_INTEGER) -> int:
        return parse_int(self.take(), error)

    def take_float(self, error: str = errors.NOT_FLOAT) -> float:
        return parse_float(self.take(), error)
