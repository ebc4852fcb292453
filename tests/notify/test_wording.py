"""How notify words times and roles: what people in England read in their emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.notify.wording import ROLES, london_time, role_in_words


def test_a_winter_time_is_greenwich_mean_time() -> None:
    assert london_time(datetime(2026, 12, 7, 16, 30, tzinfo=UTC)) == "Monday 7 December 2026 at 4:30pm"


def test_a_summer_time_is_an_hour_ahead_of_utc() -> None:
    assert london_time(datetime(2026, 7, 1, 11, 5, tzinfo=UTC)) == "Wednesday 1 July 2026 at 12:05pm"


def test_the_clocks_changing_is_followed() -> None:
    # British Summer Time began at 01:00 UTC on Sunday 29 March 2026.
    assert london_time(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == "Sunday 29 March 2026 at 12:59am"
    assert london_time(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == "Sunday 29 March 2026 at 2am"


def test_any_time_zone_is_converted_not_relabelled() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert london_time(datetime(2026, 12, 7, 11, 30, tzinfo=new_york)) == "Monday 7 December 2026 at 4:30pm"


def test_on_the_hour_midday_and_midnight_read_as_gov_uk_writes_them() -> None:
    assert london_time(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) == "Monday 7 December 2026 at 9am"
    assert london_time(datetime(2026, 12, 7, 12, 0, tzinfo=UTC)) == "Monday 7 December 2026 at midday"
    assert london_time(datetime(2026, 12, 7, 12, 1, tzinfo=UTC)) == "Monday 7 December 2026 at 12:01pm"
    assert london_time(datetime(2026, 12, 7, 0, 1, tzinfo=UTC)) == "Monday 7 December 2026 at 12:01am"


def test_midnight_belongs_to_the_day_it_ends_so_nobody_reads_a_deadline_a_day_late() -> None:
    assert london_time(datetime(2026, 12, 8, 0, 0, tzinfo=UTC)) == "Monday 7 December 2026 at midnight"


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError):
        london_time(datetime(2026, 12, 7, 16, 30))


def test_every_role_is_said_in_words_with_its_article() -> None:
    assert role_in_words("vs_admin") == "a Virtual School administrator"
    assert role_in_words("vs_caseworker") == "a Virtual School caseworker"
    assert role_in_words("vs_approver") == "a Virtual School approver"
    assert role_in_words("social_worker") == "a social worker"
    assert role_in_words("iro") == "an Independent Reviewing Officer"
    assert role_in_words("designated_teacher") == "a Designated Teacher"
    assert role_in_words("setting_staff") == "a member of staff"
    assert role_in_words("carer") == "a carer"
    assert len(ROLES) == 8


def test_a_role_added_after_this_release_is_still_said() -> None:
    assert role_in_words("education_officer") == "an education officer"
