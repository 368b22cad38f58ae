"""`make bench`: the ingest benchmark, the HTTP ingest benchmark, then the query benchmark.

Each writes its JSON under bench/results/; run them one by one for their options:
``python -m bench.ingest --help``, ``python -m bench.http_ingest --help``,
``python -m bench.queries --help``.

The year benchmark (``python -m bench.year``: a year of a 500-device town, an hour
or more and up to 40 GB of disk) is not run by default: ``make bench BENCH_YEAR=1``
or ``python -m bench --year`` adds it at the end.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys


def main() -> int:
    status = 0
    modules = ["bench.ingest", "bench.http_ingest", "bench.queries"]
    if "--year" in sys.argv[1:]:
        modules.append("bench.year")
    for module in modules:
        if importlib.util.find_spec(module) is None:
            print(f"{module}: not present, skipped")
            continue
        status |= subprocess.run([sys.executable, "-m", module], check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
