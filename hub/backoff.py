"""Capped exponential backoff with jitter: how long to wait before the next try.

Every retry loop of the hub uses it (the MQTT session's reconnects, the writer
while the database is down, the alert engine's and the notifiers' reconnects,
a notification's retries), so that many hubs or loops that failed together do
not retry in step.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 30  # 2**30 times the base is past any cap; avoids huge floats


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: float = 0.5) -> float:
    """Seconds to wait after failure number ``attempt`` (0 waits about ``base``).

    The wait doubles with every attempt up to ``cap``, then a random share of up
    to ``jitter`` of it is taken off.
    """
    delay = min(cap, base * 2.0 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    return delay * random.uniform(1.0 - jitter, 1.0)
