"""The policy's table of readers and classes, the classes of profiles, and the
exposure text /readyz and the start-up log give."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Settings
from hub.errors import ProfileError
from hub.privacy.classes import DEFAULT_CLASS, parse_class
from hub.privacy.directory import ClassDirectory
from hub.privacy.policy import (
    OUTBOUND,
    PUBLIC,
    UNRESTRICTED,
    coarse,
    event_shown,
    exposure,
    shown_alert,
    visibility,
)
from hub.profiles import load_profile, load_profiles

SHIPPED = Path(__file__).parents[3] / "device_profiles"


def test_shipped_profiles_carry_their_class() -> None:
    classes = {name: p.data_class for name, p in load_profiles(SHIPPED).items()}
    assert classes == {"air_quality": "public", "street_light": "public", "water_meter": "personal"}


def test_a_profile_without_a_class_is_internal_and_a_wrong_class_is_refused(
    tmp_path: Path,
) -> None:
    body = (SHIPPED / "street_light.yaml").read_text().replace("data_class: public\n", "")
    (tmp_path / "street_light.yaml").write_text(body)
    assert load_profile(tmp_path / "street_light.yaml").data_class == DEFAULT_CLASS == "internal"
    (tmp_path / "street_light.yaml").write_text(
        body.replace("\nname:", "\ndata_class: secret\nname:", 1)
    )
    with pytest.raises(ProfileError, match="data_class"):
        load_profile(tmp_path / "street_light.yaml")
    assert parse_class(" Personal ") == "personal"
    with pytest.raises(ValueError, match="public, internal, personal"):
        parse_class("open")


@pytest.mark.parametrize(
    ("role", "permissions", "reads", "lists"),
    [
        (None, frozenset(), {"public"}, {"public"}),
        ("viewer", frozenset(), {"public", "internal"}, {"public", "internal", "personal"}),
        (
            "viewer",
            frozenset({"personal"}),
            {"public", "internal"},
            {"public", "internal", "personal"},
        ),
        ("operator", frozenset(), {"public", "internal"}, {"public", "internal", "personal"}),
        ("operator", frozenset({"personal"}), {"public", "internal", "personal"}, None),
        ("admin", frozenset({"personal"}), {"public", "internal", "personal"}, None),
    ],
)
def test_each_reader_reads_and_lists_its_classes(
    role: str | None, permissions: frozenset[str], reads: set[str], lists: set[str] | None
) -> None:
    vis = visibility(role=role, permissions=permissions, key_id=1)
    assert {c for c in ("public", "internal", "personal") if vis.reads(c)} == reads
    assert {c for c in ("public", "internal", "personal") if vis.lists(c)} == (lists or reads)
    assert vis.audited == ("personal" in reads)
    assert vis.logs("personal") == vis.audited and not vis.logs("public")


def test_outbound_and_live_events_never_carry_personal_readings() -> None:
    assert not OUTBOUND.reads("personal") and OUTBOUND.reads("internal")
    assert not event_shown(PUBLIC, "personal", "reading")
    assert not event_shown(PUBLIC, "internal", "status")
    viewer = visibility(role="viewer")
    assert event_shown(viewer, "personal", "alert") and not event_shown(
        viewer, "personal", "reading"
    )
    alert = {"id": 1, "device_id": "wm-1", "value": 3500.0, "message": "flow 3500", "details": {}}
    assert shown_alert(viewer, "personal", alert) == {"id": 1, "device_id": "wm-1"}
    assert shown_alert(UNRESTRICTED, "personal", alert) == alert
    assert coarse(63.431234) == 63.43 and coarse(None) is None


def test_the_directory_knows_overrides_and_is_narrow_about_the_unknown() -> None:
    directory = ClassDirectory({"water_meter": "personal", "air_quality": "public"})
    assert directory.class_of("aq-1", "air_quality") == "public"
    assert directory.class_of("x-1", "unknown_profile") == "personal"
    assert directory.class_of("x-1", None) == "personal"
    directory.set_device("aq-1", "internal")
    assert directory.class_of("aq-1", "air_quality") == "internal"


def test_exposure_names_each_class_and_the_group_size() -> None:
    open_data = exposure(Settings(open_data=True, privacy_min_group=7))
    assert set(open_data) == {"public", "internal", "personal"}
    assert "in full" in open_data["public"] and "not served" in open_data["internal"]
    assert "at least 7" in open_data["personal"]
    assert "open-data mode is off" in exposure(Settings(open_data=False))["public"]
