"""Errors of the SensorThings read API (answered as 400/404 problem details).

QueryError         a query option or resource path is malformed or unsupported
                   (option, 0-based position in its text, reason)
EntityNotFound     the addressed entity does not exist
"""

from __future__ import annotations


class QueryError(Exception):
    def __init__(self, option: str, reason: str, pos: int | None = None) -> None:
        where = f" at position {pos}" if pos is not None else ""
        super().__init__(f"{option}{where}: {reason}")
        self.option = option
        self.reason = reason
        self.pos = pos


class EntityNotFound(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"no such entity: {path}")
        self.path = path
