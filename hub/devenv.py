"""The running ``make run`` stack's addresses in ``.hub/dev.env``, so that the
``hub`` commands run in the same folder (``hub apikey create``, ``hub migrate``,
``hub dead-letters``) reach its database and broker, whose ports change every run.

``hub dev`` writes the file once its servers are up and removes it when it stops.
A command uses it only for settings not given in its environment, and says so on
standard error."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from hub.config import Settings

DEV_ENV = "dev.env"
STACK_DIR = Path(".hub")
KEYS = ("HUB_DATABASE_URL", "HUB_MQTT_URL", "HUB_API_PORT")


def write_dev_env(path: Path, settings: Settings) -> None:
    values = {
        "HUB_DATABASE_URL": settings.database_url,
        "HUB_MQTT_URL": settings.mqtt_url,
        "HUB_API_PORT": str(settings.api_port),
    }
    text = "# the running `make run` stack; removed when it stops\n"
    text += "".join(f"{k}={v}\n" for k, v in values.items())
    path.write_text(text, encoding="utf-8")


def read_dev_env(path: Path) -> dict[str, str]:
    """KEY=value lines of the file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            if key in KEYS:
                values[key] = value
    return values


def use_dev_stack(environ: MutableMapping[str, str] = os.environ, folder: Path = STACK_DIR) -> bool:
    """Take the running stack's settings into ``environ`` where it has none; True
    when something was taken."""
    path = folder / DEV_ENV
    if not path.is_file():
        return False
    taken = {k: v for k, v in read_dev_env(path).items() if k not in environ}
    if not taken:
        return False
    environ.update(taken)
    print(f"hub: using the running `make run` stack ({path})", file=sys.stderr)
    return True
