"""Configuration parsing, checking and rewriting (pure: no server).

Expected texts are Redis 7.0's (the same values are also compared with a live
redis-server through CONFIG SET in tests/integration/test_diff_server.py).
"""

from __future__ import annotations

import pytest

from pyredis_cluster.config import (
    OPTIONS,
    REWRITE_SIGNATURE,
    Config,
    ConfigError,
    load_config_text,
    parse_memory,
    rewrite_config_lines,
)


@pytest.mark.parametrize("text,value", [("0", 0), ("1k", 1000), ("1kb", 1024), ("1KB", 1024), ("2mb", 2 * 1024**2),
                                        ("1g", 10**9), ("3gb", 3 * 1024**3)])  # fmt: skip
def test_memory_units(text: str, value: int) -> None:
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "-1", "1.5", "1tb", " 1", "k"])
def test_bad_memory_values(text: str) -> None:
    assert parse_memory(text) is None


@pytest.mark.parametrize("name,text,error", [
    ("timeout", "+5", "argument couldn't be parsed into an integer"),
    ("timeout", "05", "argument couldn't be parsed into an integer"),
    ("timeout", "-1", "argument must be between 0 and 2147483647 inclusive"),
    ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
    ("appendonly", "maybe", "argument must be 'yes' or 'no'"),
    ("appendfsync", "x", "argument(s) must be one of the following: everysec, always, no"),
    ("maxmemory", "1.5", "argument must be a memory value"),
    ("maxmemory-clients", "101%", "percentage argument must be less or equal to 100"),
    ("save", "1 2 3", "Invalid save parameters"),
    ("notify-keyspace-events", "Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    ("oom-score-adj-values", "1 2", "wrong number of arguments"),
    ("shutdown-on-sigterm", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously"),
    ("client-output-buffer-limit", "normal 1 2", "Wrong number of arguments in buffer limit configuration."),
])  # fmt: skip
def test_values_are_checked_with_redis_texts(name: str, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config().check_value(name, text)
    assert str(caught.value) == error


@pytest.mark.parametrize("name,text,shown", [
    ("notify-keyspace-events", "KEA", "AKE"), ("notify-keyspace-events", "gx$", "g$x"),
    ("notify-keyspace-events", "AKEmn", "AKEm"), ("notify-keyspace-events", "Elsn", "lsnE"),
    ("maxmemory-clients", "10%", "10%"), ("maxmemory", "1kb", "1024"), ("loglevel", "WARNING", "warning"),
    ("shutdown-on-sigint", "now nosave force", "nosave now force"), ("shutdown-on-sigint", "default now", "now"),
    ("latency-tracking-info-percentiles", "0.0 50.0 99.90", "0 50 99.9"), ("save", "", ""),
    ("client-output-buffer-limit", "replica 1mb 2mb 3",
     "normal 0 0 0 slave 1048576 2097152 3 pubsub 33554432 8388608 60"),
])  # fmt: skip
def test_values_are_shown_like_redis(name: str, text: str, shown: str) -> None:
    config = Config()
    setattr(config, name, config.check_value(name, text))
    assert config.get_text(name) == shown


def test_notify_flags_are_stored_expanded_for_the_node() -> None:
    config = Config()
    config.notify_keyspace_events = config.check_value("notify-keyspace-events", "KEA")
    assert all(cls in config.notify_keyspace_events for cls in "g$lshzxetdKE")


def test_config_get_matching() -> None:
    config = Config()
    assert config.get_matching("MAXMEMORY") == [("MAXMEMORY", "0")]  # exact names are echoed as given
    assert config.get_matching("key-load-delay") == [("key-load-delay", "0")]  # hidden, but named exactly
    assert config.get_matching("key-load*") == []
    names = {name for name, _ in config.get_matching("*")}
    assert {"slaveof", "replicaof", "hash-max-ziplist-entries"} <= names
    assert not names & {"include", "rename-command", "user", "loadmodule", "key-load-delay"}


def test_config_file_save_lines_accumulate_and_empty_resets() -> None:
    config = Config()
    load_config_text(config, "save 900 1\nsave 300 10\n")
    assert config.save == "900 1 300 10"
    load_config_text(config, 'save ""\n')
    assert config.save == ""


def test_fatal_config_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(Config(), "port 1\nmaxmemory lots\n")
    assert "at line 2" in str(caught.value) and ">>> 'maxmemory lots'" in str(caught.value)


def test_rewrite_reuses_lines_and_appends_new_options() -> None:
    config = Config()
    old = ["# header comment", "maxmemory 1mb", "hash-max-ziplist-entries 20", "", "save 100 1", "save 200 2",
           "timeout 0", "# trailing comment"]  # fmt: skip
    load_config_text(config, "\n".join(old))
    config.maxmemory = 3 * 1024**3
    config.hash_max_listpack_entries = 100
    config.save = "300 3"
    config.maxclients = 50
    config.dir = "/tmp/some dir"
    lines = rewrite_config_lines(config, old).split("\n")
    assert lines[:7] == ["# header comment", "maxmemory 3gb", "hash-max-listpack-entries 100", "", "save 300 3",
                         "timeout 0", "# trailing comment"]  # fmt: skip
    tail = lines[lines.index(REWRITE_SIGNATURE) + 1 :]
    assert 'dir "/tmp/some dir"' in tail and "maxclients 50" in tail
    assert lines[-1] == ""  # ends with a newline
    reread = Config()
    load_config_text(reread, "\n".join(lines))
    for name in ("maxmemory", "hash-max-listpack-entries", "save", "maxclients", "dir"):
        assert reread.get_text(name) == config.get_text(name), name


def test_rewrite_of_defaults_adds_only_dir() -> None:
    config = Config()
    lines = [line for line in rewrite_config_lines(config, []).split("\n") if line]
    assert lines[0] == REWRITE_SIGNATURE and [line.split()[0] for line in lines[1:]] == ["dir"]


def test_rewrite_force_all_round_trips_every_option() -> None:
    config = Config()
    text = rewrite_config_lines(config, [], force_all=True)
    reread = Config()
    load_config_text(reread, text)
    for name in OPTIONS:
        if name not in ("include", "rename-command", "user", "loadmodule", "key-load-delay", "rdb-key-save-delay",
                        "watchdog-period", "loading-process-events-interval-bytes", "use-exit-on-panic"):  # fmt: skip
            assert reread.get_text(name) == config.get_text(name), name
