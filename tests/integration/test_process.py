"""The node as a process behaves like redis-server: tools that start and stop
redis-server must work with ours unchanged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import RawClient, free_port, wait_until

PYTHON = [sys.executable, "-m", "pyredis_cluster"]


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*PYTHON, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[int, bytes, bytes]:
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def ping(port: int) -> bool:
    with RawClient(port, timeout=2) as conn:
        return conn.call("PING") == "PONG"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_runs_in_foreground_logs_to_stdout_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    port = free_port()
    proc = start(["--port", str(port), "--dir", str(tmp_path)], tmp_path)
    try:
        started = time.monotonic()
        wait_until(lambda: ping(port), timeout=30, what="PING after start")
        assert time.monotonic() - started < 30
    finally:
        code, out, err = stop(proc, sig)
    assert code == 0
    assert err == b"", "nothing on stderr in a normal run"
    text = out.decode()
    assert "Ready to accept connections" in text
    assert "ready to exit, bye bye" in text
    # Redis's log shape: "pid:M 25 Nov 2026 13:14:06.400 * message"
    first = text.splitlines()[0]
    assert first.split(":", 1)[0] == str(proc.pid)
    assert first.split(" ")[0].endswith(":M")


def test_config_file_then_flags_win_and_path_kept_for_rewrite(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "node.conf"
    conf.write_text("# my node\nport 1\nmaxclients 123\n")
    proc = start([str(conf), "--port", str(port)], tmp_path)
    try:
        wait_until(lambda: ping(port), timeout=30, what="PING")
        with RawClient(port) as conn:
            assert conn.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"123"]
            assert conn.call("CONFIG", "SET", "maxclients", "77") == "OK"
            assert conn.call("CONFIG", "REWRITE") == "OK"
    finally:
        stop(proc)
    rewritten = conf.read_text()
    assert rewritten.startswith("# my node\n")
    assert "maxclients 77" in rewritten


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("port 7000\nnot-an-option yes\n", 2, "Bad directive or wrong number of arguments"),
        ("port abc\n", 1, "argument couldn't be parsed into an integer"),
        ("appendonly maybe\n", 1, "argument must be 'yes' or 'no'"),
    ],
)
def test_bad_config_stops_startup_naming_the_line(tmp_path: Path, content: str, line: int, reason: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(content)
    proc = subprocess.run([*PYTHON, str(conf)], cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in err
    assert f"at line {line}" in err
    assert reason in err


def test_version_flag() -> None:
    out = subprocess.run([*PYTHON, "--version"], capture_output=True, timeout=60, text=True).stdout
    assert out.startswith("Redis server v=7.0.15 ")


def test_busy_port_fails_with_redis_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run([*PYTHON, "--port", str(port), "--dir", str(tmp_path)], capture_output=True,
                              timeout=60, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert "Could not create server TCP listening socket" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_cluster_node_restarts_with_same_id(tmp_path: Path) -> None:
    from tests.support import free_cluster_port

    port = free_cluster_port()
    args = ["--port", str(port), "--cluster-enabled", "yes", "--dir", str(tmp_path)]
    proc = start(args, tmp_path)
    try:
        wait_until(lambda: ping(port), timeout=30, what="PING")
        with RawClient(port) as conn:
            node_id = conn.call("CLUSTER", "MYID")
            assert conn.call("CLUSTER", "ADDSLOTSRANGE", "0", "99") == "OK"
    finally:
        stop(proc)
    assert (tmp_path / "nodes.conf").exists()
    proc = start(args, tmp_path)
    try:
        wait_until(lambda: ping(port), timeout=30, what="PING after restart")
        with RawClient(port) as conn:
            assert conn.call("CLUSTER", "MYID") == node_id
            assert b" 0-99" in conn.call("CLUSTER", "NODES")
    finally:
        stop(proc)


def test_corrupt_nodes_conf_stops_startup_and_is_kept(tmp_path: Path) -> None:
    from tests.support import free_cluster_port

    nodes_conf = tmp_path / "nodes.conf"
    nodes_conf.write_text("this is not a nodes.conf line\n")
    proc = subprocess.run([*PYTHON, "--port", str(free_cluster_port()), "--cluster-enabled", "yes",
                           "--dir", str(tmp_path)], capture_output=True, timeout=60, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert "corrupted cluster config file" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert nodes_conf.read_text() == "this is not a nodes.conf line\n", "never silently overwritten"


def test_no_traceback_on_stderr_for_env(tmp_path: Path) -> None:
    # PYTHONWARNINGS=error must not turn a normal start into a crash either.
    port = free_port()
    env = dict(os.environ, PYTHONWARNINGS="error")
    proc = subprocess.Popen([*PYTHON, "--port", str(port), "--dir", str(tmp_path), "--loop", "asyncio"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip
    try:
        wait_until(lambda: ping(port), timeout=30, what="PING")
    finally:
        code, _, err = stop(proc)
    assert code == 0 and err == b""
