"""mstl: statsforecast's MSTL, seasonal components by repeated LOESS and the trend by AutoETS; hourly data also
gets a weekly season. Only seasons that every series covers twice are used (MSTL misfits shorter series); with
none left it is a non-seasonal AutoETS."""
from __future__ import annotations

import pandas as pd

from algorithms._statsforecast import ALIAS, StatsForecaster
from algorithms.forecaster import SeriesTask


class Mstl(StatsForecaster):
    name = "mstl"
    relative_cost = 0.6

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {"max_history": None}

    def seasons(self, history: pd.DataFrame) -> list[int]:
        season = self.task.season_length
        candidates = [season, 7 * season] if season == 24 else [season]
        shortest = history.groupby("unique_id", sort=False).size().min()
        return [s for s in candidates if s > 1 and 2 * s < shortest]

    def model(self, history: pd.DataFrame):
        from statsforecast.models import MSTL, AutoETS

        seasons = self.seasons(history)
        if not seasons:
            return AutoETS(model="ZZN", alias=ALIAS)
        return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"), alias=ALIAS)
