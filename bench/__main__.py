"""`make bench`: the ingest benchmark, the HTTP ingest benchmark, then the query benchmark.

Each writes its JSON under bench/results/; run them one by one for their options:
``python -m bench.ingest --help``, ``python -m bench.http_ingest --help``,
``python -m bench.queries --help``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def main() -> int:
    status = 0
    for module in ("bench.ingest", "bench.http_ingest", "bench.queries"):
        if importlib.util.find_spec(module) is None:
            print(f"{module}: not present, skipped")
            continue
        status |= subprocess.run([sys.executable, "-m", module], check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
