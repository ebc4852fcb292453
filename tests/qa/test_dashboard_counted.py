"""What a qa process keeps of the dashboards it has counted: served at the versions it was counted at, or to a
request that arrived before its snapshot was taken; bounded, the least recently used going first.
(tests/system/test_dashboard_counted.py: the versions, end to end.)"""

from __future__ import annotations

import asyncio

from services.qa.dashboard import Counted

KEY = ("la", (), "2026-11-26")


def test_figures_are_served_again_only_at_the_versions_they_were_counted_at() -> None:
    counted = Counted()
    counted.put(KEY, (3, 1), started=100.0, value={"total": 7})
    assert counted.get(KEY, (3, 1), arrived=150.0) == {"total": 7}
    assert counted.get(KEY, (4, 1), arrived=150.0) is None  # the LA changed after the counting
    assert counted.get(KEY, (3, 2), arrived=150.0) is None  # someone's name changed
    assert counted.get(("la", (), "2026-11-27"), (3, 1), arrived=150.0) is None  # another day: overdue moves


def test_a_request_that_waited_for_a_counting_is_given_it_even_if_more_changed_since() -> None:
    counted = Counted()
    counted.put(KEY, (3, 1), started=100.0, value={"total": 7})
    # Asked at 99, before that counting's snapshot: it holds everything committed before the request.
    assert counted.get(KEY, (5, 1), arrived=99.0) == {"total": 7}
    # Asked at 101, after it: a change since may be the asker's own, so it is counted again.
    assert counted.get(KEY, (5, 1), arrived=101.0) is None


def test_the_least_recently_used_go_first() -> None:
    counted = Counted(size=2)
    counted.put(("a",), (1, 1), 1.0, {"n": 1})
    counted.put(("b",), (1, 1), 1.0, {"n": 2})
    assert counted.get(("a",), (1, 1), 2.0) == {"n": 1}
    counted.put(("c",), (1, 1), 1.0, {"n": 3})
    assert counted.get(("b",), (1, 1), 2.0) is None
    assert counted.get(("a",), (1, 1), 2.0) == {"n": 1} and counted.get(("c",), (1, 1), 2.0) == {"n": 3}


async def test_one_counting_at_a_time_per_key() -> None:
    counted = Counted()
    order: list[str] = []

    async def count(name: str) -> None:
        async with counted.lock(KEY):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(count("first"), count("second"))
    assert order == ["first in", "first out", "second in", "second out"]
    async with counted.lock(KEY), counted.lock(("other",)):
        pass  # another key does not wait
