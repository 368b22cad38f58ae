"""Unit tests of hub.commands (mirrors the source tree)."""
