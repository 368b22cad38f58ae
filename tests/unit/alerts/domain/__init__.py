"""Unit tests of alerts.domain (mirrors the source tree)."""
