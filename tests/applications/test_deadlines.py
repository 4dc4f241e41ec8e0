"""Working-day deadlines against the official calendar, and the SLA light."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from applications.deadlines import (
    CHINA,
    SlaState,
    add_working_days,
    due_at,
    is_working_day,
    sla_state,
)


def test_national_day_holiday_and_make_up_saturday() -> None:
    # 2026: 国庆 1–7 October are holidays; Saturday 10 October is a make-up working day.
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)
    assert add_working_days(date(2026, 10, 1), 0) == date(2026, 10, 8)
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)  # 春节调休 Saturday


def test_unknown_years_fall_back_to_weekdays() -> None:
    assert is_working_day(date(2031, 1, 6))  # a Monday
    assert not is_working_day(date(2031, 1, 4))  # a Saturday


def test_due_at_is_end_of_the_last_local_working_day() -> None:
    # 23:30 UTC on Thursday is already Friday in China; 1 working day later is Monday.
    received = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    due = due_at(received, 1)
    local = due.astimezone(CHINA)
    assert local.date() == date(2026, 11, 23)
    assert (local.hour, local.minute) == (23, 59)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        add_working_days(date(2026, 1, 5), -1)


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 20)),
    days=st.integers(min_value=0, max_value=30),
)
def test_deadlines_land_on_working_days_and_grow_with_the_limit(start: date, days: int) -> None:
    end = add_working_days(start, days)
    assert is_working_day(end)
    assert end >= start
    assert add_working_days(start, days + 1) > end


def test_sla_light() -> None:
    received = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday morning in China
    due = due_at(received, 10)
    assert sla_state(received, due, 10, now=received) is SlaState.GREEN
    assert sla_state(received, due, 10, now=due - timedelta(hours=2)) is SlaState.YELLOW
    assert sla_state(received, due, 10, now=due + timedelta(seconds=1)) is SlaState.RED
    assert sla_state(received, due, 10, now=due, finished_at=due) is SlaState.GREEN
    late = due + timedelta(days=1)
    assert sla_state(received, due, 10, now=late, finished_at=late) is SlaState.RED
