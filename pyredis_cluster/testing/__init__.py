"""Test doubles for client-library and application authors (see harness.py)."""
