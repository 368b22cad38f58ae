"""The README stays true: every setting is documented, and the payload examples
are accepted by the real decoder."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.config import Settings
from hub.errors import PayloadError
from hub.payloads import decode_telemetry
from hub.profiles import load_profiles

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(HUB_\w+)` \|", table, flags=re.MULTILINE))
    expected = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_payload_examples_decode_against_a_shipped_profile() -> None:
    section = README.split("## MQTT: topics and payloads", 1)[1].split("\n## ", 1)[0]
    block = section.split("```json\n", 1)[1].split("```", 1)[0]
    examples = [line.encode() for line in block.splitlines() if line.strip()]
    profiles = load_profiles(ROOT / "device_profiles")
    assert len(examples) == 3
    for example in examples:
        decoded = []
        for profile in profiles.values():
            try:
                decoded.append(
                    decode_telemetry(
                        example,
                        device_id="aq-0001",
                        profile=profile,
                        received_at=datetime(2026, 1, 10, 7, tzinfo=UTC),
                        max_future=timedelta(minutes=5),
                        max_past=timedelta(days=400),
                    )
                )
            except PayloadError:
                continue
        assert decoded, f"no shipped profile accepts {example!r}"
