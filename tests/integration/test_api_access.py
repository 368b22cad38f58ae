"""Who may do what, for every operation in the OpenAPI document (so a new endpoint
is covered without editing this file): each write x no key / viewer / operator /
admin, reads with and without open-data mode, and bad, revoked and header keys."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.commands.apikeys import create as create_key
from hub.commands.apikeys import revoke
from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import telemetry

PATH_VALUES = {"device_id": "lm-acc", "alert_id": "1", "rule_id": "1", "key_id": "999999"}
QUERIES = {"/api/v1/aggregates/districts": "?metric=volume"}
BODIES = {
    ("POST", "/api/v1/devices"): {"device_id": "lm-new", "profile": "load_meter"},
    ("PATCH", "/api/v1/devices/{device_id}"): {"name": "renamed"},
    ("POST", "/api/v1/api-keys"): {"name": "made in a test", "role": "viewer"},
}
OPERATOR_ONLY_READS = ("/api/v1/dead-letters",)
ADMIN_ONLY = ("/api/v1/api-keys", "/api/v1/privacy")


def _operations(hub: ApiHub) -> list[tuple[str, str]]:
    document = httpx.get(f"{hub.url}/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    )


def _url(path: str) -> str:
    query = QUERIES.get(path, "")
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path + query


def _needed(method: str, path: str) -> str | None:
    if path.startswith(ADMIN_ONLY):
        return "admin"
    if method != "GET" or path.startswith(OPERATOR_ONLY_READS):
        return "operator"
    return "viewer"


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-access-")))
    api.publish([(api.topic("lm-acc"), telemetry(1))])
    api.wait_stored("lm-acc", 3)
    yield api
    api.stop()


@pytest.fixture(scope="module")
def open_hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-open-")), HUB_OPEN_DATA="true")
    yield api
    api.stop()


def _call(hub: ApiHub, role: str | None, method: str, path: str, **headers: str) -> httpx.Response:
    body: Any = BODIES.get((method, path))
    with hub.client(role) as client:
        if path == "/api/v1/stream":
            with client.stream(method, _url(path), headers=headers) as r:
                return r
        return client.request(method, _url(path), json=body, headers=headers)


def test_every_write_needs_an_operator_key(hub: ApiHub) -> None:
    writes = [(m, p) for m, p in _operations(hub) if m != "GET"]
    assert len(writes) >= 10
    outcome: dict[tuple[str, str], tuple[int, ...]] = {}
    for method, path in writes:
        outcome[method, path] = tuple(
            _call(hub, role, method, path).status_code
            for role in (None, "viewer", "operator", "admin")
        )
    for (method, path), (anonymous, viewer, operator, admin) in outcome.items():
        where = f"{method} {path}: {outcome[method, path]}"
        assert anonymous == 401, where
        assert viewer == 403, where
        if _needed(method, path) == "admin":
            assert operator == 403, where
            assert admin not in (401, 403), where
        else:
            assert operator not in (401, 403), where
            assert admin not in (401, 403), where
    # The bodies above are valid, so the operator's writes really happened.
    assert outcome["POST", "/api/v1/devices"][2] == 201
    assert outcome["PATCH", "/api/v1/devices/{device_id}"][2] == 200
    assert outcome["POST", "/api/v1/devices/{device_id}/decommission"][2] == 200


def test_reads_need_a_key_unless_the_hub_is_in_open_data_mode(
    hub: ApiHub, open_hub: ApiHub
) -> None:
    reads = [(m, p) for m, p in _operations(hub) if m == "GET"]
    for method, path in reads:
        needed = _needed(method, path)
        closed = _call(hub, None, method, path).status_code
        viewer = _call(hub, "viewer", method, path).status_code
        public = _call(open_hub, None, method, path).status_code
        where = f"{method} {path}: closed {closed}, viewer {viewer}, open data {public}"
        assert closed == 401, where
        if needed == "viewer":
            assert viewer not in (401, 403), where
            assert public not in (401, 403), where
        else:
            assert viewer == 403, where
            assert public == 401, where


def test_open_data_mode_still_protects_writes(open_hub: ApiHub) -> None:
    with open_hub.client() as client:
        r = client.post("/api/v1/devices", json={"device_id": "lm-z", "profile": "load_meter"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "operator" in r.json()["detail"]


def test_wrong_revoked_and_header_keys(hub: ApiHub, open_hub: ApiHub) -> None:
    with httpx.Client(base_url=open_hub.url) as client:
        wrong = client.get("/api/v1/devices", headers={"Authorization": "Bearer hub_not-a-key"})
    assert wrong.status_code == 401, "a wrong key is reported even where none is needed"
    assert "unknown or revoked" in wrong.json()["detail"]

    key = create_key(hub.settings, role="operator", name="soon revoked", out=io.StringIO())
    with httpx.Client(base_url=hub.url) as client:
        by_header = client.get("/api/v1/devices", headers={"X-API-Key": key})
        assert by_header.status_code == 200
        key_id = next(
            k["id"]
            for k in client.get(
                "/api/v1/api-keys", headers={"Authorization": f"Bearer {hub.keys['admin']}"}
            ).json()
            if k["name"] == "soon revoked"
        )
        assert revoke(hub.settings, key_id, out=io.StringIO())
        after = client.get("/api/v1/devices", headers={"X-API-Key": key})
    assert after.status_code == 401


def test_the_document_says_which_reads_are_public(hub: ApiHub, open_hub: ApiHub) -> None:
    def public(api: ApiHub) -> set[tuple[str, str]]:
        paths = httpx.get(f"{api.url}/openapi.json").json()["paths"]
        return {
            (method.upper(), path)
            for path, operations in paths.items()
            for method, operation in operations.items()
            if {} in operation.get("security", [{}])
        }

    api_ops = set(_operations(hub))
    assert public(hub) & api_ops == set()
    assert public(open_hub) & api_ops == {(m, p) for m, p in api_ops if _needed(m, p) == "viewer"}
