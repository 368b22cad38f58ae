"""``python -m simulators``: see ``simulators/cli.py``."""

from simulators.cli import main

raise SystemExit(main())
