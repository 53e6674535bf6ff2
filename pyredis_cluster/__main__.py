"""Command line: ``python -m pyredis_cluster [config-file] [--option value ...]``.

It behaves like ``redis-server``: options come from a config file given as the first
argument and/or ``--name value`` flags (flags win), the process stays in the
foreground, logs to stdout (or ``logfile``), and shuts down cleanly on SIGINT/SIGTERM.
Two flags are ours: ``--loop uvloop|asyncio`` picks the event loop (uvloop when it is
installed), and ``--version``. ``python -m pyredis_cluster cluster start|stop|status``
runs a local cluster of such processes (see localcluster.py); TOOLS lists every such tool.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys

from . import __version__
from .config import REDIS_VERSION, Config, ConfigError, args_to_config_text, load_config_text

log = logging.getLogger("pyredis_cluster")


def build_config(argv: list[str]) -> Config:
    """Read the config file (first argument, unless it starts with --) then the flags."""
    config = Config()
    text = ""
    if argv and not argv[0].startswith("--"):
        path = os.path.abspath(argv[0])
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as err:
            raise ConfigError(f"Fatal error, can't open config file '{argv[0]}': {err.strerror}") from None
        config.path = path
        argv = argv[1:]
    if argv:
        text += "\n" + args_to_config_text(argv)
    load_config_text(config, text)
    return config


def _pop_flag(argv: list[str], name: str) -> str | None:
    if name in argv:
        index = argv.index(name)
        if index + 1 < len(argv):
            value = argv[index + 1]
            del argv[index : index + 2]
            return value
    return None


async def serve(config: Config) -> int:
    from .server.cluster_node import ClusterConfigError
    from .server.logsetup import configure_logging
    from .server.node import Node

    configure_logging(config.loglevel, config.logfile)
    loop = asyncio.get_running_loop()
    # An error escaping a callback is logged like any other, never printed on stderr.
    loop.set_exception_handler(lambda _loop, context: log.warning(
        "Unexpected error in the event loop: %s", context.get("exception") or context.get("message")))
    # Signals are handled before the node listens, as in Redis: a SIGTERM sent as soon
    # as the first PING is answered must shut down cleanly, not kill the process.
    stop = asyncio.Event()

    def on_signal(name: str) -> None:
        log.warning("Received %s scheduling shutdown...", name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        node = Node(config)
        node.shutdown_requested = stop
        node.owns_process = True
        await node.start()
    except (OSError, ClusterConfigError) as err:
        log.warning("%s", err)  # Redis logs the reason and exits with status 1
        return 1
    mode = "cluster" if config.cluster_enabled else "standalone"
    log.info("Running mode=%s, port=%d.", mode, node.port)
    log.warning("Server initialized")
    log.info("Ready to accept connections")
    await stop.wait()
    log.warning("User requested shutdown...")
    await node.close()
    log.warning("%s is now ready to exit, bye bye...", "Redis")
    return 0


#: first word -> (module, function(argv) -> exit code) of the tools that share this
#: entry point; a first word not listed here is a config file or an option, as for
#: redis-server. Imported only when used, so starting a node stays cheap.
TOOLS: dict[str, tuple[str, str]] = {
    "cluster": (".localcluster", "main"),  # cluster start|stop|status: a local cluster
    "clock": (".clocktool", "main"),  # clock --port 7000 scale|freeze|step|advance|resume: slow motion
    "trace": (".tracecli", "main"),  # trace --port 7000: the bus messages and events, as a story
    "view": (".web.cli", "main"),  # view --port 7000: the live view in the browser
    "workshop": (".workshop.runner", "main"),  # workshop list|run <name>: scenarios that teach
}

#: One line of --help per tool: its arguments, what it is for (its own --help says more).
TOOL_USAGE: dict[str, tuple[str, str]] = {
    "cluster": ("start|stop|status", "a local cluster of node processes"),
    "trace": ("--port 7000 [--chatter|--json]", "the bus messages and events, as a story"),
    "clock": ("--port 7000 scale|freeze|step|...", "slow motion and step mode"),
    "view": ("--port 7000 [--http-port 8080]", "the live view in the browser"),
    "workshop": ("list|run <name>", "scenarios that teach"),
}
assert set(TOOL_USAGE) == set(TOOLS), "every tool needs a usage line"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tool = TOOLS.get(argv[0]) if argv else None
    if tool is not None:  # a tool, not a node: `python -m pyredis_cluster cluster start ...`
        module_name, function_name = tool
        module = importlib.import_module(module_name, __package__)
        return int(getattr(module, function_name)(argv[1:]))
    if argv[:1] in (["--version"], ["-v"]):
        print(f"Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=pyredis_cluster-{__version__}")
        return 0
    if argv[:1] in (["--help"], ["-h"]):
        print("Usage: python -m pyredis_cluster [/path/to/redis.conf] [--option value] [--loop uvloop|asyncio]")
        width = max(len(f"{name} {arguments}") for name, (arguments, _) in TOOL_USAGE.items())
        for name, (arguments, purpose) in TOOL_USAGE.items():
            print(f"       python -m pyredis_cluster {f'{name} {arguments}':{width}}   {purpose}")
        return 0
    loop_name = _pop_flag(argv, "--loop") or "uvloop"
    try:
        config = build_config(argv)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 1
    if config.dir:
        try:
            os.chdir(config.dir)
        except OSError as err:
            print(f"Can't chdir to '{config.dir}': {err.strerror}", file=sys.stderr)
            return 1
    runner = asyncio.run
    if loop_name == "uvloop":
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    elif loop_name != "asyncio":
        print(f"Unknown --loop '{loop_name}': use uvloop or asyncio", file=sys.stderr)
        return 1
    try:
        return runner(serve(config))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
