"""The chaos run's two lanes of faults share its processes: while one lane stops and starts a service replica,
the other lane's check for processes that died unasked must leave it alone. Before the lock it took a replica
being restarted by a rolling restart for a dead one, counted an unplanned exit and started it a second time."""

from __future__ import annotations

import argparse
import os
import subprocess
import threading

import pytest

from tests.chaos.__main__ import KINDS, LANES, Chaos

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the chaos run's RabbitMQ cluster needs root")


def chaos() -> Chaos:
    return Chaos(argparse.Namespace(cycles=1, faults=1, workers=1, minutes=1, settle_minutes=0, fault_every=1,
                                    replicas="pep=2"))


def test_every_kind_is_in_one_lane_only() -> None:
    assert sorted(KINDS) == sorted(set(KINDS)) and len(KINDS) == 8
    data_tier = set(LANES[0])
    assert all(k.startswith(("rabbitmq", "postgres")) for k in data_tier)  # never two data-tier faults at once
    assert not data_tier & set(LANES[1])


def test_a_process_a_fault_is_restarting_is_not_taken_for_dead() -> None:
    run = chaos()
    stopped = subprocess.Popen(["true"])
    stopped.wait()  # as a replica looks between the rolling restart's stop and its start
    run.system.processes["pep-2"] = stopped
    with run.processes_lock:  # the other lane is in the middle of it
        revived = threading.Thread(target=run.revive)
        revived.start()
        revived.join(timeout=5)
    assert not revived.is_alive(), "revive() must not wait for the other lane (it runs on the workload's loop)"
    assert run.unplanned_exits == {}
    assert run.system.processes["pep-2"] is stopped
