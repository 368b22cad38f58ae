"""The dead-letter API's reasons (hub/api/deadletters.py)."""

from __future__ import annotations

from typing import get_args

from hub import errors
from hub.api.deadletters import Reason


def test_the_api_knows_every_dead_letter_reason() -> None:
    assert set(get_args(Reason)) == set(errors.DEAD_LETTER_REASONS)
