"""Autopilot's ForecastFrequency aliases (`1min`..`59min`, `1H`..`23H`, `1D`..`6D`, `1W`..`4W`, `1M`..`11M`, `1Y`)
-> a pandas offset and the seasonal period used by MASE and the seasonal models.

The anchor (which weekday a week ends on, month start or end) is read from the data's own timestamps, so a
weekly series on Mondays stays on Mondays and quarterly data on quarter starts (`3M`) stays there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from automl.errors import field_error

ALIAS = re.compile(r"^(?P<n>[1-9][0-9]?)?(?P<unit>min|H|D|W|M|Y)$")
LIMITS = {"min": 59, "H": 23, "D": 6, "W": 4, "M": 11, "Y": 1}
NEXT = {"min": "1H", "H": "1D", "D": "1W", "W": "1M", "M": "1Y"}
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
FIELD = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig.ForecastFrequency"


@dataclass(frozen=True)
class Frequency:
    alias: str
    n: int
    unit: str  # min, H, D, W, M, Y

    @property
    def season_length(self) -> int:
        """Steps per day for sub-daily data, a week of days, a year of months; 1 where a cycle is not defined
        (weekly and yearly, as the M4 competition scores them)."""
        if self.unit == "min":
            return max(1, 1440 // self.n) if 1440 % self.n == 0 else 1
        if self.unit == "H":
            return 24 // self.n if 24 % self.n == 0 else 1
        if self.unit == "D":
            return 7 if self.n == 1 else 1
        if self.unit == "M":
            return 12 // self.n if 12 % self.n == 0 else 1
        return 1

    def offset(self, stamps: pd.Series | None = None) -> str:
        """The pandas alias, anchored on the data: `W-MON` for Monday weeks, `3MS` for quarter starts."""
        if self.unit == "min":
            return f"{self.n}min"
        if self.unit == "H":
            return f"{self.n}h"
        if self.unit == "D":
            return f"{self.n}D"
        first = pd.Timestamp(stamps.iloc[0]) if stamps is not None and len(stamps) else None
        if self.unit == "W":
            day = WEEKDAYS[first.weekday()] if first is not None else "SUN"
            return f"{self.n}W-{day}"
        month_end = first is not None and first.is_month_end and first.day != 1
        if self.unit == "M":
            return f"{self.n}{'ME' if month_end else 'MS'}"
        return "YE" if month_end else "YS"


def parse_frequency(alias: str, path: str = FIELD) -> Frequency:
    match = ALIAS.match(alias or "")
    if match is None:
        raise field_error(path, "must be an Autopilot frequency: 1min..59min, 1H..23H, 1D..6D, 1W..4W, 1M..11M or 1Y "
                          "(quarterly data is 3M)", alias)
    n, unit = int(match["n"] or 1), match["unit"]
    if n > LIMITS[unit]:
        raise field_error(path, f"must not overlap the next larger frequency: at most {LIMITS[unit]}{unit}; use "
                          f"{NEXT.get(unit, '1Y')} and its multiples instead", alias)
    return Frequency(alias, n, unit)
