"""The rules the engine evaluates and the devices they apply to, as last read
from the database; and which rule applies to which device."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping

from hub.errors import RuleSpecError
from hub.model import DeviceRow, Rule, RuleSpec
from hub.profiles import Profile
from hub.store import alerts_inputs as inputs
from hub.store import rules as rule_store
from hub.store.db import AsyncConn

log = logging.getLogger(__name__)

POINT_KINDS = frozenset({"threshold", "rate_of_change"})


def profile_rule_specs(profiles: Mapping[str, Profile]) -> list[RuleSpec]:
    """The default rules of every profile, as rule specifications."""
    specs = []
    for profile in profiles.values():
        for rule in profile.alert_rules:
            try:
                specs.append(rule.spec(profile.name))
            except RuleSpecError as exc:
                log.error("profile %s: rule %s skipped: %s", profile.name, rule.name, exc)
    return specs


def targets(rule: Rule, device: DeviceRow) -> bool:
    """Whether a rule applies to a device: same profile, and its device or district."""
    return (
        rule.profile == device.profile
        and (rule.device_id is None or rule.device_id == device.device_id)
        and (rule.district is None or rule.district == device.district)
    )


class RuleBook:
    """Enabled rules by id, point rules by (profile, metric), devices by id and key."""

    def __init__(self) -> None:
        self.rules: dict[int, Rule] = {}
        self.point_rules: dict[tuple[str, str], list[Rule]] = {}
        self.devices: dict[str, DeviceRow] = {}
        self.devices_by_pk: dict[int, DeviceRow] = {}
        self.loaded_once = False

    async def load(self, conn: AsyncConn) -> set[int]:
        """Read the enabled rules and the devices in service; returns the ids of
        rules that changed or went away since the last load."""
        rules = {r.id: r for r in await rule_store.list_rules(conn) if r.enabled}
        changed = {
            rule_id
            for rule_id, old in self.rules.items()
            if (new := rules.get(rule_id)) is None or new.updated_at != old.updated_at
        }
        self.rules = rules
        points: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        for rule in rules.values():
            if rule.kind in POINT_KINDS and rule.metric is not None:
                points[rule.profile, rule.metric].append(rule)
        self.point_rules = dict(points)
        self.loaded_once = True
        devices = await inputs.devices(conn)
        self.devices = {d.device_id: d for d in devices}
        self.devices_by_pk = {d.pk: d for d in devices}
        return changed

    async def device(self, conn: AsyncConn, device_id: str) -> DeviceRow | None:
        """A device in service, read on first sight (one registered since the load)."""
        device = self.devices.get(device_id)
        if device is None:
            device = await inputs.device(conn, device_id)
            if device is None:
                return None
            self.devices[device.device_id] = device
            self.devices_by_pk[device.pk] = device
        return device
