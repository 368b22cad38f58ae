"""``hub apikey``: a key is printed once, stored only hashed, listed without it,
and refused by the API once revoked."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from hub.config import Settings
from hub.store.db import connect
from tests.integration.helpers import hub_env


def _hub(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "apikey", *args],
        env=hub_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_key_is_shown_once_and_stored_only_as_a_hash(migrated: Settings) -> None:
    created = _hub(migrated, "create", "--role", "operator", "--name", "field crew")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("hub_") and len(key) == 47
    assert "shown only this once" in created.stdout

    with connect(migrated.database_url, "test") as conn:
        row = conn.execute("SELECT key_hash, role, name, prefix FROM api_keys").fetchone()
    assert row is not None
    assert bytes(row[0]) == hashlib.sha256(key.encode()).digest()
    assert (row[1], row[2], row[3]) == ("operator", "field crew", key[:12])

    listed = _hub(migrated, "list")
    assert listed.returncode == 0
    assert key[:12] in listed.stdout and key not in listed.stdout
    assert "field crew" in listed.stdout and "never" in listed.stdout

    revoked = _hub(migrated, "revoke", "1")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in _hub(migrated, "list").stdout
    again = _hub(migrated, "revoke", "1")
    assert again.returncode == 1 and "no active API key with id 1" in again.stdout


def test_bad_role_and_unmigrated_database_are_clear_errors(settings: Settings) -> None:
    bad_role = _hub(settings, "create", "--role", "root", "--name", "x")
    assert bad_role.returncode == 2 and "invalid choice: 'root'" in bad_role.stderr
    unmigrated = _hub(settings, "list")
    assert unmigrated.returncode == 1
    assert "run 'hub migrate' first" in unmigrated.stderr
    assert "Traceback" not in unmigrated.stderr
