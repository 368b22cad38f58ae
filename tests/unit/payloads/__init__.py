"""Unit tests of payloads (mirrors the source tree)."""
