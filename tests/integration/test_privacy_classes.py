"""Data classes in the database (migration 0090): each device's effective class
follows its profile's, an override wins, and a profile's new class reaches its
devices at the next start-up; keys carry the personal permission (0092)."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest

from hub.commands.apikeys import create as create_key
from hub.commands.apikeys import set_permission
from hub.config import Settings
from hub.errors import HubError
from hub.privacy.classes import devices_by_class, sync_profile_classes
from hub.profiles import load_profiles
from hub.store import apikeys
from hub.store.db import connect

SHIPPED = Path(__file__).parents[2] / "device_profiles"


def _classes(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute("SELECT device_id, data_class, data_class_override FROM devices")
    return {device: (data_class, override) for device, data_class, override in rows}


def test_devices_follow_their_profile_unless_overridden(migrated: Settings) -> None:
    profiles = load_profiles(SHIPPED)
    with connect(migrated.database_url, "test") as conn:
        conn.execute(
            "INSERT INTO devices (device_id, profile) VALUES ('wm-1', 'water_meter'), "
            "('aq-1', 'air_quality'), ('x-1', 'unknown_profile')"
        )
        # Before the profiles were loaded, nothing is public by omission.
        assert {d: c for d, (c, _) in _classes(conn).items()} == {
            "wm-1": "internal",
            "aq-1": "internal",
            "x-1": "internal",
        }
        assert sync_profile_classes(conn, profiles) == 2  # wm-1 and aq-1; x-1's profile is unknown
        conn.execute(
            "INSERT INTO devices (device_id, profile, data_class_override) "
            "VALUES ('wm-2', 'water_meter', NULL), ('aq-2', 'air_quality', 'internal')"
        )
        conn.execute("UPDATE devices SET data_class_override = 'public' WHERE device_id = 'x-1'")
        assert _classes(conn) == {
            "wm-1": ("personal", None),
            "aq-1": ("public", None),
            "x-1": ("public", "public"),
            "wm-2": ("personal", None),
            "aq-2": ("internal", "internal"),
        }
        # The effective class cannot be written past the trigger.
        conn.execute("UPDATE devices SET data_class = 'public' WHERE device_id = 'wm-1'")
        assert _classes(conn)["wm-1"] == ("personal", None)
        # Clearing the override follows the profile again; a profile change moves the class.
        conn.execute("UPDATE devices SET data_class_override = NULL WHERE device_id = 'aq-2'")
        conn.execute("UPDATE devices SET profile = 'water_meter' WHERE device_id = 'aq-1'")
        assert _classes(conn)["aq-2"] == ("public", None)
        assert _classes(conn)["aq-1"] == ("personal", None)
        assert devices_by_class(conn) == {"public": 2, "internal": 0, "personal": 3}
        assert sync_profile_classes(conn, profiles) == 0


def test_only_operator_and_admin_keys_may_read_personal_data(migrated: Settings) -> None:
    out = io.StringIO()
    create_key(migrated, role="operator", name="dpo", permissions=("personal",), out=out)
    assert "may read personal data" in out.getvalue()
    with pytest.raises(HubError, match="only operator and admin"):
        create_key(migrated, role="viewer", name="v", permissions=("personal",), out=out)
    create_key(migrated, role="admin", name="a", out=out)
    with connect(migrated.database_url, "test") as conn:
        keys = {k.name: k for k in apikeys.list_all(conn)}
        assert keys["dpo"].personal and not keys["a"].personal
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE api_keys SET role = 'viewer' WHERE name = 'dpo'")
    assert set_permission(migrated, keys["a"].id, "personal", granted=True, out=out)
    assert set_permission(migrated, keys["a"].id, "personal", granted=True, out=out)
    assert set_permission(migrated, keys["dpo"].id, "personal", granted=False, out=out)
    with connect(migrated.database_url, "test") as conn:
        keys = {k.name: k for k in apikeys.list_all(conn)}
    assert keys["a"].permissions == ["personal"] and keys["dpo"].permissions == []


def test_provisioning_sets_a_devices_own_class_from_the_command_or_the_csv(
    migrated: Settings, tmp_path: Path
) -> None:
    from hub.commands.provision import provision
    from hub.errors import ProvisionError
    from hub.provisioning import DeviceSpec, read_csv

    table = tmp_path / "devices.csv"
    table.write_text(
        "device_id,profile,dev_eui,data_class\n"
        "wm-a,water_meter,70B3D5E75E00470A,internal\n"
        "wm-b,water_meter,70B3D5E75E00470B,\n"
    )
    specs = read_csv(table)
    assert [s.data_class for s in specs] == ["internal", None]
    settings = migrated.model_copy(update={"profiles_dir": SHIPPED})
    provision(
        settings,
        [
            *specs,
            DeviceSpec("aq-c", "air_quality", dev_eui="70B3D5E75E00470C", data_class="personal"),
        ],
        passwd_file=None,
        acl_file=None,
    )
    with connect(migrated.database_url, "test") as conn:
        assert _classes(conn) == {
            "wm-a": ("internal", "internal"),
            "wm-b": ("personal", None),
            "aq-c": ("personal", "personal"),
        }
    table.write_text("device_id,profile,data_class\nwm-d,water_meter,secret\n")
    with pytest.raises(ProvisionError, match=r"devices\.csv:2: data class 'secret'"):
        read_csv(table)
