"""Unit tests of the NGSI-LD interface (mirrors the source tree)."""
