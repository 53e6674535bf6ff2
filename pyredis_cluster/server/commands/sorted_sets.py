"""sorted_sets commands (to be written)."""
