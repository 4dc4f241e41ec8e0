"""无事无需不扰: the clock, quiet hours and the policy-push frequency cap.

Everything that depends on "now" takes a `Clock`, so tests move time instead of sleeping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from notifications.models import Category

CHINA = ZoneInfo("Asia/Shanghai")
POLICY_PUSHES_PER_DAY = 2  # the vendor channels' marketing limit (anchors (d))
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock tests set and advance."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in Asia/Shanghai time; it may cross midnight (22:00-08:00)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`HH:MM-HH:MM`; an empty string disables quiet hours."""
        if not text.strip():
            return None
        parts = text.strip().split("-")
        matches = [_HHMM.match(p.strip()) for p in parts] if len(parts) == 2 else []
        if len(matches) != 2 or not all(matches):
            raise ValueError(f"ZSB_QUIET_HOURS must be HH:MM-HH:MM or empty, not {text!r}")
        start, end = (time(int(m.group(1)), int(m.group(2))) for m in matches if m)
        if start == end:
            raise ValueError("ZSB_QUIET_HOURS: start and end must differ")
        return cls(start, end)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(CHINA).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, moment: datetime) -> datetime:
        """The first end of the window after `moment` (UTC)."""
        local = moment.astimezone(CHINA)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


def holds(quiet: QuietHours | None, moment: datetime, urgent: bool) -> datetime | None:
    """When a non-urgent push that is due at `moment` may go instead, or None to send now."""
    if urgent or quiet is None or not quiet.contains(moment):
        return None
    return quiet.ends_after(moment)


def day_start(moment: datetime) -> datetime:
    """Midnight of `moment`'s day in China, as UTC: the frequency cap counts per local day."""
    local = moment.astimezone(CHINA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def is_capped_category(category: Category) -> bool:
    return category is Category.POLICY
