"""Reading a process's /metrics as Prometheus does: by metric name and labels, whatever other labels a series has.

Every series also carries the process's resource labels (service_version, deployment_environment_name;
shared/metrics.py), and the exposition writes labels in alphabetical order, so a test that matched the text
(`epep_emails_total{outcome="sent"`) would depend on which labels sort before the one it means.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """The status and text of `url`/metrics; the status alone (and no text) when it is refused."""
    request = urllib.request.Request(f"{url}/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def values(text: str, sample: str, **labels: str) -> list[float]:
    """The value of every sample named `sample` (`epep_emails_total`, not the family's `epep_emails`) that has each
    label in `labels` with a value the given regular expression matches in full."""
    def matches(got: dict[str, str]) -> bool:
        return all(name in got and re.fullmatch(want, got[name]) for name, want in labels.items())
    return [s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == sample and matches(s.labels)]
