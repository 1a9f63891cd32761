"""Rolling-origin backtests: the windows at the end of every series, and the task that fits one forecaster on
each window's history, scores it on the window, then refits it on all history for the final forecasts.

Window k (1 = the latest) forecasts the `horizon` steps that start `k * horizon` steps before a series' end
from the history before them. A series too short to leave `min_train` steps before a window sits that window
out; every candidate sees exactly the same windows and rows, so their backtest forecasts can be combined.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd

from algorithms.forecaster import SeriesTask, sort_quantiles
from automl.artifacts import dump_model, read_bytes, write_bytes, write_json
from automl.forecast_metrics import score, seasonal_scale, weighted_quantile_losses
from automl.series import SeriesData

MAX_WINDOWS = 5  # Autopilot's
FIT_SHARE = 0.9  # of a fit's slice of the time, what it may train for (the rest predicts and saves)


def min_train(task: SeriesTask) -> int:
    """The history a window leaves at least: two seasons or two horizons."""
    return max(2 * task.season_length, 2 * task.horizon, 4)


def window_count(data: SeriesData, task: SeriesTask) -> int:
    """Up to five windows; fewer on large data (each window is one more fit of every candidate), and no more
    than most series (80%) are long enough for."""
    rows = len(data.history)
    cap = MAX_WINDOWS if rows <= 50_000 else 2 if rows <= 500_000 else 1
    lengths = np.sort(data.lengths.to_numpy())
    typical = lengths[int(0.2 * (len(lengths) - 1))]
    fits = max(1, (typical - min_train(task)) // task.horizon)
    return int(max(1, min(cap, fits)))


def window(data: SeriesData, task: SeriesTask, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history before window k, the window's rows) over the series long enough for it."""
    history = data.history
    position = history.groupby("unique_id", sort=False).cumcount()
    length = history["unique_id"].map(data.lengths)
    cutoff = length - k * task.horizon
    eligible = cutoff >= min_train(task)
    before = history[eligible & (position < cutoff)]
    inside = history[eligible & (position >= cutoff) & (position < cutoff + task.horizon)]
    return before.reset_index(drop=True), inside.reset_index(drop=True)


def load_series(path: str) -> SeriesData:
    return joblib.load(io.BytesIO(read_bytes(path)))


@dataclass(frozen=True)
class FitForecaster:
    """One candidate: backtest on `windows` windows, then the final fit. Writes the model, the backtest folder
    and the final forecasts; returns the candidate's facts."""

    cls: type
    params: dict
    task: SeriesTask
    data_path: str
    windows: int
    threads: int
    objective: str
    model_uri: str
    backtest_uri: str
    forecasts_uri: str
    keys_columns: tuple[str, ...]
    names: dict  # internal column -> the data's own name, for the files a user reads ({"ds": "timestamp", ...})

    def run(self, deadline: float) -> dict:
        data = load_series(self.data_path)
        started = time.time()
        scored, fit_s = [], 0.0
        for k in range(self.windows, 0, -1):
            before, inside = window(data, self.task, k)
            fits_left = k + 1
            soft = time.time() + FIT_SHARE * (deadline - time.time()) / fits_left
            t0 = time.time()
            model = self.cls(self.task, **self.params).fit(before, deadline=soft, threads=self.threads)
            fit_s += time.time() - t0
            future = inside[["unique_id", "ds", *self.task.covariates]] if self.task.covariates else None
            forecast = model.predict(future)
            rows = inside[["unique_id", "ds", "y"]].merge(forecast, on=["unique_id", "ds"], how="left")
            rows["window"] = k
            rows["scale"] = rows["unique_id"].map(seasonal_scale(before, self.task.season_length))
            scored.append(rows)
        rows = pd.concat(scored, ignore_index=True)
        _check_forecast(rows, self.task, "backtest")
        metrics = score(rows, self.task.quantile_columns)
        soft = time.time() + FIT_SHARE * (deadline - time.time())
        t0 = time.time()
        model = self.cls(self.task, **self.params).fit(data.history, deadline=soft, threads=self.threads)
        fit_s += time.time() - t0
        t0 = time.time()
        final = model.predict(data.future)
        predict_s = time.time() - t0
        _check_forecast(final, self.task, "final")
        dump_model(self.model_uri, model)
        write_backtest(self.backtest_uri, rows, metrics, self.task, user_frame(rows, data, self.keys_columns,
                                                                               self.names))
        write_bytes(self.forecasts_uri, user_frame(final, data, self.keys_columns, self.names).to_csv(
            index=False).encode())
        return {"metrics": metrics, "objective_value": metrics[self.objective], "fit_s": fit_s,
                "predict_s_per_1k": predict_s / max(1, len(final)) * 1000,
                "inference_latency_s": predict_s, "model_uri": self.model_uri, "backtest_uri": self.backtest_uri,
                "rows": len(data.history), "fold_facts": [{"windows": self.windows, "seconds": time.time() - started}]}


def _check_forecast(frame: pd.DataFrame, task: SeriesTask, what: str) -> None:
    columns = ["mean", *task.quantile_columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} forecast lacks columns {missing}")
    values = frame[columns].to_numpy(float)
    if not np.isfinite(values).all():
        raise ValueError(f"the {what} forecast has {int((~np.isfinite(values)).sum())} missing or infinite values")
    sort_quantiles(frame, task.quantile_columns)


def user_frame(frame: pd.DataFrame, data: SeriesData, keys_columns: tuple[str, ...], names: dict) -> pd.DataFrame:
    """Rows keyed by the data's own item (and grouping) columns and named as the data names them; `unique_id`
    is kept for combining candidates' forecasts."""
    ordered = [*keys_columns, "unique_id", "ds", *[c for c in frame.columns if c not in ("unique_id", "ds")]]
    frame = data.keys.merge(frame, on="unique_id", how="right")[ordered]
    return frame.rename(columns=names)


def write_backtest(uri: str, rows: pd.DataFrame, metrics: dict, task: SeriesTask, shown: pd.DataFrame) -> None:
    per_window = {int(k): score(part, task.quantile_columns) for k, part in rows.groupby("window")}
    write_bytes(uri + "/forecasts.csv", shown.to_csv(index=False).encode())
    write_json(uri + "/metrics.json", {"Windows": len(per_window), "Metrics": metrics,
                                       "QuantileLosses": weighted_quantile_losses(rows, task.quantile_columns),
                                       "PerWindow": per_window})


def read_forecasts(uri: str, names: dict) -> pd.DataFrame:
    """A forecasts.csv a FitForecaster wrote, with the internal column names back."""
    frame = pd.read_csv(io.BytesIO(read_bytes(uri)), dtype={"unique_id": str})
    frame = frame.rename(columns={v: k for k, v in names.items()})
    frame["ds"] = pd.to_datetime(frame["ds"])
    return frame
