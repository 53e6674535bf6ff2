"""pyredis_cluster: a Redis Cluster node in pure Python, compatible with Redis 7.0.

Importing the package is cheap; the server, cluster and testing parts load on use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Node", "Config"]


def __getattr__(name: str) -> object:  # PEP 562: lazy re-exports
    if name == "Node":
        from .server.node import Node

        return Node
    if name == "Config":
        from .config import Config

        return Config
    raise AttributeError(f"module 'pyredis_cluster' has no attribute {name!r}")
