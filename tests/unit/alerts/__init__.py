"""Unit tests of alerts (mirrors the source tree)."""
