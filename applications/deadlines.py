"""Committed time limits in Chinese working days (法定节假日 and 调休 make-up working days).

The official calendar comes from `chinese_calendar` (maintained, updated each year when the State
Council publishes the next year's holidays). For a year it does not know yet we fall back to
Monday–Friday, which errs towards the applicant only when holidays are still unpublished.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")
# A case is due at the end of its last working day (local office closing is not the legal bound).
_END_OF_DAY = time(23, 59, 59)


class SlaState(StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"  # 黄灯预警: the last working day (or the last fifth of the time) has begun
    RED = "RED"  # 红灯: overdue, or finished late


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the library does not cover yet
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (0: `start` itself if it is a working day).

    The day of receipt does not count (行政许可法 counts from the next day), so 1 working day
    from a Friday is the following Monday unless that is a holiday; a case received on a rest
    day is received on the next working day.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    # Received on a rest day: it counts as received on the next working day.
    day = start
    while not is_working_day(day):
        day += timedelta(days=1)
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; 0 when end <= start."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def due_at(received: datetime, committed_days: int) -> datetime:
    local_day = received.astimezone(CHINA).date()
    last = add_working_days(local_day, committed_days)
    return datetime.combine(last, _END_OF_DAY, tzinfo=CHINA).astimezone(UTC)


def sla_state(
    received: datetime,
    due: datetime,
    committed_days: int,
    *,
    now: datetime,
    finished_at: datetime | None = None,
) -> SlaState:
    """GREEN / YELLOW / RED for an open case (against `now`) or a finished one (on time?)."""
    if finished_at is not None:
        return SlaState.GREEN if finished_at <= due else SlaState.RED
    if now > due:
        return SlaState.RED
    today = now.astimezone(CHINA).date()
    left = working_days_between(today, due.astimezone(CHINA).date())
    warn = max(1, math.ceil(committed_days * 0.2))  # the last fifth, at least the last day
    return SlaState.YELLOW if left < warn else SlaState.GREEN
