"""sort commands (to be written)."""
