"""The time-series metrics of the API (AutoMLMetricEnum), as Autopilot defines them; all are minimized.

Point metrics read the `mean` forecast; quantile losses read the quantile columns (`p10`, ...). A backtest
scores every window's rows together; MASE scales each series by its own in-sample seasonal-naive error, on
the history before the window, then averages over series, as Amazon Forecast does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

FORECAST_METRIC_NAMES = ("AverageWeightedQuantileLoss", "RMSE", "MAPE", "MASE", "WAPE")


@dataclass(frozen=True)
class ForecastMetric:
    """The same shape as the tabular `Metric` where ranking reads it (name, maximize, sort_key)."""

    name: str
    fn: Callable[[pd.DataFrame, list[str]], float]  # fn(scored rows, quantile columns)
    maximize: bool = False

    @property
    def objective_type(self) -> str:
        return "Minimize"

    def better(self, a: float, b: float) -> bool:
        return a < b

    def sort_key(self, value: float) -> float:
        if value is None or not np.isfinite(value):
            return float("inf")
        return value


def quantile_loss(y: np.ndarray, q: np.ndarray, level: float) -> float:
    """Weighted quantile loss at one level: 2 * sum of pinball losses / sum of |y|."""
    denominator = np.abs(y).sum()
    if denominator == 0:
        return float("nan")
    diff = y - q
    return float(2 * np.sum(np.maximum(level * diff, (level - 1) * diff)) / denominator)


def _wql(rows: pd.DataFrame, quantiles: list[str]) -> float:
    y = rows["y"].to_numpy(float)
    return float(np.mean([quantile_loss(y, rows[c].to_numpy(float), int(c[1:]) / 100) for c in quantiles]))


def _rmse(rows: pd.DataFrame, quantiles: list[str]) -> float:
    return float(np.sqrt(np.mean((rows["y"] - rows["mean"]) ** 2)))


def _mape(rows: pd.DataFrame, quantiles: list[str]) -> float:
    y = rows["y"].to_numpy(float)
    keep = y != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs((y[keep] - rows["mean"].to_numpy(float)[keep]) / y[keep])))


def _wape(rows: pd.DataFrame, quantiles: list[str]) -> float:
    denominator = rows["y"].abs().sum()
    return float((rows["y"] - rows["mean"]).abs().sum() / denominator) if denominator else float("nan")


def _mase(rows: pd.DataFrame, quantiles: list[str]) -> float:
    errors = (rows["y"] - rows["mean"]).abs().groupby([rows["unique_id"], rows["window"]]).mean()
    scale = rows.groupby(["unique_id", "window"])["scale"].first()
    ratio = (errors / scale).replace([np.inf, -np.inf], np.nan).dropna()
    return float(ratio.mean()) if len(ratio) else float("nan")


FORECAST_METRICS: dict[str, ForecastMetric] = {m.name: m for m in (
    ForecastMetric("AverageWeightedQuantileLoss", _wql), ForecastMetric("RMSE", _rmse),
    ForecastMetric("MAPE", _mape), ForecastMetric("MASE", _mase), ForecastMetric("WAPE", _wape))}


def seasonal_scale(history: pd.DataFrame, season_length: int) -> pd.Series:
    """Per series: the mean absolute seasonal difference of its history (MASE's denominator); a series too
    short for one season uses lag 1."""
    def scale(y: pd.Series) -> float:
        m = season_length if len(y) > season_length else 1
        diffs = np.abs(y.to_numpy()[m:] - y.to_numpy()[:-m])
        return float(diffs.mean()) if len(diffs) else float("nan")

    return history.groupby("unique_id", sort=False)["y"].apply(scale)


def score(rows: pd.DataFrame, quantiles: list[str]) -> dict[str, float]:
    """Every metric on scored rows (unique_id, window, y, mean, quantiles, scale)."""
    return {name: metric.fn(rows, quantiles) for name, metric in FORECAST_METRICS.items()}


def weighted_quantile_losses(rows: pd.DataFrame, quantiles: list[str]) -> dict[str, float]:
    """wQL at each level: Autopilot reports them alongside the average (`wQL[0.1]`)."""
    y = rows["y"].to_numpy(float)
    return {f"wQL[{int(c[1:]) / 100:g}]": quantile_loss(y, rows[c].to_numpy(float), int(c[1:]) / 100)
            for c in quantiles}
