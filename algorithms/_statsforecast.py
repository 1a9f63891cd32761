"""What the statsforecast forecasters share: quantiles read off prediction intervals, a cap on the history each
series is fitted on (the cost of ARIMA and ETS grows with it, their accuracy barely), all series fitted in
chunks that watch the deadline, and a seasonal-naive stand-in for any series a model fails on.

These models are univariate and ignore covariates, so the forecast is made in `fit` and `predict` returns it:
the fitted object is a small frame that pickles anywhere.
"""
from __future__ import annotations

import multiprocessing
import time
from abc import abstractmethod

import numpy as np
import pandas as pd

from algorithms.forecaster import Forecaster, SeriesTask, future_index, sort_quantiles

ALIAS = "model"  # every model's column name in statsforecast's output
CHUNK_SERIES = 64  # series per chunk and worker: the deadline is checked between chunks


def processes(threads: int) -> int:
    """Worker processes allowed: none beyond this one inside a daemonic process (the engine's executor child),
    which multiprocessing forbids to have children."""
    return 1 if multiprocessing.current_process().daemon else max(1, threads)


def level(q: float) -> float | int:
    """The central interval whose bound is quantile q: q=0.1 and q=0.9 are the bounds of the 80% interval."""
    value = round(abs(200 * q - 100), 6)
    return int(value) if value == int(value) else value


def interval_column(q: float) -> str | None:
    """statsforecast's column for quantile q (None: the point forecast, for q=0.5)."""
    if level(q) == 0:
        return None
    return f"{ALIAS}-{'lo' if q < 0.5 else 'hi'}-{level(q)}"


def levels(quantiles: tuple[float, ...]) -> list[float | int]:
    return sorted({level(q) for q in quantiles} - {0})


def seasonal_naive(y: np.ndarray, season: int, horizon: int, quantiles: tuple[float, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The last season repeated (naive when the series is shorter than two seasons); quantile q at step k is the
    point plus the empirical q-quantile of the in-sample seasonal differences times sqrt(seasons ahead), as
    statsforecast widens SeasonalNaive's intervals but without assuming normal errors."""
    if len(y) < 2 * season:
        season = 1
    steps = np.arange(horizon)
    point = y[len(y) - season + steps % season]
    errors = y[season:] - y[:-season]
    spread = np.quantile(errors, quantiles) if len(errors) else np.zeros(len(quantiles))
    return point, point[:, None] + np.sqrt(steps // season + 1)[:, None] * spread[None, :]


def naive_forecast(history: pd.DataFrame, task: SeriesTask) -> pd.DataFrame:
    """Seasonal-naive forecasts of every series, in the contract's layout."""
    index = future_index(history, task.freq, task.horizon)
    points, bands = [], []
    for _, y in history.groupby("unique_id", sort=False)["y"]:
        point, band = seasonal_naive(y.to_numpy(dtype=float), task.season_length, task.horizon, task.quantiles)
        points.append(point)
        bands.append(band)
    index["mean"] = np.concatenate(points)
    index[task.quantile_columns] = np.concatenate(bands)
    return sort_quantiles(index, task.quantile_columns)


class StatsForecaster(Forecaster):
    """A statsforecast model fitted on each series alone; subclasses say which model."""

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {"max_history": None}

    @abstractmethod
    def model(self, history: pd.DataFrame):
        """The statsforecast model (alias ALIAS) for this history."""

    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> StatsForecaster:
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        history = history[["unique_id", "ds", "y"]]
        if self.params["max_history"]:
            history = history.groupby("unique_id", sort=False).tail(self.params["max_history"])
        workers = processes(threads)
        engine = StatsForecast(models=[self.model(history)], freq=self.task.freq, n_jobs=workers,
                               fallback_model=Naive(alias=ALIAS))
        ids = history["unique_id"].unique()
        parts = []
        for start in range(0, len(ids), CHUNK_SERIES * workers):
            if deadline is not None and time.time() > deadline:
                raise TimeoutError(f"{self.name}: deadline passed after {start} of {len(ids)} series")
            chunk = history[history["unique_id"].isin(ids[start:start + CHUNK_SERIES * workers])]
            parts.append(engine.forecast(h=self.task.horizon, df=chunk, level=levels(self.task.quantiles)))
        self.forecast_ = self._layout(pd.concat(parts, ignore_index=True), history)
        return self

    def _layout(self, raw: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
        """statsforecast's columns renamed to the contract's, rows on future_index's stamps, and a series with
        any non-finite value replaced by its seasonal-naive forecast."""
        task = self.task
        raw["step"] = raw.groupby("unique_id").cumcount()
        frame = future_index(history, task.freq, task.horizon)
        frame["step"] = frame.groupby("unique_id").cumcount()
        values = {"mean": raw[ALIAS]} | {name: raw[interval_column(q) or ALIAS]
                                         for q, name in zip(task.quantiles, task.quantile_columns, strict=True)}
        columns = ["mean", *task.quantile_columns]
        raw = pd.concat([raw[["unique_id", "step"]], pd.DataFrame(values)], axis=1)
        frame = frame.merge(raw, on=["unique_id", "step"], how="left").drop(columns="step")
        bad = frame.loc[~np.isfinite(frame[columns].to_numpy(dtype=float)).all(axis=1), "unique_id"].unique()
        if len(bad):
            naive = naive_forecast(history[history["unique_id"].isin(bad)], task)
            frame.loc[frame["unique_id"].isin(bad), columns] = naive[columns].to_numpy()
        return sort_quantiles(frame, task.quantile_columns)

    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.forecast_.copy()
