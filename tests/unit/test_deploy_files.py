"""Static checks of the deployment files (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_compose_runs_database_broker_hub_and_optional_simulators() -> None:
    services = COMPOSE["services"]
    assert {"db", "mosquitto", "hub", "simulators"} <= set(services)
    assert services["simulators"]["profiles"] == ["simulators"]
    for name in ("db", "mosquitto", "hub"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("db", "mosquitto"):
        assert "test" in services[name]["healthcheck"], name
    assert services["hub"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["hub"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"


def test_compose_holds_no_secret_and_every_variable_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*(\w+)=", example, flags=re.MULTILINE))
    used = {m.group(1) for s in _strings(COMPOSE) for m in VARIABLE.finditer(s)}
    assert used <= documented, f"not in .env.example: {used - documented}"
    for service in COMPOSE["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert VARIABLE.fullmatch(str(value)), f"{key} must come from .env"
    assert ":?" in COMPOSE["services"]["db"]["environment"]["POSTGRES_PASSWORD"]


def test_dockerfile_copies_only_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_compose_mounts_only_files_of_the_project() -> None:
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
            else:
                assert source in COMPOSE["volumes"], source
