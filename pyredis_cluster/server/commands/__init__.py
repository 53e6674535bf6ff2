"""Command handlers, one module per data type or group. Importing this fills the table."""

from . import (  # noqa: F401
    bitmaps,
    cluster,
    command_info,
    connection,
    dump,
    geo,
    hashes,
    keys,
    lists,
    migrate,
    pubsub,
    replication,
    server,
    sets,
    sort,
    sorted_sets,
    strings,
    transactions,
)
