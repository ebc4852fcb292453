"""CPU time of the system under test from /proc, by process group: the bench's `cpu_ms_per_read` (issue 19).

What is counted, for each group, is every process of the group's roots and all their descendants alive at the
sample, each with `utime + stime + cutime + cstime` from /proc/<pid>/stat (fields 14-17, in clock ticks,
os.sysconf("SC_CLK_TCK")). A descendant that ends and is reaped between two samples moves its time into its
parent's cutime/cstime, so nothing it used is lost or counted twice; a process born between them counts all of
its time. The roots:

- gateway, pep, identity: the processes the bench started for that service (LocalSystem.processes, every
  replica: `pep`, `pep-2`, ...);
- other: every other process the bench started (delegation, notify, qa, portal, the mail sink);
- postgres: the postmaster of the bench's Postgres (the parent of a backend of the bench's own connection,
  `pg_backend_pid()`), so every backend, the checkpointer, the WAL writer and the autovacuum workers;
- rabbitmq: every `beam.smp` (with erl_child_setup and inet_gethost under it) and `epmd` on the machine.

The load generator (the bench's own process) is not part of the system under test; its own user + system time
is reported beside the total, not in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("gateway", "pep", "identity", "postgres", "rabbitmq", "other")
RABBITMQ_NAMES = frozenset({"beam.smp", "epmd"})


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    ppid: int
    ticks: int  # utime + stime + cutime + cstime: its own CPU and that of its reaped children


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name is in parentheses and may itself hold spaces and ')'."""
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()  # fields[0] is field 3 (state): field n of proc(5) is fields[n - 3]
    utime, stime, cutime, cstime = (int(fields[n - 3]) for n in (14, 15, 16, 17))
    return ProcStat(int(pid), comm, int(fields[4 - 3]), utime + stime + cutime + cstime)


def snapshot(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    """Every process alive now. One that ends while we read is simply not there."""
    stats: dict[int, ProcStat] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
    return stats


def descendants(stats: Mapping[int, ProcStat], roots: Iterable[int]) -> set[int]:
    """The roots still alive and every process under them."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    found: set[int] = set()
    todo = [r for r in roots if r in stats]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def group_of(process_name: str) -> str:
    """`gateway`, `pep-2` → gateway, pep; the bench's other processes → other."""
    service = process_name.rsplit("-", 1)[0] if process_name.rsplit("-", 1)[-1].isdigit() else process_name
    return service if service in ("gateway", "pep", "identity") else "other"


def group_roots(processes: Mapping[str, int], postmaster: int | None,
                stats: Mapping[int, ProcStat]) -> dict[str, list[int]]:
    """Each group's root pids: the bench's processes by name, the postmaster, and the RabbitMQ processes by name."""
    roots: dict[str, list[int]] = {g: [] for g in GROUPS}
    for name, pid in processes.items():
        roots[group_of(name)].append(pid)
    if postmaster is not None:
        roots["postgres"].append(postmaster)
    roots["rabbitmq"] = sorted(s.pid for s in stats.values() if s.comm in RABBITMQ_NAMES)
    return roots


def ticks_by_group(stats: Mapping[int, ProcStat], roots: Mapping[str, list[int]]) -> dict[str, int]:
    """Clock ticks used so far by each group's processes; a process in two groups' trees counts in the first."""
    seen: set[int] = set()
    out: dict[str, int] = {}
    for group in GROUPS:
        pids = descendants(stats, roots.get(group, [])) - seen
        seen |= pids
        out[group] = sum(stats[p].ticks for p in pids)
    return out


@dataclass
class CpuSample:
    ticks: dict[str, int]
    load_generator_seconds: float  # the bench's own process: user + system, children not included

    @classmethod
    def take(cls, processes: Mapping[str, int], postmaster: int | None,
             proc: Path = Path("/proc")) -> CpuSample:
        stats = snapshot(proc)
        times = os.times()
        return cls(ticks_by_group(stats, group_roots(processes, postmaster, stats)), times.user + times.system)


def per_operation(before: CpuSample, after: CpuSample, operations: int,
                  clock_ticks: int | None = None) -> dict[str, object]:
    """CPU milliseconds per operation between two samples, in all and by group."""
    hz = clock_ticks or os.sysconf("SC_CLK_TCK")
    n = max(1, operations)
    by_group = {g: round((after.ticks[g] - before.ticks[g]) * 1000 / hz / n, 3) for g in GROUPS}
    total = sum(after.ticks[g] - before.ticks[g] for g in GROUPS) * 1000 / hz / n
    generator = (after.load_generator_seconds - before.load_generator_seconds) * 1000 / n
    return {"cpu_ms_per_read": round(total, 3), "by_group_ms": by_group, "operations": operations,
            "load_generator_ms_not_counted": round(generator, 3), "clock_ticks_per_second": hz}
