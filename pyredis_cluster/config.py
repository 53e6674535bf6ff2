"""The node's configuration: every redis.conf option of Redis 7.0, with its name and default.

Theory of operation
-------------------
Options keep Redis's names (``cluster-node-timeout``) and defaults, read from a config
file and/or ``--name value`` command-line flags (flags win, as with redis-server, which
appends them to the file's text). Every option redis-server 7.0 knows is accepted and
stored, so that tools and tests that ``CONFIG SET`` options we do not act on keep
working; those we act on are read as attributes (``config.cluster_node_timeout``).

Values are checked when set, with Redis's error texts. A bad file stops start-up with
Redis's "FATAL CONFIG FILE ERROR" report naming the line. The file's path is kept for
CONFIG REWRITE, which edits the file in place, keeping its comments and order.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any

REDIS_VERSION = "7.0.15"

# name | kind | default: the table of every 7.0 option (aliases below).
_OPTION_TABLE = """
    acl-pubsub-default|str|resetchannels
    aclfile|str|
    acllog-max-len|int|128
    active-defrag-cycle-max|int|25
    active-defrag-cycle-min|int|1
    active-defrag-ignore-bytes|memory|104857600
    active-defrag-max-scan-fields|int|1000
    active-defrag-threshold-lower|int|10
    active-defrag-threshold-upper|int|100
    active-expire-effort|int|1
    activedefrag|bool|no
    activerehashing|bool|yes
    always-show-logo|bool|no
    aof-disable-auto-gc|bool|no
    aof-load-truncated|bool|yes
    aof-rewrite-incremental-fsync|bool|yes
    aof-timestamp-enabled|bool|no
    aof-use-rdb-preamble|bool|yes
    aof_rewrite_cpulist|str|
    appenddirname|str|appendonlydir
    appendfilename|str|appendonly.aof
    appendfsync|str|everysec
    appendonly|bool|no
    auto-aof-rewrite-min-size|memory|67108864
    auto-aof-rewrite-percentage|int|100
    bgsave_cpulist|str|
    bind|str|127.0.0.1 -::1
    bind-source-addr|str|
    bio_cpulist|str|
    busy-reply-threshold|int|5000
    client-output-buffer-limit|str|normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60
    client-query-buffer-limit|memory|1073741824
    cluster-allow-pubsubshard-when-down|bool|yes
    cluster-allow-reads-when-down|bool|no
    cluster-allow-replica-migration|bool|yes
    cluster-announce-bus-port|int|0
    cluster-announce-hostname|str|
    cluster-announce-ip|str|
    cluster-announce-port|int|0
    cluster-announce-tls-port|int|0
    cluster-config-file|str|nodes.conf
    cluster-enabled|bool|no
    cluster-link-sendbuf-limit|memory|0
    cluster-migration-barrier|int|1
    cluster-node-timeout|int|15000
    cluster-port|int|0
    cluster-preferred-endpoint-type|str|ip
    cluster-replica-no-failover|bool|no
    cluster-replica-validity-factor|int|10
    cluster-require-full-coverage|bool|yes
    crash-log-enabled|bool|yes
    crash-memcheck-enabled|bool|yes
    daemonize|bool|no
    databases|int|16
    dbfilename|str|dump.rdb
    dir|str|
    disable-thp|bool|yes
    dynamic-hz|bool|yes
    enable-debug-command|bool|no
    enable-module-command|bool|no
    enable-protected-configs|bool|no
    hash-max-listpack-entries|int|512
    hash-max-listpack-value|memory|64
    hll-sparse-max-bytes|memory|3000
    hz|int|10
    ignore-warnings|str|
    io-threads|int|1
    io-threads-do-reads|bool|no
    jemalloc-bg-thread|bool|yes
    latency-monitor-threshold|int|0
    latency-tracking|bool|yes
    latency-tracking-info-percentiles|str|50 99 99.9
    lazyfree-lazy-eviction|bool|no
    lazyfree-lazy-expire|bool|no
    lazyfree-lazy-server-del|bool|no
    lazyfree-lazy-user-del|bool|no
    lazyfree-lazy-user-flush|bool|no
    lfu-decay-time|int|1
    lfu-log-factor|int|10
    list-compress-depth|int|0
    list-max-listpack-size|int|-2
    logfile|str|
    loglevel|str|notice
    lua-time-limit|int|5000
    masterauth|str|
    masteruser|str|
    maxclients|int|10000
    maxmemory|memory|0
    maxmemory-clients|memory|0
    maxmemory-eviction-tenacity|int|10
    maxmemory-policy|str|noeviction
    maxmemory-samples|int|5
    min-replicas-max-lag|int|10
    min-replicas-to-write|int|0
    no-appendfsync-on-rewrite|bool|no
    notify-keyspace-events|str|
    oom-score-adj|bool|no
    oom-score-adj-values|str|0 200 800
    pidfile|str|
    port|int|6379
    proc-title-template|str|{title} {listen-addr} {server-mode}
    propagation-error-behavior|str|ignore
    protected-mode|bool|yes
    proto-max-bulk-len|memory|536870912
    rdb-del-sync-files|bool|no
    rdb-save-incremental-fsync|bool|yes
    rdbchecksum|bool|yes
    rdbcompression|bool|yes
    repl-backlog-size|memory|1048576
    repl-backlog-ttl|int|3600
    repl-disable-tcp-nodelay|bool|no
    repl-diskless-load|str|disabled
    repl-diskless-sync|bool|yes
    repl-diskless-sync-delay|int|5
    repl-diskless-sync-max-replicas|int|0
    repl-ping-replica-period|int|10
    repl-timeout|int|60
    replica-announce-ip|str|
    replica-announce-port|int|0
    replica-announced|bool|yes
    replica-ignore-disk-write-errors|bool|no
    replica-ignore-maxmemory|bool|yes
    replica-lazy-flush|bool|no
    replica-priority|int|100
    replica-read-only|bool|yes
    replica-serve-stale-data|bool|yes
    replicaof|str|
    requirepass|str|
    sanitize-dump-payload|bool|no
    save|str|3600 1 300 100 60 10000
    server_cpulist|str|
    set-max-intset-entries|int|512
    set-proc-title|bool|yes
    shutdown-on-sigint|str|default
    shutdown-on-sigterm|str|default
    shutdown-timeout|int|10
    slowlog-log-slower-than|int|10000
    slowlog-max-len|int|128
    socket-mark-id|int|0
    stop-writes-on-bgsave-error|bool|yes
    stream-node-max-bytes|memory|4096
    stream-node-max-entries|int|100
    supervised|bool|no
    syslog-enabled|bool|no
    syslog-facility|str|local0
    syslog-ident|str|redis
    tcp-backlog|int|511
    tcp-keepalive|int|300
    timeout|int|0
    tls-auth-clients|bool|yes
    tls-ca-cert-dir|str|
    tls-ca-cert-file|str|
    tls-cert-file|str|
    tls-ciphers|str|
    tls-ciphersuites|str|
    tls-client-cert-file|str|
    tls-client-key-file|str|
    tls-client-key-file-pass|str|
    tls-cluster|bool|no
    tls-dh-params-file|str|
    tls-key-file|str|
    tls-key-file-pass|str|
    tls-port|int|0
    tls-prefer-server-ciphers|bool|no
    tls-protocols|str|
    tls-replication|bool|no
    tls-session-cache-size|int|20480
    tls-session-cache-timeout|int|300
    tls-session-caching|bool|yes
    tracking-table-max-keys|int|1000000
    unixsocket|str|
    unixsocketperm|int|0
    zset-max-listpack-entries|int|128
    zset-max-listpack-value|memory|64
"""

#: Old names Redis still accepts, mapped to the current name. CONFIG GET * lists both.
ALIASES: dict[str, str] = {
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-priority": "replica-priority",
    "slave-read-only": "replica-read-only",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slaveof": "replicaof",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "min-slaves-to-write": "min-replicas-to-write",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
}

#: Options CONFIG SET refuses ("can't set immutable config").
IMMUTABLE = frozenset(
    ["daemonize", "databases", "cluster-enabled", "cluster-config-file", "cluster-port", "unixsocket", "unixsocketperm", "logfile", "syslog-enabled", "syslog-ident", "syslog-facility", "pidfile", "supervised", "io-threads", "io-threads-do-reads", "always-show-logo", "set-proc-title", "enable-debug-command", "enable-protected-configs", "enable-module-command", "aclfile", "tcp-backlog", "disable-thp", "appenddirname", "tls-port", "tls-cluster", "tls-replication", "tls-session-caching"]
)
#: Options CONFIG SET refuses unless enable-protected-configs allows it.
PROTECTED = frozenset({"dir", "dbfilename"})

#: Enumerated options and the values they accept.
ENUMS: dict[str, tuple[str, ...]] = {
    "loglevel": ("debug", "verbose", "notice", "warning"),
    "maxmemory-policy": (
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
    ),
    "appendfsync": ("always", "everysec", "no"),
    "supervised": ("upstart", "systemd", "auto", "no"),
    "cluster-preferred-endpoint-type": ("ip", "hostname", "unknown-endpoint"),
    "repl-diskless-load": ("disabled", "on-empty-db", "swapdb"),
    "propagation-error-behavior": ("ignore", "panic", "panic-on-replicas"),
    "acl-pubsub-default": ("allchannels", "resetchannels"),
    "enable-debug-command": ("no", "yes", "local"),
    "enable-protected-configs": ("no", "yes", "local"),
    "enable-module-command": ("no", "yes", "local"),
    "shutdown-on-sigint": ("default", "save", "nosave", "now", "force"),
    "shutdown-on-sigterm": ("default", "save", "nosave", "now", "force"),
    "oom-score-adj": ("no", "yes", "relative", "absolute"),
    "sanitize-dump-payload": ("no", "yes", "clients"),
}  # fmt: skip

#: Integer ranges Redis enforces, where it matters to us.
RANGES: dict[str, tuple[int, int]] = {
    "port": (0, 65535),
    "cluster-port": (0, 65535),
    "cluster-announce-port": (0, 65535),
    "cluster-announce-bus-port": (0, 65535),
    "cluster-announce-tls-port": (0, 65535),
    "databases": (1, 2**31 - 1),
    "maxclients": (1, 2**31 - 1),
    "timeout": (0, 2**31 - 1),
    "tcp-keepalive": (0, 2**31 - 1),
    "hz": (0, 2**31 - 1),
    "cluster-node-timeout": (0, 2**63 - 1),
    "cluster-migration-barrier": (0, 2**31 - 1),
    "cluster-replica-validity-factor": (0, 2**31 - 1),
    "proto-max-bulk-len": (1024 * 1024, 2**63 - 1),
    "client-query-buffer-limit": (1024 * 1024, 2**63 - 1),
    "list-max-listpack-size": (-5, 2**31 - 1),
}

_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}  # fmt: skip


class ConfigError(Exception):
    """An option or value Redis would refuse; the text is Redis's."""


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # bool | int | memory | str
    default: str


OPTIONS: dict[str, Option] = {}
for _line in _OPTION_TABLE.strip().splitlines():
    _name, _kind, _default = _line.strip().split("|", 2)
    OPTIONS[_name] = Option(_name, ENUMS.get(_name) and "enum" or _kind, _default)
# Options redis-server accepts that CONFIG GET * does not list.
OPTIONS["include"] = Option("include", "str", "")
OPTIONS["rename-command"] = Option("rename-command", "str", "")
OPTIONS["user"] = Option("user", "str", "")
OPTIONS["loadmodule"] = Option("loadmodule", "str", "")


def canonical_name(name: str) -> str:
    name = name.lower()
    return ALIASES.get(name, name)


def parse_memory(text: str) -> int | None:
    """Redis's memtoull: '1gb' -> 1073741824; None if not a memory value."""
    match = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", text.strip())
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        return None
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


def parse_value(option: Option, text: str) -> Any:
    """Check and convert one option's value from its text; raise ConfigError like Redis."""
    kind = option.kind
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("yes", "no"):
            raise ConfigError("argument must be 'yes' or 'no'")
        return lowered == "yes"
    if kind in ("int", "memory"):
        value = parse_memory(text) if kind == "memory" else _parse_int(text)
        if value is None:
            if kind == "memory":
                raise ConfigError("argument must be a memory value")
            raise ConfigError("argument couldn't be parsed into an integer")
        low, high = RANGES.get(option.name, (-(2**63), 2**63 - 1))
        if not low <= value <= high:
            raise ConfigError(f"argument must be between {low} and {high} inclusive")
        return value
    if kind == "enum":
        lowered = text.lower()
        if lowered not in ENUMS[option.name]:
            choices = ", ".join(ENUMS[option.name])
            raise ConfigError(f"argument(s) must be one of the following: {choices}")
        return lowered
    return text


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"-?\d+", text):
        return None
    return int(text)


def format_value(option: Option, value: Any) -> str:
    """The text CONFIG GET shows for a value."""
    if option.kind == "bool":
        return "yes" if value else "no"
    return str(value)


class Config:
    """The values of every option; attribute access uses underscores (``config.node_timeout``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "path", None)  # the config file, for CONFIG REWRITE
        for option in OPTIONS.values():
            self._values[option.name] = parse_value(option, option.default)
        self._values["dir"] = os.getcwd()

    def __getattr__(self, attr: str) -> Any:
        name = attr.replace("_", "-")
        try:
            return self._values[canonical_name(name)]
        except KeyError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in ("path",):
            object.__setattr__(self, attr, value)
            return
        self._values[canonical_name(attr.replace("_", "-"))] = value

    def get(self, name: str) -> Any:
        return self._values[canonical_name(name)]

    def set_from_text(self, name: str, args: list[str]) -> None:
        """Set an option from its words in a config file or CONFIG SET; raise ConfigError."""
        canonical = canonical_name(name)
        option = OPTIONS.get(canonical)
        if option is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        if canonical in ("save", "bind", "client-output-buffer-limit", "oom-score-adj-values",
                         "latency-tracking-info-percentiles", "include", "rename-command",
                         "user", "loadmodule", "ignore-warnings"):
            value = " ".join(args)
            if canonical == "save":
                value = self._check_save(args)
            self._values[canonical] = value
            return
        if canonical in ("replicaof",):
            if len(args) != 2:
                raise ConfigError("Bad directive or wrong number of arguments")
            self._values[canonical] = " ".join(args)
            return
        if len(args) != 1:
            raise ConfigError("Bad directive or wrong number of arguments")
        self._values[canonical] = parse_value(option, args[0])

    @staticmethod
    def _check_save(args: list[str]) -> str:
        if args == [""] or not args:
            return ""
        if len(args) % 2:
            raise ConfigError("Invalid save parameters")
        for word in args:
            if _parse_int(word) is None:
                raise ConfigError("Invalid save parameters")
        return " ".join(args)

    def get_matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, value text) for every option name matching a glob pattern, as CONFIG GET."""
        results = []
        names = list(OPTIONS) + list(ALIASES)
        if not any(ch in pattern for ch in "*?["):
            names = [pattern.lower()] if pattern.lower() in OPTIONS or pattern.lower() in ALIASES else []
        for name in names:
            if name in ("include", "rename-command", "user", "loadmodule"):
                continue
            if fnmatch.fnmatchcase(name, pattern.lower()):
                canonical = canonical_name(name)
                results.append((name, format_value(OPTIONS[canonical], self._values[canonical])))
        return results


def tokenize_config_line(line: str) -> list[str] | None:
    """Split a config file line into words (Redis's sdssplitargs); None for bad quotes."""
    from .protocol.parser import split_inline_args

    words = split_inline_args(line.encode())
    return None if words is None else [w.decode("utf-8", "surrogateescape") for w in words]


def load_config_text(config: Config, text: str) -> None:
    """Apply a config file's text; raise ConfigError carrying Redis's fatal report."""
    lines = text.split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = tokenize_config_line(line)
        try:
            if words is None:
                raise ConfigError("Unbalanced quotes in configuration line")
            if not words:
                continue
            config.set_from_text(words[0], words[1:])
        except ConfigError as err:
            raise ConfigError(
                f"\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n"
                f"Reading the configuration file, at line {number}\n>>> '{line}'\n{err}"
            ) from None


def args_to_config_text(argv: list[str]) -> str:
    """Turn ``--name value ...`` flags into config-file text, as redis-server does."""
    lines: list[str] = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            lines.append(arg[2:])
        elif lines:
            lines[-1] += " " + _quote(arg)
        else:
            lines.append(_quote(arg))
    return "\n".join(lines)


def _quote(word: str) -> str:
    if word and not re.search(r"[\s\"'\\]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
