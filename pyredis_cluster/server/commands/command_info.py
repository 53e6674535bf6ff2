"""COMMAND and its subcommands: the command table described to clients, in Redis 7.0's shape.

Theory of operation
-------------------
Everything here is generated from :data:`~..command_table.COMMANDS`, the one table
the handlers are declared in, so what clients read is what the dispatcher enforces.

``COMMAND INFO`` entries have Redis 7.0's ten fields: name, arity, flags, first key,
last key, key step, ACL categories, tips, key specs, subcommands. Flags, categories,
tips and key specs are *sets* in RESP3 (as Redis 7.0 sends them, even the key specs);
an empty subcommand list is an empty set, a non-empty one an array of nested entries.
Flags Redis keeps hidden (``may_replicate``, ``sentinel``, ``only_sentinel``) are not
shown. A key spec is a map: ``notes`` (when there are some), ``flags``, ``begin_search``
(``index``, ``keyword`` or ``unknown``) and ``find_keys`` (``range``, ``keynum`` or
``unknown``), each with its ``spec`` map.

``COMMAND DOCS`` gives our own one-line summaries with ``since``, ``group`` and
``complexity`` (no argument trees: Redis's are documentation we do not copy).

``COMMAND GETKEYS``/``GETKEYSANDFLAGS`` run the same key extraction as cluster routing.
A few commands' key flags depend on their arguments (Redis's ``variable_flags``: SET
with GET reads the key, BITFIELD with SET/INCRBY writes it); those are worked out here
the way Redis's own per-command key functions do.
"""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import Map, SetReply, Status
from .. import errors
from ..client import Client
from ..command_table import COMMANDS, KEY_FLAG_ORDER, CommandSpec, KeySpec, command
from ..errors import CommandError
from ..pubsub import glob_match

#: Flags Redis 7.0 never shows in COMMAND replies.
HIDDEN_FLAGS = frozenset({"may_replicate", "sentinel", "only_sentinel"})


def find_spec(name: bytes) -> CommandSpec | None:
    """A command or subcommand by its full name ('get', 'config|get'), any letter case."""
    text = name.decode("utf-8", "replace").lower()
    base, _, sub = text.partition("|")
    spec = COMMANDS.get(base)
    if spec is None or not sub:
        return spec
    if "|" in sub:
        return None
    return spec.subcommands.get(sub)


def _status_set(words: list[str]) -> SetReply:
    return SetReply([Status(word) for word in words])


def _key_flags(flags: str) -> list[str]:
    words = flags.split()
    return [flag for flag in KEY_FLAG_ORDER if flag in words]


def key_spec_reply(ks: KeySpec) -> Map:
    """One key spec as Redis 7.0 describes it."""
    if ks.unknown:
        begin = Map([(b"type", b"unknown"), (b"spec", Map([]))])
        find = Map([(b"type", b"unknown"), (b"spec", Map([]))])
    else:
        if ks.index is not None:
            begin = Map([(b"type", b"index"), (b"spec", Map([(b"index", ks.index)]))])
        else:
            assert ks.keyword is not None
            spec = Map([(b"keyword", ks.keyword.encode()), (b"startfrom", ks.startfrom)])
            begin = Map([(b"type", b"keyword"), (b"spec", spec)])
        if ks.keynum is not None:
            numidx, firstkey, step = ks.keynum
            spec = Map([(b"keynumidx", numidx), (b"firstkey", firstkey), (b"keystep", step)])
            find = Map([(b"type", b"keynum"), (b"spec", spec)])
        else:
            spec = Map([(b"lastkey", ks.lastkey), (b"keystep", ks.keystep), (b"limit", ks.limit)])
            find = Map([(b"type", b"range"), (b"spec", spec)])
    fields: list[tuple[Any, Any]] = []
    if ks.notes:
        fields.append((b"notes", ks.notes.encode()))
    fields += [(b"flags", _status_set(_key_flags(ks.flags))), (b"begin_search", begin), (b"find_keys", find)]
    return Map(fields)


def command_entry(spec: CommandSpec) -> list[Any]:
    """The ten-field COMMAND INFO entry of a command (subcommands nested)."""
    subcommands: Any = [command_entry(sub) for sub in spec.subcommands.values()] if spec.subcommands else SetReply()
    return [
        spec.name.encode(),
        spec.arity,
        _status_set([flag for flag in spec.full_flags if flag not in HIDDEN_FLAGS]),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        _status_set(spec.full_acl_categories),
        SetReply([tip.encode() for tip in spec.tips]),
        SetReply([key_spec_reply(ks) for ks in spec.key_specs]),
        subcommands,
    ]


def command_docs(spec: CommandSpec) -> Map:
    fields: list[tuple[Any, Any]] = [
        (b"summary", spec.summary.encode()),
        (b"since", spec.since.encode()),
        (b"group", spec.group.encode()),
        (b"complexity", spec.complexity.encode()),
    ]
    if spec.subcommands:
        fields.append((b"subcommands", Map([(sub.name.encode(), command_docs(sub)) for sub in spec.subcommands.values()])))
    return Map(fields)


@command("command", -1, "loading stale", "@connection", group="server", since="2.8.13",
         tips="nondeterministic_output_order",
         summary="Describe every command of the server", complexity="O(N) in the number of commands")  # fmt: skip
def command_(c: Client, args: list[bytes]) -> Any:
    return [command_entry(spec) for spec in COMMANDS.values()]


@command("command|count", 2, "loading stale", "@connection", group="server", since="2.8.13",
         summary="How many commands the server has", complexity="O(1)")  # fmt: skip
def command_count(c: Client, args: list[bytes]) -> Any:
    return len(COMMANDS)


@command("command|info", -2, "loading stale", "@connection", group="server", since="2.8.13",
         tips="nondeterministic_output_order",
         summary="Describe the given commands (all of them without names)",
         complexity="O(N) in the number of commands described")  # fmt: skip
def command_info(c: Client, args: list[bytes]) -> Any:
    if len(args) == 2:
        return [command_entry(spec) for spec in COMMANDS.values()]
    return [None if (spec := find_spec(name)) is None else command_entry(spec) for name in args[2:]]


@command("command|docs", -2, "loading stale", "@connection", group="server", since="7.0.0",
         tips="nondeterministic_output_order",
         summary="Documentation of the given commands (all of them without names)",
         complexity="O(N) in the number of commands described")  # fmt: skip
def command_docs_(c: Client, args: list[bytes]) -> Any:
    if len(args) == 2:
        specs = list(COMMANDS.values())
    else:
        specs = [spec for name in args[2:] if (spec := find_spec(name)) is not None]
    return Map([(spec.name.encode(), command_docs(spec)) for spec in specs])


def _all_specs() -> list[CommandSpec]:
    specs = []
    for spec in COMMANDS.values():
        specs.append(spec)
        specs.extend(spec.subcommands.values())
    return specs


@command("command|list", -2, "loading stale", "@connection", group="server", since="7.0.0",
         tips="nondeterministic_output_order",
         summary="Names of the commands, optionally filtered", complexity="O(N) in the number of commands")  # fmt: skip
def command_list(c: Client, args: list[bytes]) -> Any:
    """COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]."""
    specs = _all_specs()
    if len(args) == 2:
        return [spec.name.encode() for spec in specs]
    if len(args) != 5 or args[2].lower() != b"filterby":
        raise CommandError(errors.SYNTAX)
    kind, value = args[3].lower(), args[4]
    if kind == b"module":
        return []  # no modules
    if kind == b"aclcat":
        category = value.decode("utf-8", "replace").lower()
        return [spec.name.encode() for spec in specs if category in spec.acl_categories]
    if kind == b"pattern":
        return [spec.name.encode() for spec in specs if glob_match(value, spec.name.encode(), nocase=True)]
    raise CommandError(errors.SYNTAX)


def _keys_with_flags(spec: CommandSpec, args: list[bytes]) -> list[tuple[int, list[str]]]:
    """(position, key flags) of each key of a command line, in order."""
    if spec.getkeys is not None:
        # A getkeys function (SORT's) names the source key first, then any destination
        # (STORE), which carries the flags of the last key spec (OW update), as Redis's
        # sortGetKeys reports them.
        if not spec.key_specs:
            return [(pos, []) for pos in spec.getkeys(args)]
        first, last = _key_flags(spec.key_specs[0].flags), _key_flags(spec.key_specs[-1].flags)
        return [(pos, first if i == 0 else last) for i, pos in enumerate(spec.getkeys(args))]
    found: list[tuple[int, list[str]]] = []
    seen: set[int] = set()
    if any(_bad_key_count(ks, args) for ks in spec.key_specs):
        return []  # Redis refuses the whole line when a key count is unusable
    for ks in spec.key_specs:
        flags = _variable_flags(spec, args) if "variable_flags" in ks.flags else None
        for pos in ks.key_positions(args):
            if pos not in seen:
                seen.add(pos)
                found.append((pos, flags or _key_flags(ks.flags)))
    return found


def _bad_key_count(ks: KeySpec, args: list[bytes]) -> bool:
    """A keynum spec whose count is not a number, is negative, or names more keys than there are."""
    if ks.keynum is None or ks.index is None:
        return False
    numidx, firstkey, step = ks.keynum
    position = ks.index + numidx
    if position >= len(args):
        return True
    try:
        count = int(args[position])
    except ValueError:
        return True
    return count < 0 or ks.index + firstkey + (count - 1) * step >= len(args)


def _variable_flags(spec: CommandSpec, args: list[bytes]) -> list[str] | None:
    """Key flags that depend on the arguments (Redis's setGetKeys / bitfieldGetKeys)."""
    words = {arg.lower() for arg in args[2:]}
    if spec.name == "set":
        return ["RW", "access", "update"] if b"get" in words else ["OW", "update"]
    if spec.name == "bitfield":
        return ["RW", "access", "update"] if words & {b"set", b"incrby"} else ["RO", "access"]
    return None


def _getkeys(args: list[bytes], with_flags: bool) -> Any:
    line = args[2:]
    spec = find_spec(line[0])
    if spec is not None and spec.subcommands and len(line) >= 2:
        spec = spec.subcommands.get(line[1].decode("utf-8", "replace").lower())
    if spec is None:
        raise CommandError(errors.GETKEYS_INVALID_COMMAND)
    if spec.getkeys is None and all("not_key" in ks.flags.split() for ks in spec.key_specs):
        raise CommandError(errors.GETKEYS_NO_KEYS)
    if (spec.arity > 0 and spec.arity != len(line)) or len(line) < -spec.arity:
        raise CommandError(errors.GETKEYS_WRONG_ARGS)
    keys = _keys_with_flags(spec, line)
    if not keys:
        if "no_mandatory_keys" in spec.flags:
            return []
        raise CommandError(errors.GETKEYS_INVALID_ARGS)
    if with_flags:
        return [[line[pos], _status_set(flags)] for pos, flags in keys]
    return [line[pos] for pos, _ in keys]


@command("command|getkeys", -4, "loading stale", "@connection", group="server", since="2.8.13",
         summary="The keys a full command line names", complexity="O(N) in the number of arguments")  # fmt: skip
def command_getkeys(c: Client, args: list[bytes]) -> Any:
    return _getkeys(args, with_flags=False)


@command("command|getkeysandflags", -4, "loading stale", "@connection", group="server", since="7.0.0",
         summary="The keys a full command line names, with how the command uses each",
         complexity="O(N) in the number of arguments")  # fmt: skip
def command_getkeysandflags(c: Client, args: list[bytes]) -> Any:
    return _getkeys(args, with_flags=True)


@command("command|help", 2, "loading stale", "@connection", group="server", since="5.0.0",
         summary="Describe the COMMAND subcommands", complexity="O(1)")  # fmt: skip
def command_help(c: Client, args: list[bytes]) -> Any:
    from .server import help_reply

    return help_reply("COMMAND", [
        ("(no subcommand)", "Describe every command."),
        ("COUNT", "How many commands there are."),
        ("DOCS [<command-name> ...]", "Documentation of the given commands, or of all of them."),
        ("GETKEYS <full-command>", "The keys of a complete command line."),
        ("GETKEYSANDFLAGS <full-command>", "The keys of a complete command line, with their flags."),
        ("INFO [<command-name> ...]", "Describe the given commands, or all of them."),
        ("LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
         "Names of the commands, optionally filtered by module, ACL category or name pattern."),
    ])  # fmt: skip
