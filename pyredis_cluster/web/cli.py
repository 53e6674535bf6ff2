"""``python -m pyredis_cluster view``: serve the live view of a running cluster (server.py).

::

    python -m pyredis_cluster view --port 7000 [--host 127.0.0.1] [--http-port 8080] [--chatter]

The server needs the ``view`` extra (aiohttp, redis-py). It is imported only once the
arguments are read, so a missing extra is one clear line, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio

EXTRA_MISSING = "The live view needs the 'view' extra: python -m pip install 'pyredis-cluster[view]' ({})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pyredis_cluster view",
                                     description="Serve a live view of a running cluster in the browser.")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="a node's address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7000, help="a node's client port (default 7000)")
    parser.add_argument("--http-host", default="127.0.0.1", help="where the page is served (default 127.0.0.1)")
    parser.add_argument("--http-port", type=int, default=8080, help="the page's port (default 8080; 0: any free)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between polls of a node")
    parser.add_argument("--chatter", action="store_true", help="show PING/PONG trace records in the timeline")
    return parser


async def serve_forever(args: argparse.Namespace) -> None:
    from .server import serve_view

    async with serve_view([(args.host, args.port)], args.http_port, http_host=args.http_host,
                          interval=args.interval, chatter=args.chatter) as url:  # fmt: skip
        print(f"Live view of the cluster at {args.host}:{args.port}: open {url}  (Ctrl-C stops)", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        import aiohttp  # noqa: F401
        import redis  # noqa: F401
    except ImportError as err:
        print(EXTRA_MISSING.format(err))
        return 1
    try:
        asyncio.run(serve_forever(args))
    except KeyboardInterrupt:
        return 0
    except OSError as err:  # e.g. the HTTP port is busy
        print(f"Could not serve the live view: {err}")
        return 1
    return 0
