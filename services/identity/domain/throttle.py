"""Progressive delays after failed sign-ins: free tries, then 1 s doubling, capped. Never a permanent lock."""

from __future__ import annotations


def delay_after(failures: int, free_failures: int, max_delay: int) -> int:
    """Seconds to wait after `failures` consecutive failures."""
    over = failures - free_failures
    if over < 0:
        return 0
    return min(2 ** min(over, 30), max_delay)
