"""The plug-in contract of a forecaster: history in, quantile forecasts out. Not the tabular `Algorithm`.

Data is one long frame for all series (statsforecast's layout): `unique_id` (str), `ds` (Timestamp, regular
at `SeriesTask.freq`, no gaps), `y` (float, no NaN), then the covariate columns `SeriesTask.covariates`
(numeric, no NaN; holiday flags are among them). Rows are sorted by (unique_id, ds). Every series has at
least `SeriesTask.min_length` rows.

When the runner calls each hook:
- `__init__(task, **params)` stores its arguments only (params come from `default_params()` or a portfolio).
- `fit(history, *, deadline, threads)` once per backtest window (history cut at the window's origin) and once
  on all history for the final model. `deadline` is an absolute `time.time()`: stop improving before it (an
  executor kills the process at that instant anyway); `threads` is the cores it may use. Returns self.
- `predict(future)` right after `fit`: forecasts the `task.horizon` steps after each series' last `ds`.
  `future` holds the covariates of those steps (`unique_id`, `ds`, covariates; None when there are none).
  Returns one row per (unique_id, ds) with columns `unique_id`, `ds`, `mean`, and one per quantile named as
  Autopilot names them (`p10`, `p50`, `p90`), non-decreasing across quantiles.
- A fitted forecaster pickles (joblib) and predicts after loading without the runner.

A local model (`global_model = False`) fits each series alone, all series in parallel over `threads`; a global
model learns one model across all series.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SeriesTask:
    freq: str  # a pandas offset alias: "h", "30min", "D", "W-SUN", "MS", "QS-JAN", "YS"
    season_length: int  # the main seasonal period in steps: 24 hourly, 7 daily, 52 weekly, 12 monthly, 4 quarterly
    horizon: int
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    covariates: tuple[str, ...] = field(default_factory=tuple)  # known in the future too
    seed: int = 0

    @property
    def quantile_columns(self) -> list[str]:
        return [quantile_name(q) for q in self.quantiles]

    @property
    def min_length(self) -> int:
        """The shortest history a forecaster is handed."""
        return max(2, self.horizon)


def quantile_name(q: float) -> str:
    """0.1 -> 'p10'; 0.05 -> 'p5' (Autopilot's names)."""
    return f"p{round(q * 100):d}"


class Forecaster(ABC):
    name: ClassVar[str]  # the API spelling (`AutoMLAlgorithm`), or a clearly named extra
    global_model: ClassVar[bool] = False
    relative_cost: ClassVar[float] = 1.0  # seconds per 1,000 history rows and fit on one idle core: the planner's guide
    uses_covariates: ClassVar[bool] = False

    def __init__(self, task: SeriesTask, **params):
        self.task = task
        self.params = {**self.default_params(task), **params}

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {}

    @abstractmethod
    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> Forecaster:
        ...

    @abstractmethod
    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        ...


def future_index(history: pd.DataFrame, freq: str, horizon: int) -> pd.DataFrame:
    """The (unique_id, ds) rows of the `horizon` steps after each series' last timestamp."""
    last = history.groupby("unique_id", sort=False)["ds"].max()
    offset = pd.tseries.frequencies.to_offset(freq)
    ids, stamps = [], []
    for uid, end in last.items():
        ids.extend([uid] * horizon)
        stamps.extend(pd.date_range(end + offset, periods=horizon, freq=offset))
    return pd.DataFrame({"unique_id": ids, "ds": pd.DatetimeIndex(stamps)})


def sort_quantiles(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Quantile columns made non-decreasing row by row (a model's separate quantile heads can cross)."""
    frame[columns] = np.sort(frame[columns].to_numpy(dtype=float), axis=1)
    return frame
