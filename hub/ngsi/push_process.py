"""The NGSI-LD push in a process of its own, beside the ``hub run`` process that ingests.

Reading the changed devices' latest values, building and fingerprinting their
entities and sending them is Python work proportional to the changes; on the
ingest's event loop it took the ingest's CPU (docs/adr/0011-ngsi-push-process.md
has the profile). So the :class:`~hub.ngsi.push.Pusher` runs in a child process
(``multiprocessing``, spawned), and the hub process keeps only its side of a pipe:

- hub -> push: the changed device ids of the ingest's :class:`ChangeFeed`, taken
  at most every ``PARENT_TICK_S`` (one small message; the child coalesces them
  further, per ``ngsi_ld_push_interval_s``), with the feed's overflow flag and the
  time of its oldest change;
- push -> hub: the pusher's :meth:`~hub.ngsi.push.Pusher.status` after each round
  (and every ``REPORT_S`` within a long one), from which the hub process serves
  ``/readyz`` and ``/metrics``.

A child that ends (a bug, killed) is started again after ``RESTART_S``; it
rescans on start, as after a restart of the hub, so nothing is lost. The hub
process closes the pipe when it stops, which ends the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from hub.config import Settings
from hub.logs import setup_logging
from hub.ngsi import metrics
from hub.ngsi.changes import ChangeFeed
from hub.ngsi.mapping import Mapper
from hub.ngsi.push import Pusher
from hub.profiles import Profile

log = logging.getLogger(__name__)

PARENT_TICK_S = 0.5  # the hub process hands its changes over at most this often
# While the ingest is catching up (a full batch waiting), the changes are held and
# coalesced up to this long: the push's rounds then take no CPU from the drain.
BUSY_HOLD_S = 10.0
RESTART_S = 5.0


async def keep_running(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """A bug in a worker is logged and the worker started again, never silent."""
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; starting it again in %.0f s", name, RESTART_S)
            await asyncio.sleep(RESTART_S)


class PushProcess:
    """The hub process's side: feeds the child, and shows what it reports.

    Args:
        settings: passed to the child (the broker, its batch, interval, timeouts).
        profiles: passed to the child (the mapping).
        feed: the ingest's changes (filled by the commit listener).
        busy: whether the ingest is catching up: the changes are then held
            (``BUSY_HOLD_S`` at most) so that the push does not compete with it.
    """

    def __init__(
        self,
        settings: Settings,
        profiles: dict[str, Profile],
        feed: ChangeFeed,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settings = settings
        self._profiles = profiles
        self._feed = feed
        self.busy = busy  # the ingest is catching up (set by hub.commands.service)
        self.status: dict[str, Any] = {}  # the child's last report
        self.starts = 0
        self._counted: dict[str, float] = {}  # what the metrics hold of this child's totals

    def detail(self) -> dict[str, Any]:
        """What /readyz shows of the push."""
        status = self.status
        return {
            "broker": self._settings.ngsi_ld_broker_url,
            "backlog_devices": status.get("backlog_devices", 0) + len(self._feed),
            "lag_s": round(self.lag(), 3),
            "failures": status.get("failures", 0),
            "last_error": status.get("last_error"),
            "last_success": status.get("last_success"),
        }

    def lag(self) -> float:
        oldest = [t for t in (self.status.get("oldest"), self._feed.oldest) if t is not None]
        return time.monotonic() - min(oldest) if oldest else 0.0

    async def run(self) -> None:
        """Start the child, feed it, start it again when it ends; stop it when cancelled."""
        ctx = multiprocessing.get_context("spawn")
        while True:
            ours, theirs = ctx.Pipe()
            child = ctx.Process(
                target=child_main,
                args=(self._settings, self._profiles, theirs),
                name="hub-ngsi-push",
                daemon=True,
            )
            child.start()
            theirs.close()
            self.starts += 1
            self._counted = {}
            try:
                await self._serve(ours)
            finally:
                ours.close()  # the child sees the end of the pipe and stops
                await asyncio.shield(asyncio.to_thread(_reap, child))
            log.error(
                "NGSI-LD push process ended (exit code %s); starting it again in %.0f s",
                child.exitcode,
                RESTART_S,
            )
            await asyncio.sleep(RESTART_S)

    async def _serve(self, pipe: Connection) -> None:
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()

        def readable() -> None:
            try:
                while pipe.poll():
                    kind, status = pipe.recv()
                    if kind == "status":
                        self._update(status)
            except (EOFError, OSError):
                loop.remove_reader(pipe.fileno())
                ended.set()

        loop.add_reader(pipe.fileno(), readable)
        try:
            while not ended.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._feed.wakeup.wait()
                if self._held():
                    await asyncio.sleep(PARENT_TICK_S)
                    continue
                changes, overflowed, oldest = self._feed.take()
                if changes or overflowed:
                    try:
                        # In a thread: a large batch of ids must not hold the event loop.
                        await asyncio.to_thread(
                            pipe.send, ("changes", list(changes), overflowed, oldest)
                        )
                    except OSError:
                        break  # the child is gone
                self._gauges()
                await asyncio.sleep(PARENT_TICK_S)
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(pipe.fileno())

    def _held(self) -> bool:
        """Whether to keep the changes a while longer: the ingest is catching up and
        the oldest of them waits less than ``BUSY_HOLD_S``."""
        oldest = self._feed.oldest
        if oldest is None or self._feed.overflowed:
            return False
        return time.monotonic() - oldest < BUSY_HOLD_S and self.busy()

    def _update(self, status: dict[str, Any]) -> None:
        """Take the child's report; its totals go into the metrics as increments."""
        self.status = status
        totals = {k: status[k] for k in ("entities", "overflows", "temporal")}
        totals.update({f"requests:{k}": v for k, v in status["requests"].items()})
        for key, total in totals.items():
            added = total - self._counted.get(key, 0)
            if added <= 0:
                continue
            self._counted[key] = total
            if key == "entities":
                metrics.PUSH_ENTITIES.inc(added)
            elif key == "overflows":
                metrics.PUSH_OVERFLOWS.inc(added)
            elif key == "temporal":
                metrics.PUSH_TEMPORAL.inc(added)
            else:
                metrics.PUSH_REQUESTS.labels(key.split(":", 1)[1]).inc(added)
        self._gauges()

    def _gauges(self) -> None:
        metrics.PUSH_BACKLOG.set(self.status.get("backlog_devices", 0) + len(self._feed))
        metrics.PUSH_LAG.set(self.lag())


def _reap(child: multiprocessing.process.BaseProcess) -> None:
    child.join(10)
    if child.is_alive():
        child.terminate()
        child.join(5)


# --- the child ---------------------------------------------------------------------


def child_main(settings: Settings, profiles: dict[str, Profile], pipe: Connection) -> None:
    """The push process: a :class:`Pusher` fed from the pipe, until the pipe ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the hub process decides when to stop
    setup_logging(settings.log_format, settings.log_level)
    asyncio.run(_child(settings, profiles, pipe))


async def _child(settings: Settings, profiles: dict[str, Profile], pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    feed = ChangeFeed(settings.ngsi_ld_push_queue)
    ended = asyncio.Event()

    def readable() -> None:
        try:
            while pipe.poll():
                _kind, device_ids, overflowed, oldest = pipe.recv()
                feed.merge(device_ids, overflowed, oldest)
        except (EOFError, OSError):
            loop.remove_reader(pipe.fileno())
            ended.set()

    def report(status: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            pipe.send(("status", status))

    loop.add_reader(pipe.fileno(), readable)
    pusher = Pusher(settings, Mapper(profiles), feed, report)
    work = asyncio.create_task(keep_running("ngsi push", pusher.run))
    await ended.wait()
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
