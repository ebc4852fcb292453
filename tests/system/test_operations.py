"""What an operator sees of the running system: every process's /metrics, and none of it through the front door."""

from __future__ import annotations

from tests.conftest import RunningSystem
from tests.support.metrics import scrape, values
from tests.system.test_faults import EMAIL, wait_for
from tests.system.test_sign_in_api import start

SERVICES = ["identity", "pep", "delegation", "notify", "qa", "gateway", "portal"]


def metrics(system: RunningSystem, service: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    return scrape(system.local.url(service), headers)


def test_every_service_serves_metrics_on_its_own_port(system: RunningSystem, now: float) -> None:
    start(system, EMAIL)  # a request through the gateway to identity, an event to notify, an email
    system.mailbox.wait_for_code(EMAIL, now)
    # Every series also carries service_version and deployment_environment_name, written in alphabetical order:
    # read samples by their labels, as Prometheus does, not by where a label falls in the text.
    wait_for(lambda: sum(values(metrics(system, "notify")[1], "epep_emails_total", outcome="sent")) >= 1, 10,
             "the email counted")
    _, notify = metrics(system, "notify")
    assert values(notify, "epep_emails_total", outcome="sent", service_version=".+", deployment_environment_name=".+")
    for service in SERVICES:
        status, text = metrics(system, service)
        assert status == 200, service
        assert "epep_http_request_duration_seconds" in text, service
        assert EMAIL not in text and "caseworker" not in text, service  # nothing personal in a label
    _, gateway = metrics(system, "gateway")
    assert 'route="/api/v1/auth/sign-in"' in gateway
    _, identity = metrics(system, "identity")
    assert "epep_outbox_unpublished" in identity and "epep_outbox_oldest_unpublished_age_seconds" in identity
    # Queue figures are read from the broker at scrape time (a busy broker may miss one scrape).
    wait_for(lambda: values(metrics(system, "delegation")[1], "epep_queue_consumers", queue=r"delegation\..*"), 20,
             "delegation's queues")
    def dead_letters() -> set[float]:
        return set(values(metrics(system, "notify")[1], "epep_dead_letter_messages", queue=r".*sign_in_code\.dlq"))
    wait_for(lambda: dead_letters() == {0.0}, 20, "notify's dead-letter queues")


def test_metrics_are_not_served_through_the_portal_or_gateway(system: RunningSystem) -> None:
    # Whatever comes through the ingress carries X-Forwarded-For.
    for service in ("portal", "gateway"):
        assert metrics(system, service, {"X-Forwarded-For": "203.0.113.7"})[0] == 404, service
    assert system.api("GET", "/api/v1/metrics")[0] == 404


def test_a_process_says_nothing_of_a_broker_or_consumers_it_does_not_have(system: RunningSystem) -> None:
    """The alerts read epep_broker_connected 0 as a lost broker and epep_consumers_consuming 0 (broker up) as stopped
    consumers (deploy/k8s/monitoring/alerts.yaml). The gateway and portal have no broker and identity consumes
    nothing: a 0 from them would keep an alert firing for as long as they run."""
    for service in ("gateway", "portal"):
        text = metrics(system, service)[1]
        assert values(text, "epep_broker_connected") == [], service
        assert values(text, "epep_consumers_consuming") == [], service
    identity = metrics(system, "identity")[1]
    assert values(identity, "epep_broker_connected") == [1.0]
    assert values(identity, "epep_consumers_consuming") == []
    for service in ("pep", "delegation", "notify", "qa"):
        wait_for(lambda s=service: values(metrics(system, s)[1], "epep_consumers_consuming") == [1.0], 20,
                 f"{service} consuming")
        assert values(metrics(system, service)[1], "epep_broker_connected") == [1.0], service
