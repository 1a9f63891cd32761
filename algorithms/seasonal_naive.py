"""seasonal-naive: the last season repeated, with empirical error quantiles. Fast and never fails, so the engine
runs it first and no job ends without a forecast."""
from __future__ import annotations

import pandas as pd

from algorithms._statsforecast import naive_forecast
from algorithms.forecaster import Forecaster


class SeasonalNaive(Forecaster):
    name = "seasonal-naive"
    relative_cost = 0.01

    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> SeasonalNaive:
        self.forecast_ = naive_forecast(history, self.task)
        return self

    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.forecast_.copy()
