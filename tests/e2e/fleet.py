"""The simulated fleet the e2e tests look at, as the ``fleet`` fixture hands it over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from hub.config import Settings
from tests.integration.helpers import HubProcess

# One water meter bursts from the simulated start: the `burst` rule (above 3000 l/h
# for 15 min of data time) opens a critical alert about 15 s after the fleet starts.
# A second one stays open for the screenshots; a street light drops off the network.
BURST_METER = "wm-0002"
STAYS_OPEN = "wm-0004"  # never resolved by a test: it stays in the inbox


@dataclass
class Fleet:
    url: str
    settings: Settings
    hub: HubProcess
    devices: list[dict[str, Any]]
    operator_key: str

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()
