"""Round trips to Postgres per request, read from a service process's /metrics (`epep_db_statements_per_request`,
shared/metrics.py), so a test can hold a hot path to its count: take `counted` before and after the requests."""

from __future__ import annotations

import re

from tests.support.metrics import scrape, values


def counted(url: str, route: str, method: str = "GET") -> tuple[int, int]:
    """(requests, statements) the process at `url` has counted so far for one route template
    (`/peps/{pep_id}/sections/{key}`), as its histogram's count and sum."""
    status, text = scrape(url)
    assert status == 200, f"{url}/metrics answered {status}"
    labels = {"route": re.escape(route), "method": method}
    requests = sum(values(text, "epep_db_statements_per_request_count", **labels))
    statements = sum(values(text, "epep_db_statements_per_request_sum", **labels))
    return int(requests), int(statements)


def per_request(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Statements per request between two readings of `counted`."""
    requests = after[0] - before[0]
    assert requests > 0, "no request of that route was counted between the two readings"
    return (after[1] - before[1]) / requests
