"""The hub's periodic upkeep as work of one process (:class:`~hub.alerts.leader.Leadership`,
its own advisory lock): the retention of readings and of personal data, the
silence watch, the plain level's rollup refresh and the pruning of the access log.

Each of them is safe to run twice at once, but N processes would each do all of
it: N rounds of the same DELETEs and refreshes, N silence scans. With the lock one
process does it, and when that process goes another takes over within the lock's
interval. The silence watch's status changes reach the other processes' live
streams through the readings channel (``HUB_READINGS_NOTIFY``), as the ingest's do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Job = Callable[[], Coroutine[Any, Any, None]]


class MaintenanceWork:
    """Runs every job (each a loop until cancelled) while this process holds the lock."""

    def __init__(self, jobs: dict[str, Job]) -> None:
        self._jobs = jobs

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for name, job in self._jobs.items():
                tasks.create_task(job(), name=name)
