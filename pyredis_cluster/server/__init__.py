"""The client-facing server: connections, dispatch, keyspace and command handlers."""
