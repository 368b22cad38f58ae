"""The one table of error statuses (hub/api/problems.py)."""

from __future__ import annotations

import psycopg
import pytest

from hub import errors
from hub.api.problems import status_of
from hub.errors import ConflictError as Conflict
from hub.errors import InvalidParameter, NotFound


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (InvalidParameter("x", "y"), 422),
        (Conflict("x"), 409),
        (errors.ConflictError("x"), 409),
        (psycopg.errors.DataError("x"), 422),
        (psycopg.OperationalError("x"), 503),
        (RuntimeError("x"), 500),
    ],
)
def test_one_table_turns_errors_into_statuses(error: Exception, status: int) -> None:
    assert status_of(error) == status
