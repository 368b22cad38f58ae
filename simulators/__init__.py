"""Simulated field devices for the sensor hub: street lights, water meters, air quality.

Run ``python -m simulators --help``. The Python API below produces the same
messages without a broker, for tests and notebooks.
"""

from simulators.faults import Fault, FaultWindow, load_scenario, parse_fault, resolve_faults
from simulators.fleet import DeviceSpec, build_fleet
from simulators.stream import Message, device_messages, fleet_messages

__all__ = [
    "DeviceSpec",
    "Fault",
    "FaultWindow",
    "Message",
    "build_fleet",
    "device_messages",
    "fleet_messages",
    "load_scenario",
    "parse_fault",
    "resolve_faults",
]
