"""Unit tests of ingest (mirrors the source tree)."""
