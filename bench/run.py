#!/usr/bin/env python3
"""Benchmark our node against a real redis-server, in the same run, as a ratio.

Starts both servers on free loopback ports, runs ``redis-benchmark`` for each test at
``-P 1`` and ``-P 16`` with 50 clients, and prints ops/s, p99 latency and our ratio to
redis-server as a Markdown table (paste it into the README). Both servers see the same
load on the same machine, so the ratio is what means something, not the raw numbers.

    python bench/run.py                     # every test, 100k requests each
    python bench/run.py --tests set,get -n 200000 --loop asyncio
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

TESTS = "set,get,incr,lpush,lpop,sadd,hset,zadd,mset"
ZADD = ["zadd", "myzset", "__rand_int__", "member:__rand_int__"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ping(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING")


@contextmanager
def server(command: list[str]) -> Iterator[None]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_benchmark(port: int, test: str, pipeline: int, requests: int, clients: int) -> dict[str, float]:
    """One redis-benchmark run; returns rps and latency percentiles (ms)."""
    args = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
            "-r", "100000", "--csv"]  # fmt: skip
    args += ["-t", test] if test != "zadd" else ZADD
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[0]
    return {key: float(value) for key, value in row.items() if key != "test"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default=TESTS)
    parser.add_argument("-n", "--requests", type=int, default=100_000)
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    opts = parser.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install -y redis-server redis-tools", file=sys.stderr)
            return 2
    ours, theirs = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="bench-")
    ours_cmd = [sys.executable, "-m", "pyredis_cluster", "--port", str(ours), "--dir", workdir, "--loop", opts.loop]
    real_cmd = ["redis-server", "--port", str(theirs), "--save", "", "--appendonly", "no", "--dir", workdir]
    print(f"# pyredis_cluster vs redis-server, {opts.clients} clients, {opts.requests} requests, loop={opts.loop}, "
          f"{os.cpu_count()} cores\n")  # fmt: skip
    print("| test | -P | redis ops/s | ours ops/s | ratio | redis p99 ms | ours p99 ms | p99 ratio |")
    print("|---|---|---|---|---|---|---|---|")
    with server(ours_cmd), server(real_cmd):
        wait_for_ping(ours)
        wait_for_ping(theirs)
        for pipeline in (int(p) for p in opts.pipelines.split(",")):
            for test in opts.tests.split(","):
                scale = 4 if pipeline > 1 else 1  # pipelined runs are short: give them more requests
                real = run_benchmark(theirs, test, pipeline, opts.requests * scale, opts.clients)
                mine = run_benchmark(ours, test, pipeline, opts.requests * scale, opts.clients)
                print(f"| {test.upper()} | {pipeline} | {real['rps']:.0f} | {mine['rps']:.0f} | "
                      f"{mine['rps'] / real['rps']:.2f} | {real['p99_latency_ms']:.3f} | "
                      f"{mine['p99_latency_ms']:.3f} | {mine['p99_latency_ms'] / max(real['p99_latency_ms'], 1e-3):.2f} |",
                      flush=True)  # fmt: skip
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
