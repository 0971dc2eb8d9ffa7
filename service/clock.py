"""The only source of the current time: SystemClock in production, FixedClock in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Tells the time; `now()` is timezone-aware UTC."""

    tz: ZoneInfo

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """Wall-clock time; `today()` is the date in the service's timezone."""

    def __init__(self, tz: str = "Africa/Lagos") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


class FixedClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, at: datetime, tz: str = "Africa/Lagos") -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = at.astimezone(UTC)
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.astimezone(self.tz).date()

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
