"""The Redis Cluster protocol: slots, nodes, bus messages and their codec, nodes.conf.

Everything here is pure (no asyncio, no sockets) except ``bus.py``. Import the
submodules directly (``from pyredis_cluster.cluster.codec import BusDecoder``);
this package file stays empty so importing it costs nothing.
"""
