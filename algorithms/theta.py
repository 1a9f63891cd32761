"""theta: statsforecast's DynamicOptimizedTheta, the theta method with its parameters fitted per series."""
from __future__ import annotations

import pandas as pd

from algorithms._statsforecast import ALIAS, StatsForecaster


class Theta(StatsForecaster):
    name = "theta"
    relative_cost = 0.35

    def model(self, history: pd.DataFrame):
        from statsforecast.models import DynamicOptimizedTheta

        return DynamicOptimizedTheta(season_length=self.task.season_length, alias=ALIAS)
