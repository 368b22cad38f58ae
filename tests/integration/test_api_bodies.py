"""A request body that is not JSON is a 400 problem saying so (docs/api.md), not a
422 naming a parameter "0" or "1"; JSON of the wrong shape stays a 422 naming the
field."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub, start_hub


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-bodies-")))
    yield api
    api.stop()


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b"hello", "application/json", "not valid JSON"),
        (b'{"device_id": "x",', "application/json", "not valid JSON"),
        (b"device_id=x", "application/x-www-form-urlencoded", "not JSON"),
        (b"hello", "text/plain", "not JSON"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(
    hub: ApiHub, content: bytes, content_type: str, says: str
) -> None:
    with hub.client("operator") as client:
        for path in ("/api/v1/devices", "/api/v1/rules"):
            r = client.post(path, content=content, headers={"Content-Type": content_type})
            assert r.status_code == 400, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["status"] == 400 and says in problem["detail"]
            assert "invalid_params" not in problem or not problem["invalid_params"]


def test_json_of_the_wrong_shape_is_still_a_422_naming_the_field(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        r = client.post("/api/v1/devices", json={"device_id": "lm-x", "profile": 5})
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"] == "profile"
