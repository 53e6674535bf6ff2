"""RESP, the Redis serialization protocol: bytes in, frames out, and back. No I/O here."""
