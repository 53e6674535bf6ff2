"""The one declarative command table.

Theory of operation
-------------------
Every command is declared once, next to its handler, with the :func:`command`
decorator: name, arity, flags, ACL categories and key specs, in Redis 7.0's own terms.
Everything else is *derived* from that declaration, the way Redis derives it from
its JSON command files:

* the arity check and the unknown command/subcommand errors (dispatch);
* ``COMMAND``, ``COMMAND INFO``, ``COMMAND DOCS``, ``COMMAND COUNT/LIST/GETKEYS``;
* the legacy ``first key / last key / step`` triple, the ``movablekeys`` flag and the
  implicit ACL categories (``@write`` for write commands, ``@slow`` for anything not
  ``@fast``...), computed exactly as Redis does so that clients that route from
  ``COMMAND`` (redis-py) see the same table as from a real server;
* which arguments are keys, for cluster routing and ``WATCH``-style bookkeeping.

Arity follows Redis: positive means exactly that many words including the command
name; negative means at least ``-arity`` words.

A container command (CONFIG, CLIENT, OBJECT...) is declared with :func:`container`;
its subcommands are declared as ``"config|get"`` and are looked up by the second word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Command flags in the order Redis prints them in COMMAND replies.
FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "sentinel", "only_sentinel", "no_mandatory_keys", "no_async_loading", "no_multi",
    "movablekeys", "allow_busy",
)  # fmt: skip
#: ACL categories in the order Redis prints them.
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)  # fmt: skip
#: Key spec flags in the order Redis prints them.
KEY_FLAG_ORDER = (
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
    "incomplete", "variable_flags",
)  # fmt: skip


@dataclass(frozen=True)
class KeySpec:
    """Where a command's keys are, as a Redis 7.0 key spec.

    ``begin_search`` is either an argument index (``index``) or the first occurrence of
    a ``keyword`` searched from ``startfrom`` (negative: from the end). ``find_keys`` is
    either a range (``lastkey`` relative to the first key, -1 = the last argument;
    ``keystep``; ``limit``) or ``keynum`` = (index of the key count relative to the
    begin, first key relative to the begin, step).
    """

    flags: str
    index: int | None = None
    keyword: str | None = None
    startfrom: int = 1
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    keynum: tuple[int, int, int] | None = None
    notes: str = ""
    unknown: bool = False  # begin_search "unknown" (e.g. SORT's STORE, MIGRATE's KEYS)

    def key_positions(self, args: list[bytes]) -> list[int]:
        """The argument indexes this spec selects in ``args`` (``args[0]`` is the name)."""
        argc = len(args)
        if self.unknown:
            return []
        if self.index is not None:
            begin = self.index
        else:
            assert self.keyword is not None
            keyword = self.keyword.lower().encode()
            begin = 0
            if self.startfrom >= 0:
                search = range(self.startfrom, argc)
            else:
                search = range(argc + self.startfrom, 0, -1)
            for i in search:
                if 0 < i < argc and args[i].lower() == keyword:
                    begin = i + 1
                    break
            if not begin:
                return []
        if begin >= argc:
            return []
        if self.keynum is not None:
            numidx, firstkey, step = self.keynum
            try:
                count = int(args[begin + numidx])
            except (IndexError, ValueError):
                return []
            first = begin + firstkey
            last = first + (count - 1) * step
            if count <= 0 or last >= argc:
                return []
            return list(range(first, last + 1, step))
        if self.lastkey >= 0:
            last = begin + self.lastkey
        elif self.limit:
            last = begin + ((argc - begin) // self.limit + self.lastkey)
        else:
            last = argc + self.lastkey
        if last >= argc or last < begin:
            return []
        return list(range(begin, last + 1, self.keystep))


Handler = Callable[..., Any]


@dataclass
class CommandSpec:
    """One command (or subcommand) of the table."""

    name: str  # lower case; "container|sub" for subcommands
    arity: int
    flags: frozenset[str]
    acl_categories: frozenset[str]
    key_specs: tuple[KeySpec, ...]
    handler: Handler | None
    group: str
    since: str
    summary: str
    complexity: str
    tips: tuple[str, ...] = ()
    getkeys: Callable[[list[bytes]], list[int]] | None = None
    subcommands: dict[str, CommandSpec] = field(default_factory=dict)
    parent: CommandSpec | None = None
    # derived at registration:
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    is_write: bool = False

    @property
    def display_name(self) -> str:
        """The name as it appears in error messages ('config|get' for a subcommand)."""
        return self.name

    @property
    def full_flags(self) -> list[str]:
        return [flag for flag in FLAG_ORDER if flag in self.flags]

    @property
    def full_acl_categories(self) -> list[str]:
        return ["@" + cat for cat in ACL_ORDER if cat in self.acl_categories]

    def key_positions(self, args: list[bytes]) -> list[int]:
        """Indexes of the key arguments in ``args``, in order, without duplicates."""
        if self.getkeys is not None:
            return self.getkeys(args)
        if len(self.key_specs) == 1:
            return self.key_specs[0].key_positions(args)
        positions: list[int] = []
        for spec in self.key_specs:
            for pos in spec.key_positions(args):
                if pos not in positions:
                    positions.append(pos)
        return positions

    def keys(self, args: list[bytes]) -> list[bytes]:
        return [args[i] for i in self.key_positions(args)]


#: The table itself: lower-case name -> spec. Subcommands live in their container's spec.
COMMANDS: dict[str, CommandSpec] = {}


def _derive(spec: CommandSpec) -> None:
    """Compute what Redis computes from a command's declaration."""
    flags = set(spec.flags)
    # movablekeys: the keys cannot be found from a plain first/last/step range.
    if spec.getkeys is not None or any(
        ks.index is None or ks.keynum is not None or ks.unknown for ks in spec.key_specs
    ):
        flags.add("movablekeys")
    spec.flags = frozenset(flags)
    # Implicit ACL categories.
    acl = set(spec.acl_categories)
    if "write" in flags:
        acl.add("write")
    if "readonly" in flags and "scripting" not in acl:
        acl.add("read")
    if "admin" in flags:
        acl |= {"admin", "dangerous"}
    if "pubsub" in flags:
        acl.add("pubsub")
    if "fast" in flags:
        acl.add("fast")
    if "blocking" in flags:
        acl.add("blocking")
    if "fast" not in acl:
        acl.add("slow")
    spec.acl_categories = frozenset(acl)
    spec.is_write = "write" in flags
    # The legacy (first, last, step) triple, from the plain index+range specs.
    plain = [ks for ks in spec.key_specs if ks.index is not None and ks.keynum is None and not ks.unknown]
    if len(spec.key_specs) == 1 and plain:
        only = plain[0]
        spec.first_key = only.index or 0
        spec.last_key = only.lastkey if only.lastkey < 0 else spec.first_key + only.lastkey
        spec.key_step = only.keystep
        return
    first, last, prev_last = None, 0, 0
    for ks in plain:
        assert ks.index is not None
        if ks.keystep != 1 or (prev_last and prev_last != ks.index - 1):
            continue
        first = ks.index if first is None else min(first, ks.index)
        absolute = ks.lastkey + ks.index if ks.lastkey >= 0 else ks.lastkey
        # Redis compares as unsigned, so a negative "last" wins.
        last = absolute if (absolute < 0 or (last >= 0 and absolute > last)) else last
        prev_last = last
    if first is not None:
        spec.first_key, spec.last_key, spec.key_step = first, last, 1


def _split_words(text: str) -> frozenset[str]:
    return frozenset(word.lstrip("@").lower() for word in text.split())


def command(
    name: str,
    arity: int,
    flags: str = "",
    acl: str = "",
    *,
    keys: list[KeySpec] | tuple[KeySpec, ...] = (),
    group: str = "generic",
    since: str = "1.0.0",
    summary: str = "",
    complexity: str = "",
    tips: str = "",
    getkeys: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a command and attach its handler.

    ``flags`` and ``acl`` are space-separated words (``"write denyoom"``,
    ``"@string"``), ``tips`` too (``"nondeterministic_output request_policy:all_shards"``).
    A name of the form ``"container|sub"`` declares a subcommand of a container
    declared earlier with :func:`container`.
    """

    def register(handler: Handler) -> Handler:
        spec = CommandSpec(
            name=name,
            arity=arity,
            flags=frozenset(flags.split()),
            acl_categories=_split_words(acl),
            key_specs=tuple(keys),
            handler=handler,
            group=group,
            since=since,
            summary=summary,
            complexity=complexity,
            tips=tuple(tips.split()),
            getkeys=getkeys,
        )
        unknown = spec.flags - set(FLAG_ORDER)
        assert not unknown, f"{name}: unknown flags {unknown}"
        assert not (spec.acl_categories - set(ACL_ORDER)), f"{name}: unknown ACL category"
        _derive(spec)
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS[parent_name]
            spec.parent = parent
            parent.subcommands[sub] = spec
        else:
            assert name not in COMMANDS, f"command {name} declared twice"
            COMMANDS[name] = spec
        return handler

    return register


def container(
    name: str,
    acl: str = "",
    *,
    group: str = "server",
    since: str = "1.0.0",
    summary: str = "",
    complexity: str = "",
) -> None:
    """Declare a container command (CONFIG, CLIENT...) whose subcommands follow."""
    spec = CommandSpec(
        name=name,
        arity=-2,
        flags=frozenset(),
        acl_categories=_split_words(acl),
        key_specs=(),
        handler=None,
        group=group,
        since=since,
        summary=summary,
        complexity=complexity,
    )
    _derive(spec)
    COMMANDS[name] = spec


_LOOKUP_CACHE: dict[bytes, CommandSpec] = {}


def lookup(name: bytes) -> CommandSpec | None:
    """Find a top-level command by its name in any letter case."""
    spec = _LOOKUP_CACHE.get(name)
    if spec is None:
        try:
            spec = COMMANDS.get(name.decode("utf-8").lower())
        except UnicodeDecodeError:
            return None
        if spec is not None and len(_LOOKUP_CACHE) < 4096:
            _LOOKUP_CACHE[name] = spec
    return spec


def all_commands() -> list[CommandSpec]:
    return list(COMMANDS.values())
