"""Nothing is lost and nothing is sent twice when a service, the broker or the mail server goes away."""

from __future__ import annotations

import json
import signal
import time

from tests.conftest import RunningSystem
from tests.support.metrics import scrape, values
from tests.system.test_sign_in_api import start

EMAIL = "caseworker@demo.test"


def emails_to(system: RunningSystem, since: float) -> int:
    return len(system.mailbox.codes(EMAIL, since))


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(what)


BROKER_USERS = ["identity", "notify", "pep", "delegation", "qa"]


def broker_connected(system: RunningSystem, service: str) -> list[float]:
    """`epep_broker_connected` on the service's /metrics: [1.0] while its broker connection is up."""
    return values(scrape(system.local.url(service))[1], "epep_broker_connected")


def test_notify_down_during_sign_in_sends_the_code_once_it_is_back(system: RunningSystem, now: float) -> None:
    assert system.local.stop("notify") == 0  # SIGTERM: a clean, graceful exit
    start(system, EMAIL)
    time.sleep(1.5)
    assert emails_to(system, now) == 0
    system.local.start("notify")
    system.local.wait_ready(["notify"])
    system.mailbox.wait_for_code(EMAIL, now)
    time.sleep(1.5)  # room for a duplicate to show up, if there were one
    assert emails_to(system, now) == 1


def test_broker_away_during_sign_in_the_outbox_keeps_the_code(system: RunningSystem, now: float) -> None:
    system.proxy.cut()
    try:
        # Ready means able to answer requests (shared/service.py): identity stays ready, and the broker's own
        # signal, the metric an alert watches and /readyz's checks, says the broker is gone.
        wait_for(lambda: broker_connected(system, "identity") == [0.0], 15, "identity to notice the broker is gone")
        assert system.local.ready("identity")
        assert system.local.readiness("identity")["checks"] == {"database": "ok", "broker": "unreachable"}
        start(system, EMAIL)  # the sign-in still succeeds: the event waits in identity's outbox
        time.sleep(1.5)
        pending = system.admin_sql("SELECT count(*) AS n FROM identity.outbox WHERE published_at IS NULL")
        assert pending[0]["n"] >= 1
        assert emails_to(system, now) == 0
    finally:
        system.proxy.restore()
    wait_for(lambda: all(broker_connected(system, s) == [1.0] for s in BROKER_USERS), 60, "the broker back for all")
    system.mailbox.wait_for_code(EMAIL, now, timeout=60)
    time.sleep(1.5)
    assert emails_to(system, now) == 1
    wait_for(lambda: system.admin_sql("SELECT count(*) AS n FROM identity.outbox WHERE published_at IS NULL")[0]["n"]
             == 0, 10, "outbox drained")


def test_mail_server_away_the_email_is_retried_and_arrives_once(system: RunningSystem, now: float) -> None:
    system.local.stop("mailsink")
    try:
        start(system, EMAIL)
        wait_for(lambda: system.admin_sql(
            "SELECT count(*) AS n FROM notify.deliveries WHERE recipient = $1 AND status = 'temporary_failure' "
            "AND created_at > to_timestamp($2)", EMAIL, now)[0]["n"] == 1, 20, "a temporary failure recorded")
    finally:
        system.local.start_mailsink()
    system.mailbox.wait_for_code(EMAIL, now, timeout=30)
    time.sleep(2)
    assert emails_to(system, now) == 1
    row = system.admin_sql("SELECT status, attempts FROM notify.deliveries WHERE recipient = $1 "
                           "AND created_at > to_timestamp($2)", EMAIL, now)
    assert row[0]["status"] == "sent" and row[0]["attempts"] >= 2


def test_one_trace_runs_from_the_gateway_to_the_smtp_send(system: RunningSystem, now: float) -> None:
    start(system, EMAIL)
    system.mailbox.wait_for_code(EMAIL, now)
    traces = system.local.var / "traces"

    def spans(service: str) -> list[dict]:  # type: ignore[type-arg]
        path = traces / f"{service}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def trace_ids(service: str, name: str) -> set[str]:
        return {s["context"]["trace_id"] for s in spans(service) if s["name"] == name}

    wait_for(lambda: bool(trace_ids("notify", "smtp send")), 10, "the smtp span")
    common = (trace_ids("gateway", "POST /api/v1/auth/sign-in") & trace_ids("identity", "POST /sign-in")
              & trace_ids("identity", "identity.sign_in_code.issued.v1 publish")
              & trace_ids("notify", "identity.sign_in_code.issued.v1 process") & trace_ids("notify", "smtp send"))
    assert common, "no single trace covers gateway, identity, the outbox relay and notify's SMTP send"


def test_a_service_stops_gracefully_on_sigterm(system: RunningSystem) -> None:
    assert system.local.stop("qa", signal.SIGTERM) == 0
    system.local.start("qa")
    system.local.wait_ready(["qa"])
