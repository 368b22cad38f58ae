"""Point rules (threshold, rate of change): evaluated on every committed reading,
with a state per (rule, device) kept in memory and rebuilt from the database at
start-up, after an overflow of the engine's buffer, and when a rule changed."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta

from hub.alerts.conditions import RateState, ThresholdState, Verdict
from hub.alerts.lifecycle import Lifecycle
from hub.alerts.rulebook import RuleBook, targets
from hub.events import Event
from hub.model import DeviceRow, Rule
from hub.profiles import Profile, shown_unit
from hub.store import alerts_inputs as inputs
from hub.store.db import AsyncConn

PointState = ThresholdState | RateState


class PointRules:
    """The state of every point rule for every device it applies to."""

    def __init__(
        self, book: RuleBook, lifecycle: Lifecycle, profiles: Mapping[str, Profile]
    ) -> None:
        self._book = book
        self._lifecycle = lifecycle
        self._profiles = profiles
        self._states: dict[tuple[int, int], PointState] = {}
        self._loaded: set[int] = set()  # rules whose state is rebuilt

    def forget(self, rule_id: int) -> None:
        """One rule changed: its state is rebuilt on its next reading."""
        self._loaded.discard(rule_id)
        for key in [k for k in self._states if k[0] == rule_id]:
            del self._states[key]

    def forget_all(self) -> None:
        self._states.clear()
        self._loaded.clear()

    async def evaluate(self, conn: AsyncConn, event: Event) -> None:
        """Run the point rules on one committed reading."""
        rules = self._book.point_rules.get((event.profile or "", str(event.data.get("metric"))))
        if not rules:
            return
        device = await self._book.device(conn, event.device_id)
        if device is None:
            return
        value = float(event.data["value"])
        for rule in rules:
            if not targets(rule, device):
                continue
            if rule.id not in self._loaded:
                await self.rebuild(conn, rule)
            state = self._states.get((rule.id, device.pk))
            if state is None:
                state = self._new_state(rule, device)
                self._states[rule.id, device.pk] = state
            verdict = state.step(event.time, value)
            if self._lifecycle.acts_on(rule, device, verdict):
                await self._lifecycle.apply(conn, rule, device, verdict)

    def _new_state(self, rule: Rule, device: DeviceRow) -> PointState:
        # messages carry the unit of the rule's metric ("flow 3500 l/h above 3000 l/h")
        profile = self._profiles.get(rule.profile)
        unit = shown_unit(profile.metrics.get(rule.metric or "") if profile else None)
        if rule.kind == "threshold":
            active = self._lifecycle.is_open(rule, device)
            return ThresholdState(rule, active=active, unit=unit)
        return RateState(rule, unit=unit)

    async def rebuild_all(self, conn: AsyncConn) -> None:
        for rules in list(self._book.point_rules.values()):
            for rule in rules:
                await self.rebuild(conn, rule)

    async def rebuild(self, conn: AsyncConn, rule: Rule) -> None:
        """Replay a point rule's recent readings for all its devices and apply the
        outcome (this is how a restart catches up)."""
        self._loaded.add(rule.id)
        profile = self._profiles.get(rule.profile)
        if profile is None or rule.metric is None:
            return
        if rule.kind == "threshold":
            horizon = rule.number("for_s", 0) + profile.offline_after_s
        else:
            horizon = rule.number("window_s", 3600)
        # Each device's readings up to its newest one (data time, like every rule).
        recent = inputs.latest_spans(
            conn, profile=rule.profile, metric=rule.metric, span=timedelta(seconds=horizon)
        )
        outcomes: list[tuple[DeviceRow, Verdict | None]] = []
        async with contextlib.aclosing(recent) as rows:  # no writes while streaming
            async for device_pk, samples in rows:
                device = self._book.devices_by_pk.get(device_pk)
                if device is None or not targets(rule, device):
                    continue
                state = self._new_state(rule, device)
                last: Verdict | None = None
                for t, value in samples:
                    last = state.step(t, value) or last
                self._states[rule.id, device_pk] = state
                outcomes.append((device, last))
        for device, last in outcomes:
            await self._lifecycle.apply(conn, rule, device, last)
