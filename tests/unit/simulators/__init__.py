"""Unit tests of simulators (mirrors the source tree)."""
