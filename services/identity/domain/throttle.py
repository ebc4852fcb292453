"""Progressive delays after failed sign-ins: free tries, then 1 s doubling, capped. Never a permanent lock.

An address is not a person: behind a proxy whose X-Forwarded-For is not believed (a misconfigured
EPEP_TRUSTED_PROXIES), or a school's or council's NAT, every browser shares one. So a throttle on an address only
slows it down, by ADDRESS_MAX_DELAY_SECONDS at most, and never shuts everyone out for the quarter of an hour an
account's throttle may; guessing one account's password stays bound by that account's own throttle."""

from __future__ import annotations

ADDRESS_MAX_DELAY_SECONDS = 10


def max_delay_for(key: str, max_delay: int) -> int:
    """The cap on a throttle key's delay: an address's (`address:...`) is short, whatever the setting."""
    return min(max_delay, ADDRESS_MAX_DELAY_SECONDS) if key.startswith("address:") else max_delay


def delay_after(failures: int, free_failures: int, max_delay: int) -> int:
    """Seconds to wait after `failures` consecutive failures."""
    over = failures - free_failures
    if over < 0:
        return 0
    return min(2 ** min(over, 30), max_delay)
