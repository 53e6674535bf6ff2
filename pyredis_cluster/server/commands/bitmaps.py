"""bitmaps commands (to be written)."""
