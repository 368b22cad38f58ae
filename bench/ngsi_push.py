"""The ingest with and without the NGSI-LD push, in the same run.

    python -m bench.ngsi_push [--drain-messages 600000] [--devices 1000] [--rounds 2]

Each round drains the same backlog (bench.ingest's drain mode: published while
the hub is stopped, then timed into the database) twice, into fresh databases:
once without a broker and once with ``HUB_NGSI_LD_BROKER_URL`` pointing at a
small upsert receiver in this process, which answers 201 and counts entities.
The push must not slow the ingest: the figure is the ratio of the two drain
rates. After the push run the receiver must hold every device's final entity
(checked against the hub's own /ngsi-ld/v1 view). Results go to the terminal
and to bench/results/ngsi_push.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import probes
from bench.ingest import PROFILES, RESULTS, CpuGroups, Hub, run_drain
from hub.config import Settings
from hub.devstack import Devstack, free_port
from hub.store.db import connect
from hub.store.migrate import migrate

console = Console()


class Receiver:
    """Answers every upsert with 201 and keeps the newest body of each entity."""

    def __init__(self) -> None:
        self.port = free_port()
        self.latest: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.entities = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    receiver.requests += 1
                    receiver.entities += len(body)
                    for entity in body:
                        receiver.latest[entity["id"]] = entity
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _variant(
    args: argparse.Namespace,
    stack: Devstack,
    root: Path,
    name: str,
    extra: dict[str, str],
    cpu_groups: CpuGroups,
) -> tuple[dict[str, Any], str]:
    url = stack.postgres.create_database(f"bench_{name}")
    with connect(url, "bench") as conn:
        migrate(conn, storage=args.storage)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": url,
            "HUB_MQTT_URL": stack.mosquitto.url,
            "HUB_PROFILES_DIR": str(PROFILES),
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_MAX_PAST_S": str(3 * 86400),
            **extra,
        }
    )
    logdir = root / name
    logdir.mkdir()
    profile = args.profile / name if args.profile is not None else None
    hub = Hub(env, 1, logdir, profile)
    groups: CpuGroups = {
        **cpu_groups,
        # The push's own process (hub.ngsi.push_process), a child of the hub's.
        "push": lambda: [p for pid in hub.pids for p in probes.descendants(pid)],
    }
    result = run_drain(args, stack, hub, url, groups)
    return result, url


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ngsi_push", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--drain-messages", type=int, default=600_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of drains (2)")
    parser.add_argument(
        "--interval",
        type=float,
        default=Settings.model_fields["ngsi_ld_push_interval_s"].default,
        help="HUB_NGSI_LD_PUSH_INTERVAL_S of the push run (the hub's default)",
    )
    parser.add_argument("--storage", choices=["auto", "plain", "timescale"], default="auto")
    parser.add_argument("--output", type=Path, default=RESULTS / "ngsi_push.json")
    parser.add_argument(
        "--profile",
        type=Path,
        help="directory for py-spy's raw stacks of each run's hub (py-spy on PATH)",
    )
    # The drain's own baselines (bench.ingest) are not what this compares: skipped.
    parser.set_defaults(skip_raw=True)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hub-bench-ngsi-"))
    root.chmod(0o755)
    stack = Devstack(root, durable=True).start()
    receiver = Receiver()
    runs: list[dict[str, Any]] = []
    try:
        postmaster = stack.postgres.proc.pid if stack.postgres.proc else 0
        mosquitto = stack.mosquitto.proc.pid if stack.mosquitto.proc else 0
        cpu_groups: CpuGroups = {
            "postgres": lambda: [postmaster, *probes.descendants(postmaster)],
            "mosquitto": lambda: [mosquitto],
            # The receiver's JSON parsing: CPU a real broker would spend elsewhere.
            "bench": lambda: [os.getpid()],
        }
        load_before = os.getloadavg()[0]
        for n in range(args.rounds):
            for variant, extra in (
                ("without", {}),
                (
                    "with",
                    {
                        "HUB_NGSI_LD_BROKER_URL": f"http://127.0.0.1:{receiver.port}",
                        "HUB_NGSI_LD_PUSH_INTERVAL_S": str(args.interval),
                    },
                ),
            ):
                console.print(f"round {n + 1}: drain {variant} the push")
                before = receiver.entities
                result, _ = _variant(args, stack, root, f"{variant}_{n}", extra, cpu_groups)
                result = {
                    "round": n + 1,
                    "push": variant == "with",
                    "drain_msgs_per_s": result["drain_msgs_per_s"],
                    "drain_seconds": result["drain_seconds"],
                    "drain_lost": result["drain_lost"],
                    "hub_cores": result["drain_cpu"].get("hub"),
                    "push_cores": result["drain_cpu"].get("push"),
                    "postgres_cores": result["drain_cpu"].get("postgres"),
                    "bench_cores": result["drain_cpu"].get("bench"),
                    "entities_pushed": receiver.entities - before,
                    # Hub CPU per message: less sensitive than the rate to other load.
                    "hub_cpu_us_per_msg": round(
                        (result["drain_cpu"].get("hub") or 0)
                        * result["drain_seconds"]
                        / max(1, result["drain_messages"])
                        * 1e6,
                        1,
                    ),
                }
                runs.append(result)
                console.print(f"  {json.dumps(result)}")  # each run as it ends
        without = [r["drain_msgs_per_s"] for r in runs if not r["push"]]
        with_push = [r["drain_msgs_per_s"] for r in runs if r["push"]]
        summary = {
            "storage": args.storage,
            "drain_messages": args.drain_messages,
            "devices": args.devices,
            "runs": runs,
            "mean_without_push": round(sum(without) / len(without)),
            "mean_with_push": round(sum(with_push) / len(with_push)),
            "ratio": round(sum(with_push) / sum(without), 3),
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "devices_at_broker": len(
                {e for e in receiver.latest if e.startswith("urn:ngsi-ld:Device:")}
            ),
        }
        table = Table(title="ingest drain with and without the NGSI-LD push")
        columns = (
            "round",
            "push",
            "msg/s",
            "seconds",
            "lost",
            "hub cores",
            "push cores",
            "pg cores",
            "bench cores",
            "hub us/msg",
            "pushed",
        )
        for column in columns:
            table.add_column(column, justify="right")
        for r in runs:
            table.add_row(
                str(r["round"]),
                "yes" if r["push"] else "no",
                f"{r['drain_msgs_per_s']:,}",
                str(r["drain_seconds"]),
                str(r["drain_lost"]),
                str(r["hub_cores"]),
                str(r["push_cores"]),
                str(r["postgres_cores"]),
                str(r["bench_cores"]),
                str(r["hub_cpu_us_per_msg"]),
                f"{r['entities_pushed']:,}",
            )
        console.print(table)
        console.print(
            f"mean without {summary['mean_without_push']:,} msg/s, with "
            f"{summary['mean_with_push']:,} msg/s: ratio {summary['ratio']}; "
            f"{summary['devices_at_broker']} Device entities at the receiver; load average "
            f"{summary['load_average_1m'][0]} -> {summary['load_average_1m'][1]}"
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(summary, indent=2) + "\n")
        console.print(f"written to {args.output}")
    finally:
        receiver.close()
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
