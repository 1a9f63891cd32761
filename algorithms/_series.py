"""Helpers the global forecasters share: the long frame split into per-series arrays, calendar features and
seasonal periods read from the frequency, and the output frame with its seasonal-naive fallback (a forecast is
never NaN) and ordered quantiles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from algorithms.forecaster import SeriesTask, future_index, quantile_name, sort_quantiles

HOUR, DAY, WEEK = 3600.0, 86400.0, 7 * 86400.0


@dataclass
class Panel:
    """All series as arrays, in the order they first appear in the frame."""
    ids: list[str]
    y: list[np.ndarray]  # float64 per series
    covariates: list[np.ndarray]  # (length, n_covariates) float32 per series
    calendar: list[np.ndarray]  # (length, n_calendar) float32 per series: `calendar` of its stamps
    last: list[pd.Timestamp]


def panel(frame: pd.DataFrame, covariates: tuple[str, ...], freq: str) -> Panel:
    """Splits the (unique_id, ds)-sorted long frame at its id changes (no groupby: one pass)."""
    ids = frame["unique_id"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    y = frame["y"].to_numpy(dtype=float)
    cov = frame[list(covariates)].to_numpy(dtype=np.float32) if covariates else np.zeros((len(ids), 0), np.float32)
    ds = pd.DatetimeIndex(frame["ds"])
    stamps = calendar(ds, freq)
    bounds = list(zip(starts, ends, strict=True))
    return Panel([ids[s] for s in starts], [y[s:e] for s, e in bounds], [cov[s:e] for s, e in bounds],
                 [stamps[s:e] for s, e in bounds], [ds[e - 1] for e in ends])


def step_seconds(freq: str) -> float:
    """The mean length of one step over 12 steps (a month is about 30.4 days)."""
    stamps = pd.date_range("2001-01-01", periods=13, freq=freq)
    return float((stamps[-1] - stamps[0]).total_seconds()) / 12


def seasonal_periods(task: SeriesTask) -> list[int]:
    """The task's season and the calendar's (daily and weekly for hourly data, yearly for weekly data...)."""
    step = step_seconds(task.freq)
    calendar = [DAY / step, WEEK / step] if step < DAY else [WEEK / step, 365.25 * DAY / step]
    periods = {round(p) for p in calendar if p >= 2 and abs(p - round(p)) < 0.05 * p}
    if task.season_length > 1:
        periods.add(task.season_length)
    return sorted(periods)


def calendar(ds: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Integer calendar features at the resolution of the frequency (no minute of hour for daily data)."""
    step = step_seconds(freq)
    columns = []
    if step < HOUR:
        columns.append(ds.minute)
    if step < DAY:
        columns += [ds.hour, ds.dayofweek]
    elif step < WEEK:
        columns += [ds.dayofweek, ds.day, ds.dayofyear, ds.month]
    elif step < 28 * DAY:
        columns += [ds.isocalendar().week.to_numpy(), ds.month]
    elif step < 365 * DAY:
        columns += [ds.month, ds.quarter]
    if not columns:
        return np.zeros((len(ds), 0), np.float32)
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1)


def calendar_scales(freq: str) -> np.ndarray:
    """The largest value of each `calendar` column, to map them onto [-0.5, 0.5] for networks."""
    step = step_seconds(freq)
    largest = []
    if step < HOUR:
        largest.append(59)
    if step < DAY:
        largest += [23, 6]
    elif step < WEEK:
        largest += [6, 31, 366, 12]
    elif step < 28 * DAY:
        largest += [53, 12]
    elif step < 365 * DAY:
        largest += [12, 4]
    return np.asarray(largest, np.float32)


def future_covariates(task: SeriesTask, data: Panel, future: pd.DataFrame | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The forecast index and its covariates as (n_series, horizon, n_covariates), in the panel's order."""
    index = future_index(pd.DataFrame({"unique_id": data.ids, "ds": data.last}), task.freq, task.horizon)
    if not task.covariates:
        return index, np.zeros((len(data.ids), task.horizon, 0), np.float32)
    if future is None:
        raise ValueError(f"the covariates {list(task.covariates)} are needed for the forecast steps")
    values = index.merge(future.assign(unique_id=future["unique_id"].astype(str)), on=["unique_id", "ds"],
                         how="left")[list(task.covariates)].to_numpy(np.float32)
    return index, np.nan_to_num(values).reshape(len(data.ids), task.horizon, -1)


def seasonal_naive(y: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """The last season repeated (the last value for a series shorter than a season)."""
    season = season if 1 < season <= len(y) else 1
    return np.resize(y[-season:], horizon)


def forecast_frame(task: SeriesTask, index: pd.DataFrame, data: Panel, mean: np.ndarray,
                   quantiles: np.ndarray) -> pd.DataFrame:
    """The output rows from (n_series, horizon) means and (n_series, horizon, n_quantiles) quantiles; a series
    whose forecast has a non-finite value gets seasonal naive throughout instead."""
    mean, quantiles = mean.copy(), quantiles.copy()
    for i in np.flatnonzero(~(np.isfinite(mean).all(1) & np.isfinite(quantiles).all((1, 2)))):
        naive = seasonal_naive(data.y[i], task.season_length, task.horizon)
        mean[i], quantiles[i] = naive, naive[:, None]
    frame = index.copy()
    frame["mean"] = mean.reshape(-1)
    columns = [quantile_name(q) for q in task.quantiles]
    for j, column in enumerate(columns):
        frame[column] = quantiles[:, :, j].reshape(-1)
    return sort_quantiles(frame, columns)
