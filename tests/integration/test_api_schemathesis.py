"""Schemathesis over the whole OpenAPI document of a real hub: generated requests
(valid and invalid) to every operation, with an admin key, over a database holding
a little of everything (the shipped device profiles, so the document's examples
name real things). No request may get a server error, and every response must
match what the document says: status codes, content types, headers and schemas.

One check is left out: ``positive_data_acceptance`` (a request the schema allows
must not get a 4xx). The API validates more than a schema can say (a profile that
exists, a cursor the API issued, coordinates in order, no NUL characters for
PostgreSQL) and answers those with a 422 naming the parameter, as the other API
tests assert.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

schemathesis = pytest.importorskip("schemathesis")
import requests  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from hub.api.app import create_app  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.devstack import Devstack  # noqa: E402
from hub.store import alerts as alert_store  # noqa: E402
from hub.store.db import aconnect  # noqa: E402
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub  # noqa: E402
from tests.integration.helpers import wait_for  # noqa: E402

# Generated examples per operation, on top of the boundary cases schemathesis derives
# from every parameter; keeps the run under a minute on two shared cores.
EXAMPLES = 4
MAX_KEY_ID = 2**31 - 1


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(
        stack, Path(tempfile.mkdtemp(prefix="hub-api-schemathesis-")), profiles_dir=SHIPPED_PROFILES
    )
    lights = ["sl-0042", "sl-0043"]
    api.publish(
        [
            (
                api.topic(device, "street_light"),
                orjson.dumps(
                    {"ts": 1767225600000 + i * 300_000, "power": 40.0 + i, "lamp_on": True}
                ),
            )
            for device in lights
            for i in range(20)
        ]
        + [(api.topic("sl-0042", "street_light"), b"{broken json")]
    )
    for device in lights:
        api.wait_stored(device, 40)
    with api.client("operator") as client:
        client.patch(
            "/api/v1/devices/sl-0042", json={"district": "Sentrum", "lat": 63.43, "lon": 10.39}
        )
        rule = client.post(
            "/api/v1/rules",
            json={
                "name": "high_power",
                "kind": "threshold",
                "profile": "street_light",
                "metric": "power",
                "parameters": {"above": 300},
            },
        ).json()
        wait_for(
            lambda: client.get("/api/v1/dead-letters").json()["items"] != [], 20, "a dead letter"
        )
    asyncio.run(_open_alert(api, rule["id"]))
    yield api
    api.stop()


async def _open_alert(api: ApiHub, rule_id: int) -> None:
    async with await aconnect(api.settings.database_url, "test", autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM devices WHERE device_id = 'sl-0043'")
        row = await cur.fetchone()
        assert row is not None
        await alert_store.open_alert(
            conn,
            rule_id=rule_id,
            device=row[0],
            severity="warning",
            message="hot",
            value=2.0,
            details={},
        )


def _document() -> dict[str, Any]:
    # The document the running hub serves at /openapi.json, built here at import so
    # that each operation becomes a test of its own.
    app = create_app(
        load_settings(database_url="postgresql://localhost/unused", profiles_dir=SHIPPED_PROFILES)
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_server_error_and_responses_match_the_document(
    case: Any, hub: ApiHub
) -> None:
    headers = {"Authorization": f"Bearer {hub.keys['admin']}"}
    key_id = (case.path_parameters or {}).get("key_id")
    if str(key_id).isdigit() and int(str(key_id)) <= len(hub.keys):
        case.path_parameters["key_id"] = MAX_KEY_ID  # spare the keys this test uses
    if case.operation.path == "/api/v1/stream":
        # An endless response: check how it starts, then hang up.
        kwargs = case.as_transport_kwargs(base_url=hub.url, headers=headers)
        with requests.request(**kwargs, stream=True, timeout=10) as response:
            assert response.status_code < 500
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
        return
    case.call_and_validate(
        base_url=hub.url,
        headers=headers,
        excluded_checks=[positive_data_acceptance],
        timeout=30,
    )
