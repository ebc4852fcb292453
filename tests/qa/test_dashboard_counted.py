"""What a qa process keeps of the dashboards it has counted: served only at the versions it was counted at, and
bounded, the least recently used going first. (tests/system/test_dashboard_counted.py: the versions, end to end.)"""

from __future__ import annotations

import asyncio

from services.qa.dashboard import Counted


def test_figures_are_served_only_at_the_versions_they_were_counted_at() -> None:
    counted = Counted()
    counted.put(("la", (), "2026-11-26"), (3, 1), {"total": 7})
    assert counted.get(("la", (), "2026-11-26"), (3, 1)) == {"total": 7}
    assert counted.get(("la", (), "2026-11-26"), (4, 1)) is None  # the LA changed
    assert counted.get(("la", (), "2026-11-26"), (3, 2)) is None  # someone's name changed
    assert counted.get(("la", (), "2026-11-27"), (3, 1)) is None  # another day: overdue moves


def test_the_least_recently_used_go_first() -> None:
    counted = Counted(size=2)
    counted.put(("a",), (1, 1), {"n": 1})
    counted.put(("b",), (1, 1), {"n": 2})
    assert counted.get(("a",), (1, 1)) == {"n": 1}
    counted.put(("c",), (1, 1), {"n": 3})
    assert counted.get(("b",), (1, 1)) is None
    assert counted.get(("a",), (1, 1)) == {"n": 1} and counted.get(("c",), (1, 1)) == {"n": 3}


async def test_one_counting_at_a_time_per_key() -> None:
    counted = Counted()
    order: list[str] = []

    async def count(name: str) -> None:
        async with counted.lock(("la",)):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(count("first"), count("second"))
    assert order == ["first in", "first out", "second in", "second out"]
    async with counted.lock(("la",)), counted.lock(("other",)):
        pass  # another key does not wait
