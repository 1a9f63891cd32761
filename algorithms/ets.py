"""ets: statsforecast's AutoETS (error, trend and season chosen by AICc); season_length 1 is non-seasonal."""
from __future__ import annotations

import pandas as pd

from algorithms._statsforecast import ALIAS, StatsForecaster
from algorithms.forecaster import SeriesTask


class Ets(StatsForecaster):
    name = "ets"
    relative_cost = 0.5

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {"max_history": None}

    def model(self, history: pd.DataFrame):
        from statsforecast.models import AutoETS

        return AutoETS(season_length=self.task.season_length, alias=ALIAS)
