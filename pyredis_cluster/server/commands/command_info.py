"""command_info commands (to be written)."""
