"""Unit tests of hub.store (mirrors the source tree): the parts without a database."""
