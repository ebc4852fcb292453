"""The bench's `cpu_ms_per_read` arithmetic over /proc (tests/bench/cpu.py), on a made-up /proc: no system."""

import os
from pathlib import Path

from tests.bench.cpu import CpuSample, group_of, parse_stat, per_operation, snapshot


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    # Fields 3.. of proc(5): state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt,
    # then utime, stime, cutime, cstime, priority, nice ... (the rest unread).
    return (f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 "
            f"{utime} {stime} {cutime} {cstime} 20 0 1 0 12345 1000 200\n")


def write_proc(root: Path, lines: dict[int, str]) -> Path:
    for old in root.glob("*/stat"):
        old.unlink()
    for pid, line in lines.items():
        (root / str(pid)).mkdir(exist_ok=True)
        (root / str(pid) / "stat").write_text(line)
    (root / "self").mkdir(exist_ok=True)  # not a pid: ignored
    return root


def test_a_stat_line_with_spaces_and_parentheses_in_the_name() -> None:
    s = parse_stat(stat_line(42, "web (x) 1", 7, utime=11, stime=5, cutime=3, cstime=2))
    assert (s.pid, s.comm, s.ppid, s.ticks) == (42, "web (x) 1", 7, 21)


def test_replicas_group_with_their_service() -> None:
    assert [group_of(n) for n in ("gateway", "pep-2", "identity-3", "qa", "mailsink", "portal")] == [
        "gateway", "pep", "identity", "other", "other", "other"]


def test_cpu_per_read_by_group_counts_children_and_reaped_children_once(tmp_path: Path) -> None:
    bench = {"gateway": 100, "pep": 200, "pep-2": 210, "identity": 300, "qa": 400}
    before = {
        1: stat_line(1, "init", 0, 999, 999),  # not the system's: never counted
        100: stat_line(100, "python", 1, 50, 10),
        200: stat_line(200, "python", 1, 40, 10),
        210: stat_line(210, "python", 1, 5, 5),
        211: stat_line(211, "python", 210, 7, 3),  # a child of a pep replica: counted with pep
        300: stat_line(300, "python", 1, 20, 0),
        400: stat_line(400, "python", 1, 1, 1),
        500: stat_line(500, "postgres", 1, 100, 50, cutime=30, cstime=20),  # the postmaster
        501: stat_line(501, "postgres", 500, 40, 10),  # a backend that ends before the second sample
        600: stat_line(600, "beam.smp", 1, 70, 30),
        601: stat_line(601, "erl_child_setup", 600, 1, 0),
        700: stat_line(700, "epmd", 1, 2, 0),
        800: stat_line(800, "postgres", 1, 5000, 5000),  # another Postgres on the machine: not ours
    }
    first = CpuSample.take(bench, 500, write_proc(tmp_path, before))
    assert first.ticks == {"gateway": 60, "pep": 70, "identity": 20, "postgres": 250, "rabbitmq": 103, "other": 2}
    after = dict(before)
    after |= {
        100: stat_line(100, "python", 1, 80, 20),  # +40
        200: stat_line(200, "python", 1, 60, 10),  # +20
        211: stat_line(211, "python", 210, 12, 3),  # +5
        300: stat_line(300, "python", 1, 30, 0),  # +10
        # 501 ended with 60 ticks (10 more than before) and the postmaster reaped it: its cutime/cstime grow by
        # 60, its own time by 5, and a new backend used 15.
        500: stat_line(500, "postgres", 1, 105, 50, cutime=70, cstime=40),
        502: stat_line(502, "postgres", 500, 10, 5),
        600: stat_line(600, "beam.smp", 1, 78, 32),  # +10
    }
    del after[501]
    second = CpuSample.take(bench, 500, write_proc(tmp_path, after))
    second.load_generator_seconds = first.load_generator_seconds + 0.5
    r = per_operation(first, second, operations=10, clock_ticks=100)
    # Ticks of 10 ms over 10 reads: 1 ms per read for each tick.
    assert r["by_group_ms"] == {"gateway": 40.0, "pep": 25.0, "identity": 10.0, "postgres": 30.0,
                                "rabbitmq": 10.0, "other": 0.0}
    assert r["cpu_ms_per_read"] == 115.0
    assert r["load_generator_ms_not_counted"] == 50.0


def test_the_real_proc_has_this_process() -> None:
    stats = snapshot()
    assert stats[os.getpid()].ppid == os.getppid()
