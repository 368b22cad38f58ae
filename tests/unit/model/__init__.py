"""Unit tests of hub.model (mirrors the source tree)."""
