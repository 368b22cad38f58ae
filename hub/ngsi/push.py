"""The push of changed entities to a context broker (``HUB_NGSI_LD_BROKER_URL``).

After each commit the ingest's :class:`~hub.ngsi.changes.ChangeFeed` notes the
devices it changed. At most every ``ngsi_ld_push_interval_s`` the pusher reads
those devices' entities (the observed entity and the Device entity), leaves out
the devices whose entities equal what the broker last accepted (a fingerprint
per broker and device in ``ngsi_push_state``: the persistent cursor), and sends
the rest with ``POST /ngsi-ld/v1/entityOperations/upsert`` in batches of
``ngsi_ld_push_batch`` entities. Only after the broker's 2xx is the fingerprint
stored. So each change is sent once, coalesced with those of the same device
that came before the round; on start, after a failure and after an overflow of
the feed it rescans every device, which sends exactly what changed meanwhile.

A failing broker is retried with a doubling backoff up to
``ngsi_ld_push_backoff_max_s``; the ingest never waits for the push. The pusher
runs in a process of its own (:mod:`hub.ngsi.push_process`), which reports its
state with :meth:`Pusher.status` after each round and batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from hub import __version__
from hub.backoff import backoff_delay
from hub.config import Settings
from hub.ngsi import models
from hub.ngsi.changes import ChangeFeed
from hub.ngsi.mapping import Entity, Mapper, Target, entity_id, iso
from hub.privacy.policy import OUTBOUND
from hub.store import ngsi as store
from hub.store import ngsi_push
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)
UPSERT_PATH = "/ngsi-ld/v1/entityOperations/upsert"
TEMPORAL_PATH = "/ngsi-ld/v1/temporal/entities"
REPORT_S = 0.5  # the state goes to the hub process at most this often within a round
TEMPORAL_BATCH = 1000  # instances of one attribute per temporal request, at most
TEMPORAL_BACKFILL = timedelta(days=1)  # how far back a device's first temporal push goes


class PushError(Exception):
    """The broker did not accept a batch (it is sent again)."""


@dataclass(frozen=True, slots=True)
class _Change:
    pk: int
    device_id: str
    version: str
    entities: list[Entity]


def fingerprint(entities: list[Entity]) -> str:
    return hashlib.sha256(orjson.dumps(entities, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class Pusher:
    """Args:
    settings: the broker, tenant, token, context, batch, interval and timeouts.
    mapper: how devices become entities.
    feed: the ingest's changes.
    report: called with :meth:`status` whenever it changed.
    """

    def __init__(
        self,
        settings: Settings,
        mapper: Mapper,
        feed: ChangeFeed,
        report: Callable[[dict[str, Any]], None] = lambda status: None,
    ) -> None:
        assert settings.ngsi_ld_broker_url is not None
        self._settings = settings
        self._mapper = mapper
        self._feed = feed
        self.url = settings.ngsi_ld_broker_url.rstrip("/") + UPSERT_PATH
        self.temporal_url = settings.ngsi_ld_broker_url.rstrip("/") + TEMPORAL_PATH
        # Profile -> metric -> target of the attributes whose history goes out too.
        wanted = {a.strip() for a in (settings.ngsi_ld_temporal_attrs or "").split(",")} - {""}
        self._temporal: dict[str, dict[str, Target]] = {
            profile: found
            for profile, targets in mapper.targets.items()
            if (found := {m: t for m, t in targets.items() if t.attribute in wanted})
        }
        self.target = hashlib.sha256(
            f"{settings.ngsi_ld_broker_url}|{settings.ngsi_ld_broker_tenant or ''}".encode()
        ).hexdigest()[:16]
        headers = {"Content-Type": "application/ld+json", "User-Agent": f"sensor-hub/{__version__}"}
        if settings.ngsi_ld_broker_tenant:
            headers["NGSILD-Tenant"] = settings.ngsi_ld_broker_tenant
        if settings.ngsi_ld_broker_token is not None:
            headers["Authorization"] = f"Bearer {settings.ngsi_ld_broker_token.get_secret_value()}"
        self._headers = headers
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.last_success: datetime | None = None
        self.backlog = 0
        self._oldest: float | None = None
        self._report = report
        # Totals for the metrics (the process that serves /metrics adds them up).
        self.entities = 0
        self.requests = {"ok": 0, "partial": 0, "failed": 0, "error": 0}
        self.overflows = 0
        self.temporal_instances = 0
        self._reported = 0.0

    def status(self) -> dict[str, Any]:
        """Backlog, oldest change not yet accepted (a time.monotonic() value, which all
        processes of the machine share), failures and totals."""
        oldest = [t for t in (self._oldest, self._feed.oldest) if t is not None]
        return {
            "backlog_devices": self.backlog + len(self._feed),
            "oldest": min(oldest) if oldest else None,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "entities": self.entities,
            "requests": dict(self.requests),
            "overflows": self.overflows,
            "temporal": self.temporal_instances,
        }

    def _context(self, entity: Entity) -> Any:
        if self._settings.ngsi_ld_context_url:
            return self._settings.ngsi_ld_context_url
        model = models.MODELS.get(str(entity["type"]))
        return [model.context_url, models.CORE_CONTEXT] if model else models.CORE_CONTEXT

    async def run(self) -> None:
        rescan = True  # the first round compares every device with the cursor
        conn: AsyncConn | None = None
        timeout = httpx.Timeout(self._settings.ngsi_ld_push_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            try:
                while True:
                    if not rescan:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(30):
                                await self._feed.wakeup.wait()
                    changes, overflowed, oldest = self._feed.take()
                    if overflowed:
                        self.overflows += 1
                        rescan = True
                    if oldest is not None and (self._oldest is None or oldest < self._oldest):
                        self._oldest = oldest
                    started = time.monotonic()
                    try:
                        if conn is None or conn.closed:
                            conn = await aconnect(
                                self._settings.database_url, "ngsi-push", autocommit=True
                            )
                        if rescan or changes:
                            await self._round(conn, client, None if rescan else sorted(changes))
                        rescan = False
                        self.consecutive_failures = 0
                        self._oldest = None
                        self.backlog = 0
                    except (
                        PushError,
                        psycopg.OperationalError,
                        psycopg.InterfaceError,
                        OSError,
                    ) as exc:
                        rescan = True
                        self.failures += 1
                        self.consecutive_failures += 1
                        self.last_error = str(exc) or type(exc).__name__
                        if isinstance(exc, psycopg.Error | OSError) and conn is not None:
                            with contextlib.suppress(Exception):
                                await conn.close()
                            conn = None
                        if self.consecutive_failures == 1:
                            log.warning("NGSI-LD push to %s failed: %s", self.url, self.last_error)
                        await asyncio.sleep(
                            backoff_delay(
                                self.consecutive_failures - 1,
                                base=self._settings.ngsi_ld_push_interval_s,
                                cap=self._settings.ngsi_ld_push_backoff_max_s,
                            )
                        )
                    self._gauges(force=True)
                    spent = time.monotonic() - started
                    await asyncio.sleep(max(0.0, self._settings.ngsi_ld_push_interval_s - spent))
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()

    def _gauges(self, *, force: bool = False) -> None:
        """Report the state: at the end of a round, else at most every REPORT_S."""
        now = time.monotonic()
        if force or now - self._reported >= REPORT_S:
            self._reported = now
            self._report(self.status())

    async def _round(
        self, conn: AsyncConn, client: httpx.AsyncClient, device_ids: list[str] | None
    ) -> None:
        profiles = sorted(self._mapper.profiles)
        # Never a personal device (hub.privacy.policy.OUTBOUND): the broker's readers
        # are not the hub's to tell apart.
        located = await store.snapshots(
            conn, profiles=profiles, device_ids=device_ids, vis=OUTBOUND
        )
        changes = []
        for item in located:
            entities = self._mapper.entities(item.snapshot)
            changes.append(
                _Change(item.pk, item.snapshot.device_id, fingerprint(entities), entities)
            )
        pushed = await ngsi_push.versions(conn, self.target, [c.pk for c in changes])
        todo = [c for c in changes if pushed.get(c.pk) != c.version]
        self.backlog = len(todo)
        self._gauges()
        per_batch = max(1, self._settings.ngsi_ld_push_batch // 2)
        for start in range(0, len(todo), per_batch):
            batch = todo[start : start + per_batch]
            accepted = await self._send(client, batch)
            await ngsi_push.save(conn, self.target, [(c.pk, c.version) for c in accepted])
            self.backlog -= len(batch)
            self.last_success = datetime.now(UTC)
            self.entities += sum(len(c.entities) for c in accepted)
            self._gauges()
        if self._temporal:
            await self._push_temporal(conn, client, located)

    async def _post(self, client: httpx.AsyncClient, url: str, body: Any) -> httpx.Response:
        """The broker's 2xx answer to ``body``; PushError for anything else."""
        try:
            response = await client.post(url, content=orjson.dumps(body), headers=self._headers)
        except httpx.HTTPError as exc:
            self.requests["error"] += 1
            raise PushError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            self.requests["failed"] += 1
            raise PushError(f"HTTP {response.status_code} from the broker: {response.text[:200]}")
        return response

    async def _send(self, client: httpx.AsyncClient, batch: list[_Change]) -> list[_Change]:
        body = [{**e, "@context": self._context(e)} for c in batch for e in c.entities]
        response = await self._post(client, self.url, body)
        if response.status_code == 207:
            # Partly accepted: keep the devices whose entities all went in; the rest
            # are logged and sent again with their next change or after a restart.
            self.requests["partial"] += 1
            try:
                errors = orjson.loads(response.content).get("errors", [])
            except (orjson.JSONDecodeError, AttributeError):
                errors = []
            refused = {str(e.get("entityId")) for e in errors if isinstance(e, dict)}
            for error in errors[:5]:
                log.error("NGSI-LD broker refused an entity: %s", error)
            return [c for c in batch if not any(e["id"] in refused for e in c.entities)]
        self.requests["ok"] += 1
        return batch

    async def _push_temporal(
        self, conn: AsyncConn, client: httpx.AsyncClient, located: list[store.Located]
    ) -> None:
        """Every reading of the temporal attributes after each device's cursor, as
        attribute instances, to ``POST /temporal/entities`` (create or update the
        temporal representation); the cursor moves only after the broker's 2xx."""
        cursors = await ngsi_push.temporal_cursors(conn, self.target, [i.pk for i in located])
        for item in located:
            targets = self._temporal.get(item.snapshot.profile, {})
            seen = [o.time for m, o in item.snapshot.values.items() if m in targets]
            after = cursors.get(item.pk) or datetime.now(UTC) - TEMPORAL_BACKFILL
            while seen and max(seen) > after:
                found = await ngsi_push.readings_after(
                    conn, item.pk, sorted(targets), after, TEMPORAL_BATCH
                )
                if not found:
                    break
                # A metric cut at TEMPORAL_BATCH bounds this request; the rest is next.
                full = [rows[-1][0] for rows in found.values() if len(rows) == TEMPORAL_BATCH]
                until = min(full) if full else max(rows[-1][0] for rows in found.values())
                bodies: dict[str, Entity] = {}
                for metric, rows in found.items():
                    target = targets[metric]
                    instances = [
                        {
                            "type": "Property",
                            "value": target.convert(value),
                            "observedAt": iso(time),
                            **({"unitCode": target.unit_code} if target.unit_code else {}),
                        }
                        for time, value in rows
                        if time <= until
                    ]
                    if instances:
                        entity = bodies.setdefault(
                            target.type,
                            {
                                "id": entity_id(target.type, item.snapshot.device_id),
                                "type": target.type,
                            },
                        )
                        entity[target.attribute] = instances
                for entity in bodies.values():
                    body = {**entity, "@context": self._context(entity)}
                    await self._post(client, self.temporal_url, body)
                    self.requests["ok"] += 1
                    self.temporal_instances += sum(
                        len(v) for v in entity.values() if isinstance(v, list)
                    )
                await ngsi_push.save_temporal(conn, self.target, item.pk, until)
                after = until
        self._gauges()
