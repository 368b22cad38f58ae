"""The hub's domain records: the bottom layer, imported by every package and
importing none of them (only ``hub.errors``; docs/architecture.md).

    readings     Reading
    messages     Topic, Item, DeadLetter, Outcome (the ingest's records)
    devices      Device, DeviceRow
    rule_params  what a rule may say (kinds, severities, parameter tables, check_spec)
    rules        RuleSpec, Rule
    alerts       Alert, AlertEvent, AlertNote, Delivery, AirQualityClass
    units        the unit conversions (SenML units; profiles and payloads use them)
"""

from hub.model.alerts import AirQualityClass, Alert, AlertEvent, AlertNote, Delivery
from hub.model.devices import Device, DeviceRow
from hub.model.messages import DeadLetter, Item, MessageKind, Outcome, Topic
from hub.model.readings import Reading
from hub.model.rule_params import RULE_KINDS, SEVERITIES, RuleKind, Severity
from hub.model.rules import (
    ALERT_STATES,
    ENGINE_ACTOR,
    AlertState,
    ParameterValue,
    Rule,
    RuleSource,
    RuleSpec,
)

__all__ = [
    "ALERT_STATES",
    "ENGINE_ACTOR",
    "RULE_KINDS",
    "SEVERITIES",
    "AirQualityClass",
    "Alert",
    "AlertEvent",
    "AlertNote",
    "AlertState",
    "DeadLetter",
    "Delivery",
    "Device",
    "DeviceRow",
    "Item",
    "MessageKind",
    "Outcome",
    "ParameterValue",
    "Reading",
    "Rule",
    "RuleKind",
    "RuleSource",
    "RuleSpec",
    "Severity",
    "Topic",
]
