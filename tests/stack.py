"""Settings for a hub that talks to the test session's private stack (tests/conftest.py's
``stack`` fixture), shared by the per-test ``settings`` fixture and the e2e fleet."""

from __future__ import annotations

from pathlib import Path

from hub.config import Settings, load_settings
from hub.devstack import Devstack


def stack_settings(
    stack: Devstack, database_url: str, *, topic_prefix: str, client_id: str, profiles_dir: Path
) -> Settings:
    """A hub's settings on the private broker and the given database, with a short
    batch delay so that tests see their rows quickly."""
    return load_settings(
        database_url=database_url,
        mqtt_url=stack.mosquitto.url,
        topic_prefix=topic_prefix,
        mqtt_client_id=client_id,
        profiles_dir=profiles_dir,
        batch_max_delay_ms=50,
    )
