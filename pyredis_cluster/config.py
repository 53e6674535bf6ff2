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

from .protocol.quoting import sds_repr

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

#: Options CONFIG SET refuses ("can't set immutable config"): Redis 7.0's IMMUTABLE_CONFIG.
IMMUTABLE = frozenset({
    "rdbchecksum", "daemonize", "io-threads-do-reads", "always-show-logo", "set-proc-title",
    "syslog-enabled", "cluster-enabled", "disable-thp", "aclfile", "unixsocket", "pidfile",
    "cluster-config-file", "syslog-ident", "appendfilename", "appenddirname", "server_cpulist",
    "bio_cpulist", "aof_rewrite_cpulist", "bgsave_cpulist", "logfile", "supervised",
    "syslog-facility", "enable-protected-configs", "enable-debug-command", "enable-module-command",
    "databases", "io-threads", "tcp-backlog", "cluster-port", "unixsocketperm", "socket-mark-id",
    "replicaof",
})  # fmt: skip
IMMUTABLE = IMMUTABLE | {"enable-test-commands"}  # ours: a running node cannot be made to expose it
#: Options CONFIG SET refuses unless enable-protected-configs allows it.
PROTECTED = frozenset({"dir", "dbfilename"})
#: Options CONFIG GET shows only when asked for by their exact name (never by a pattern).
HIDDEN: dict[str, tuple[str, str]] = {
    "rdb-key-save-delay": ("int", "0"),
    "key-load-delay": ("int", "0"),
    "watchdog-period": ("int", "0"),
    "loading-process-events-interval-bytes": ("int", "2097152"),
    "use-exit-on-panic": ("bool", "no"),
    # Ours, not Redis's: PYREDIS.FAULT (pyredis_cluster/testing/faults.py), the test double's
    # scripted errors for non-Python clients. Off by default, set only at start-up (it is
    # IMMUTABLE), hidden from CONFIG GET * so the option list stays Redis's.
    "enable-test-commands": ("bool", "no"),
    # Ours: the teaching trace (server/trace.py, PYREDIS.TRACE), CONFIG SET-able. Records of
    # every bus message and cluster event are appended to this file as JSON lines ("": no file)
    # and/or published node-locally on the __pyredis__:trace channel.
    "cluster-trace-file": ("str", ""),
    "cluster-trace-channel": ("bool", "no"),
    # Ours: the cluster protocol's time scale (pyredis_cluster/clock.py), CONFIG SET-able.
    # 10: every protocol timer takes 10x longer in wall time (slow motion); 0.1: 10x faster.
    "cluster-time-scale": ("special", "1"),
}
#: Options whose value is several words (CONFIG SET takes them as one argument).
MULTI_ARG = frozenset({
    "save", "client-output-buffer-limit", "oom-score-adj-values", "bind", "replicaof",
    "latency-tracking-info-percentiles", "shutdown-on-sigint", "shutdown-on-sigterm",
})  # fmt: skip

#: Enumerated options and the values they accept, in Redis's order (its error lists them).
ENUMS: dict[str, tuple[str, ...]] = {
    "loglevel": ("debug", "verbose", "notice", "warning"),
    "maxmemory-policy": (
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
    ),
    "appendfsync": ("everysec", "always", "no"),
    "supervised": ("upstart", "systemd", "auto", "no"),
    "syslog-facility": ("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"),
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
    "tls-auth-clients": ("no", "yes", "optional"),
}  # fmt: skip
#: Enumerated options whose value is a set of flags ("nosave now"), not a single word.
FLAG_ENUMS = frozenset({"shutdown-on-sigint", "shutdown-on-sigterm"})

_INT_MAX, _UINT_MAX, _LONG_MAX = 2**31 - 1, 2**32 - 1, 2**63 - 1
_ULLONG_MAX = 2**64 - 1
#: Integer ranges of Redis 7.0's numeric options (the default is 0..INT_MAX-like).
RANGES: dict[str, tuple[int, int]] = {
    "databases": (1, _INT_MAX), "port": (0, 65535), "io-threads": (1, 128),
    "auto-aof-rewrite-percentage": (0, _INT_MAX), "cluster-replica-validity-factor": (0, _INT_MAX),
    "list-max-listpack-size": (-(2**31), _INT_MAX), "tcp-keepalive": (0, _INT_MAX),
    "cluster-migration-barrier": (0, _INT_MAX), "active-defrag-cycle-min": (1, 99),
    "active-defrag-cycle-max": (1, 99), "active-defrag-threshold-lower": (0, 1000),
    "active-defrag-threshold-upper": (0, 1000), "lfu-log-factor": (0, _INT_MAX),
    "lfu-decay-time": (0, _INT_MAX), "replica-priority": (0, _INT_MAX),
    "repl-diskless-sync-delay": (0, _INT_MAX), "maxmemory-samples": (1, _INT_MAX),
    "maxmemory-eviction-tenacity": (0, 100), "timeout": (0, _INT_MAX),
    "replica-announce-port": (0, 65535), "tcp-backlog": (0, _INT_MAX), "cluster-port": (0, 65535),
    "cluster-announce-bus-port": (0, 65535), "cluster-announce-port": (0, 65535),
    "cluster-announce-tls-port": (0, 65535), "repl-timeout": (1, _INT_MAX),
    "repl-ping-replica-period": (1, _INT_MAX), "list-compress-depth": (0, _INT_MAX),
    "rdb-key-save-delay": (-(2**31), _INT_MAX), "key-load-delay": (-(2**31), _INT_MAX),
    "active-expire-effort": (1, 10), "hz": (0, _INT_MAX), "min-replicas-to-write": (0, _INT_MAX),
    "min-replicas-max-lag": (0, _INT_MAX), "watchdog-period": (0, _INT_MAX),
    "shutdown-timeout": (0, _INT_MAX), "repl-diskless-sync-max-replicas": (0, _INT_MAX),
    "maxclients": (1, _UINT_MAX), "unixsocketperm": (0, 0o777), "socket-mark-id": (0, _UINT_MAX),
    "active-defrag-max-scan-fields": (1, _LONG_MAX), "slowlog-max-len": (0, _LONG_MAX),
    "acllog-max-len": (0, _LONG_MAX), "busy-reply-threshold": (0, _LONG_MAX),
    "cluster-node-timeout": (0, _LONG_MAX), "slowlog-log-slower-than": (-1, _LONG_MAX),
    "latency-monitor-threshold": (0, _LONG_MAX), "proto-max-bulk-len": (1024 * 1024, _LONG_MAX),
    "stream-node-max-entries": (0, _LONG_MAX), "repl-backlog-size": (1, _LONG_MAX),
    "maxmemory": (0, _ULLONG_MAX), "cluster-link-sendbuf-limit": (0, _ULLONG_MAX),
    "hash-max-listpack-entries": (0, _LONG_MAX), "set-max-intset-entries": (0, _LONG_MAX),
    "zset-max-listpack-entries": (0, _LONG_MAX), "active-defrag-ignore-bytes": (1, _LONG_MAX),
    "hash-max-listpack-value": (0, _LONG_MAX), "stream-node-max-bytes": (0, _LONG_MAX),
    "zset-max-listpack-value": (0, _LONG_MAX), "hll-sparse-max-bytes": (0, _LONG_MAX),
    "tracking-table-max-keys": (0, _LONG_MAX), "client-query-buffer-limit": (1024 * 1024, _LONG_MAX),
    "maxmemory-clients": (-100, _LONG_MAX), "repl-backlog-ttl": (0, _LONG_MAX),
    "auto-aof-rewrite-min-size": (0, _LONG_MAX), "loading-process-events-interval-bytes": (1024, _INT_MAX),
    "tls-port": (0, 65535), "tls-session-cache-size": (0, _INT_MAX), "tls-session-cache-timeout": (0, _INT_MAX),
}  # fmt: skip

_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}  # fmt: skip

#: notify-keyspace-events letters, and the classes 'A' stands for.
_EVENT_LETTERS = "g$lshzxetdmKEnA"
_EVENT_ALL = "g$lshzxetd"
#: Client classes of client-output-buffer-limit, in the order CONFIG GET prints them.
_BUFFER_CLASSES = ("normal", "slave", "pubsub")
_BUFFER_CLASS_ALIASES = {"normal": "normal", "slave": "slave", "replica": "slave", "pubsub": "pubsub"}
#: Shutdown flags in the order CONFIG GET prints them.
_SHUTDOWN_FLAG_ORDER = ("save", "nosave", "now", "force")


class ConfigError(Exception):
    """An option or value Redis would refuse; the text is Redis's."""


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # bool | int | memory | percent | enum | flags | str | special
    default: str


#: Options with their own syntax, checked and normalised by a function of their own.
_SPECIAL = frozenset({
    "save", "bind", "client-output-buffer-limit", "oom-score-adj-values", "notify-keyspace-events",
    "latency-tracking-info-percentiles", "replicaof", "proc-title-template",
})  # fmt: skip

OPTIONS: dict[str, Option] = {}
for _line in _OPTION_TABLE.strip().splitlines():
    _name, _kind, _default = _line.strip().split("|", 2)
    if _name in FLAG_ENUMS:
        _kind = "flags"
    elif _name in ENUMS:
        _kind = "enum"
    elif _name == "maxmemory-clients":
        _kind = "percent"
    elif _name in _SPECIAL:
        _kind = "special"
    OPTIONS[_name] = Option(_name, _kind, _default)
for _name, (_kind, _default) in HIDDEN.items():
    OPTIONS[_name] = Option(_name, _kind, _default)
# Options redis-server accepts in a config file but CONFIG GET does not know.
_FILE_ONLY = ("include", "rename-command", "user", "loadmodule")
for _name in _FILE_ONLY:
    OPTIONS[_name] = Option(_name, "str", "")


def canonical_name(name: str) -> str:
    name = name.lower()
    return ALIASES.get(name, name)


def parse_memory(text: str) -> int | None:
    """Redis's memtoull: '1gb' -> 1073741824; None if not a memory value."""
    match = re.fullmatch(r"(\d+)([a-zA-Z]*)", text)
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        return None
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


def _check_range(option: Option, value: int) -> int:
    low, high = RANGES.get(option.name, (-(2**63), 2**63 - 1))
    if not low <= value <= high:
        raise ConfigError(f"argument must be between {low} and {high} inclusive")
    return value


def parse_value(option: Option, text: str) -> Any:
    """Check and convert one option's value from its text; raise ConfigError like Redis."""
    kind = option.kind
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("yes", "no"):
            raise ConfigError("argument must be 'yes' or 'no'")
        return lowered == "yes"
    if kind == "int":
        value = _parse_int(text)
        if value is None:
            raise ConfigError("argument couldn't be parsed into an integer")
        return _check_range(option, value)
    if kind == "memory":
        value = parse_memory(text)
        if value is None:
            raise ConfigError("argument must be a memory value")
        return _check_range(option, value)
    if kind == "percent":
        if text.endswith("%"):
            percent = _parse_int(text[:-1])
            if percent is None or percent < 0:
                raise ConfigError("argument must be a memory or percent value")
            if percent > 100:
                raise ConfigError("percentage argument must be less or equal to 100")
            return -percent  # Redis stores a percentage as a negative number
        value = parse_memory(text)
        if value is None:
            raise ConfigError("argument must be a memory or percent value")
        return _check_range(option, value)
    if kind == "enum":
        lowered = text.lower()
        if lowered not in ENUMS[option.name]:
            raise ConfigError(_enum_error(option.name))
        return lowered
    if kind == "flags":
        return _parse_shutdown_flags(option.name, _split_multi(text))
    if kind == "special":
        return _SPECIAL_PARSERS[option.name](_split_multi(text) if option.name in MULTI_ARG else [text])
    return text


def _split_multi(text: str) -> list[str]:
    """How Redis splits a multi-word value: on each single space (so "a  b" has an empty word)."""
    return text.split(" ") if text else []


def _enum_error(name: str) -> str:
    return "argument(s) must be one of the following: " + ", ".join(ENUMS[name])


def _parse_int(text: str) -> int | None:
    """Redis's string2ll: optional '-', no spaces, no '+', no leading zeros."""
    if not re.fullmatch(r"0|-?[1-9]\d*", text):
        return None
    return int(text)


def _parse_shutdown_flags(name: str, words: list[str]) -> str:
    flags = {word.lower() for word in words}
    if not flags or not flags <= set(ENUMS[name]):
        raise ConfigError(_enum_error(name))
    if {"save", "nosave"} <= flags:
        raise ConfigError("shutdown options SAVE and NOSAVE can't be used simultaneously")
    # "default" is no flag at all: it only shows when nothing else is set.
    return " ".join(flag for flag in _SHUTDOWN_FLAG_ORDER if flag in flags) or "default"


def _parse_save(words: list[str]) -> str:
    if not words:
        return ""
    if len(words) % 2 or any(_parse_int(word) is None or int(word) < 0 for word in words):
        raise ConfigError("Invalid save parameters")
    return " ".join(str(int(word)) for word in words)


def _parse_bind(words: list[str]) -> str:
    if len(words) > 16:
        raise ConfigError("Too many bind addresses specified.")
    return " ".join(words)


def _parse_buffer_limits(words: list[str], current: str | None = None) -> str:
    """client-output-buffer-limit: <class> <hard> <soft> <seconds> groups, merged into the current ones."""
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits = _buffer_limits_dict(current or OPTIONS["client-output-buffer-limit"].default)
    for i in range(0, len(words), 4):
        cls = _BUFFER_CLASS_ALIASES.get(words[i].lower())
        if cls is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
        seconds = _parse_int(words[i + 3])
        if hard is None or soft is None or seconds is None or seconds < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[cls] = (hard, soft, seconds)
    return " ".join(f"{cls} {h} {s} {sec}" for cls, (h, s, sec) in limits.items())


def _buffer_limits_dict(text: str) -> dict[str, tuple[int, int, int]]:
    words = text.split()
    limits = {cls: (0, 0, 0) for cls in _BUFFER_CLASSES}
    for i in range(0, len(words) - 3, 4):
        limits[_BUFFER_CLASS_ALIASES[words[i]]] = (int(words[i + 1]), int(words[i + 2]), int(words[i + 3]))
    return limits


def _parse_oom_values(words: list[str]) -> str:
    if len(words) != 3:
        raise ConfigError("wrong number of arguments")
    values = [_parse_int(word) for word in words]
    if any(value is None or not -2000 <= value <= 2000 for value in values):
        raise ConfigError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
    return " ".join(str(value) for value in values)


def _parse_notify(words: list[str]) -> str:
    """notify-keyspace-events: validate the letters; store each class letter once ('A' expanded)."""
    text = words[0] if words else ""
    if any(ch not in _EVENT_LETTERS for ch in text):
        raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    classes = set(text.replace("A", _EVENT_ALL))
    return "".join(ch for ch in _EVENT_ALL + "nKEm" if ch in classes)


def format_notify_flags(stored: str) -> str:
    """Redis's keyspaceEventsFlagsToString: 'A' when every class is on (hiding 'n'), then K, E, m."""
    classes = set(stored)
    if set(_EVENT_ALL) <= classes:
        out = "A"
    else:
        out = "".join(ch for ch in _EVENT_ALL + "n" if ch in classes)
    return out + "".join(ch for ch in "KEm" if ch in classes)


def _parse_percentiles(words: list[str]) -> str:
    values = []
    for word in words:
        try:
            value = float(word)
        except ValueError:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters") from None
        if not 0.0 <= value <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
        values.append(value)
    return " ".join((f"{v:f}".rstrip("0").rstrip(".") or "0") for v in values)


def _parse_replicaof(words: list[str]) -> str:
    if not words:
        return ""
    if len(words) != 2:
        raise ConfigError("wrong number of arguments")
    if words[0].lower() == "no" and words[1].lower() == "one":
        return ""
    port = _parse_int(words[1])
    if port is None or not 0 <= port <= 65535:
        raise ConfigError("Invalid master port")
    return f"{words[0]} {port}"


def _parse_title_template(words: list[str]) -> str:
    template = words[0]
    known = {"{title}", "{listen-addr}", "{server-mode}", "{port}", "{tls-port}", "{unixsocket}", "{config-file}"}
    if any(part not in known for part in re.findall(r"\{[^}]*\}", template)) or template.count("{") != template.count("}"):
        raise ConfigError("template format is invalid or contains unknown variables")
    return template


_SPECIAL_PARSERS: dict[str, Any] = {
    "save": _parse_save,
    "bind": _parse_bind,
    "client-output-buffer-limit": _parse_buffer_limits,
    "oom-score-adj-values": _parse_oom_values,
    "notify-keyspace-events": _parse_notify,
    "latency-tracking-info-percentiles": _parse_percentiles,
    "replicaof": _parse_replicaof,
    "proc-title-template": _parse_title_template,
}


def _parse_time_scale(words: list[str]) -> str:
    """cluster-time-scale: a factor between clock.MIN_TIME_SCALE and MAX_TIME_SCALE, kept
    as its shortest text ("10", "0.1"); the cluster support reads it with float()."""
    from .clock import MAX_TIME_SCALE, MIN_TIME_SCALE

    try:
        factor = float(words[0])
    except ValueError:
        raise ConfigError("argument couldn't be parsed into a number") from None
    if not MIN_TIME_SCALE <= factor <= MAX_TIME_SCALE:  # also refuses nan and inf
        raise ConfigError(f"argument must be between {MIN_TIME_SCALE:g} and {MAX_TIME_SCALE:g} inclusive")
    text = repr(factor)
    return text[:-2] if text.endswith(".0") else text


_SPECIAL_PARSERS["cluster-time-scale"] = _parse_time_scale


def format_value(option: Option, value: Any) -> str:
    """The text CONFIG GET shows for a value."""
    if option.kind == "bool":
        return "yes" if value else "no"
    if option.kind == "percent" and value < 0:
        return f"{-value}%"
    if option.name == "unixsocketperm":
        return f"{value:o}"
    if option.name == "notify-keyspace-events":
        return format_notify_flags(value)
    return str(value)


_ALIASES_OF: dict[str, list[str]] = {}
for _alias, _canonical in ALIASES.items():
    _ALIASES_OF.setdefault(_canonical, []).append(_alias)


class _Values(dict):  # type: ignore[type-arg]
    """Option values by canonical name, mirrored as plain attributes of their Config.

    Reading an option (``config.proto_max_bulk_len``) happens on every request, so
    the value is also kept in the Config's ``__dict__``, where attribute lookup finds
    it without going through ``__getattr__``.
    """

    def __init__(self, mirror: dict[str, Any]) -> None:
        super().__init__()
        self._mirror = mirror

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        self._mirror[name.replace("-", "_")] = value
        for alias in _ALIASES_OF.get(name, ()):
            self._mirror[alias.replace("-", "_")] = value


class Config:
    """The values of every option; attribute access uses underscores (``config.node_timeout``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_values", _Values(self.__dict__))
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

    def get_text(self, name: str) -> str:
        """An option's value as CONFIG GET shows it."""
        canonical = canonical_name(name)
        return format_value(OPTIONS[canonical], self._values[canonical])

    def check_value(self, name: str, text: str) -> Any:
        """Parse a CONFIG SET value (all words in one argument) without storing it."""
        canonical = canonical_name(name)
        option = OPTIONS[canonical]
        if canonical == "client-output-buffer-limit":
            return _parse_buffer_limits(text.split(), self._values[canonical])
        return parse_value(option, text)

    def set_from_text(self, name: str, args: list[str]) -> None:
        """Set an option from its words in a config file; raise ConfigError."""
        canonical = canonical_name(name)
        option = OPTIONS.get(canonical)
        if option is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        if canonical in _FILE_ONLY:
            self._values[canonical] = " ".join(args)
            return
        if canonical == "save":
            # In a file, each "save" line adds points; an empty one clears them.
            value = _parse_save([word for word in args if word])
            previous = self._values[canonical] if getattr(self, "_save_seen", False) else ""
            object.__setattr__(self, "_save_seen", True)
            self._values[canonical] = (previous + " " + value).strip() if value else ""
            return
        if canonical == "client-output-buffer-limit":
            self._values[canonical] = _parse_buffer_limits(args, self._values[canonical])
            return
        if canonical in MULTI_ARG:
            if canonical == "replicaof" and len(args) != 2:
                raise ConfigError("wrong number of arguments")
            self._values[canonical] = parse_value(option, " ".join(args))
            return
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        self._values[canonical] = parse_value(option, args[0])

    def get_matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, value text) for the options a CONFIG GET argument selects.

        A pattern with glob characters matches every visible option and alias name; a
        plain name selects that one option (hidden ones too) and is echoed as given.
        """
        if not any(ch in pattern for ch in "*?["):
            canonical = canonical_name(pattern)
            if canonical not in OPTIONS or canonical in _FILE_ONLY:
                return []
            return [(pattern, self.get_text(canonical))]
        results = []
        lowered = pattern.lower()
        for name in list(OPTIONS) + list(ALIASES):
            if name in _FILE_ONLY or name in HIDDEN:
                continue
            if fnmatch.fnmatchcase(name, lowered):
                results.append((name, self.get_text(name)))
        return results

    def rewrite(self, force_all: bool = False) -> None:
        """CONFIG REWRITE: update the config file in place, keeping comments and order."""
        if not self.path:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.path, encoding="utf-8", errors="surrogateescape") as handle:
                old_lines = handle.read().split("\n")
        except FileNotFoundError:
            old_lines = []
        new_text = rewrite_config_lines(self, old_lines, force_all)
        with open(self.path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(new_text)


#: The line CONFIG REWRITE writes before the options it appends.
REWRITE_SIGNATURE = "# Generated by CONFIG REWRITE"


def _format_memory_for_file(value: int) -> str:
    for unit, size in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)




def option_file_lines(config: Config, name: str) -> list[str]:
    """The config-file lines that state an option's current value (several for save...)."""
    option = OPTIONS[name]
    value = config.get(name)
    if name == "save":
        words = str(value).split()
        if not words:
            return ['save ""']
        return [f"save {words[i]} {words[i + 1]}" for i in range(0, len(words), 2)]
    if name == "client-output-buffer-limit":
        default = _buffer_limits_dict(option.default)
        lines = []
        for cls, limits in _buffer_limits_dict(str(value)).items():
            if limits != default[cls]:
                hard, soft, seconds = limits
                lines.append(f"client-output-buffer-limit {cls} {_format_memory_for_file(hard)} "
                             f"{_format_memory_for_file(soft)} {seconds}")  # fmt: skip
        return lines
    if name == "replicaof":
        return [f"replicaof {value}"] if value else []
    if option.kind == "memory":
        return [f"{name} {_format_memory_for_file(int(value))}"]
    if option.kind in ("bool", "int", "enum", "percent") or name in ("unixsocketperm",):
        return [f"{name} {format_value(option, value)}"]
    if option.kind == "flags" or name in ("bind", "oom-score-adj-values", "latency-tracking-info-percentiles"):
        return [f"{name} {value}"]
    return [f"{name} {sds_repr(str(value).encode('utf-8', 'surrogateescape'))}"]


def rewrite_config_lines(config: Config, old_lines: list[str], force_all: bool = False) -> str:
    """Redis's rewriteConfig: reuse each option's old lines in place, append the new ones."""
    lines: list[str | None] = list(old_lines)
    while lines and lines[-1] == "":
        lines.pop()
    positions: dict[str, list[int]] = {}
    has_signature = False
    for index, raw in enumerate(lines):
        assert raw is not None
        stripped = raw.strip()
        if stripped == REWRITE_SIGNATURE:
            has_signature = True
        if not stripped or stripped.startswith("#"):
            continue
        words = tokenize_config_line(stripped)
        if not words:
            continue
        name = canonical_name(words[0])
        if name in OPTIONS and name not in _FILE_ONLY:
            positions.setdefault(name, []).append(index)
    defaults = Config()
    appended: list[str] = []
    for name in OPTIONS:
        if name in _FILE_ONLY or name in HIDDEN:
            continue
        new_lines = option_file_lines(config, name)
        force = force_all or name == "dir" or config.get_text(name) != defaults.get_text(name)
        old = positions.pop(name, [])
        if not old and not force:
            continue
        for index in old:
            lines[index] = new_lines.pop(0) if new_lines else None
        appended.extend(new_lines)
    if appended:
        if not has_signature:
            lines.append(REWRITE_SIGNATURE)
        lines.extend(appended)
    return "\n".join(line for line in lines if line is not None) + "\n"


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
