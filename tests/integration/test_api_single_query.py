"""A query parameter that takes one value is refused when given twice."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hub.devstack import Devstack
from tests.integration.api_helpers import start_hub


def test_a_single_value_parameter_given_twice_is_a_422_naming_it(stack: Devstack) -> None:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-query-")))
    try:
        with api.client("viewer") as client:
            twice = client.get(
                "/api/v1/air-quality", params=[("device_id", "a"), ("device_id", "b")]
            )
            assert twice.status_code == 422
            assert twice.headers["content-type"].startswith("application/problem+json")
            assert twice.json()["invalid_params"][0]["name"] == "device_id"
            assert client.get("/api/v1/air-quality", params={"device_id": "a"}).status_code == 200
            # A list parameter may repeat.
            many = client.get("/api/v1/devices", params=[("profile", "load_meter")] * 2)
            assert many.status_code == 200
    finally:
        api.stop()
