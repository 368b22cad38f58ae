"""Readings encoded in PostgreSQL's binary COPY format, in one piece.

psycopg's ``write_row`` is an await per row; in the ingest that hands the event
loop to the decoder thousands of times per batch. Encoding the whole batch here
(one ``struct.pack`` per row) and sending it with a single ``copy.write`` keeps
the writer's turn short. Layout (PostgreSQL docs, "COPY", binary format): a
header, then per row a 16-bit field count and, per field, a 32-bit length and the
value in network byte order; a 16-bit -1 ends the data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
# 3 fields: int4 series id, timestamptz (int8 microseconds since 2000-01-01 UTC), float8
_ROW = struct.Struct("!hiiiqid")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _micros(time: datetime) -> int:
    """Microseconds since 2000-01-01 UTC, exactly (no float rounding)."""
    delta = time - _PG_EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_readings(rows: Iterable[tuple[int, datetime, float]]) -> bytes:
    """(series_id, time, value) rows as a complete binary COPY stream."""
    pack = _ROW.pack
    parts = [_HEADER]
    parts.extend(pack(3, 4, sid, 8, _micros(time), 8, value) for sid, time, value in rows)
    parts.append(_TRAILER)
    return b"".join(parts)
