"""Unit tests of api (mirrors the source tree)."""
