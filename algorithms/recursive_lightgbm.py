"""recursive-lightgbm: one LightGBM model over all series (AutoGluon's RecursiveTabular, mlforecast), predicting
the next step of the per-series standardised target, less its value one season back (`differencing`: on M4
hourly that alone took MASE from 0.98 to 0.71 on a sample), from its lags, rolling means, the calendar, the
covariates and the series' scale, then fed its own forecasts step by step over the horizon.

Quantiles are conformal: a first model fit on the history less the last horizon forecasts that horizon
recursively, and the standardised errors per step, pooled over series, give each quantile's offset from the
point forecast. That first fit's early-stopped round count sizes the final fit on all history.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from algorithms._series import Panel, calendar, forecast_frame, future_covariates, panel, seasonal_periods
from algorithms.forecaster import Forecaster, SeriesTask

EARLY_STOPPING_ROUNDS = 30
FALLBACK_ROUNDS = 100  # when no series is long enough to hold out a horizon and early-stop on it


class RecursiveLightGBM(Forecaster):
    name = "recursive-lightgbm"
    global_model = True
    relative_cost = 0.05
    uses_covariates = True

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {"learning_rate": 0.1, "num_leaves": 63, "min_data_in_leaf": 20, "feature_fraction": 0.8,
                "lambda_l2": 1.0, "max_rounds": 1000, "max_rows": 100_000, "differencing": "seasonal",
                "scale_window": None, "item_categorical": False, "objective": "l2"}

    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> RecursiveLightGBM:
        start, h = time.time(), self.task.horizon
        data = panel(history, self.task.covariates, self.task.freq)
        self.lags_, self.windows_ = _lags(self.task, data)
        periods = seasonal_periods(self.task)
        self.base_lag_ = {"seasonal": periods[0] if periods else 1, "first": 1, "none": 0}[self.params["differencing"]]
        self.codes_ = {uid: i for i, uid in enumerate(data.ids)}
        self.rounds_, self.residuals_, self.booster_ = FALLBACK_ROUNDS, np.zeros((h, len(self.task.quantiles))), None
        if any(len(y) - h >= 2 for y in data.y):
            X, target, held_out = self._rows(data, h)
            self.booster_ = self._train(X[~held_out], target[~held_out], (X[held_out], target[held_out]), None,
                                        deadline, threads)
            self.rounds_ = self.booster_.best_iteration or self.booster_.current_iteration()
            self.residuals_ = self._residual_quantiles(data)
        if self.booster_ is None or deadline is None or time.time() + 1.5 * (time.time() - start) < deadline:
            X, target, _ = self._rows(data, 0)
            self.booster_ = self._train(X, target, None, self.rounds_, deadline, threads)
        self.data_ = data
        return self

    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        index, covariates = future_covariates(self.task, self.data_, future)
        stamps = calendar(pd.DatetimeIndex(index["ds"]), self.task.freq).reshape(len(self.data_.ids), self.task.horizon,
                                                                                   -1)
        z, loc, scale = self._recursive(self.data_.ids, self.data_.y, covariates, stamps)
        mean = z * scale[:, None] + loc[:, None]
        quantiles = (z[:, :, None] + self.residuals_[None]) * scale[:, None, None] + loc[:, None, None]
        return forecast_frame(self.task, index, self.data_, mean, quantiles)

    def feature_names(self) -> list[str]:
        """The booster's columns in the order `_rows` builds them, so its importances can be read per feature."""
        named = ["item", "log_scale", *[f"lag_{lag}" for lag in self.lags_],
                 *[f"rolling_mean_{w}" for w in self.windows_], *self.task.covariates]
        return named + [f"calendar_{i + 1}" for i in range(self.booster_.num_feature() - len(named))]

    def _train(self, X, target, valid, rounds, deadline, threads):
        import lightgbm as lgb

        p = self.params
        params = {"objective": p["objective"], "learning_rate": p["learning_rate"], "num_leaves": p["num_leaves"],
                  "min_data_in_leaf": p["min_data_in_leaf"], "feature_fraction": p["feature_fraction"],
                  "lambda_l2": p["lambda_l2"], "num_threads": threads, "seed": self.task.seed,
                  "deterministic": True, "verbosity": -1}
        train = lgb.Dataset(X, target, categorical_feature=self._categorical, free_raw_data=True)
        callbacks = [_deadline_callback(deadline)]
        valid_sets = []
        if valid is not None and len(valid[1]):
            valid_sets = [lgb.Dataset(*valid, reference=train, categorical_feature=self._categorical)]
            callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False))
        return lgb.train(params, train, num_boost_round=rounds or p["max_rounds"], valid_sets=valid_sets,
                         callbacks=callbacks)

    def _rows(self, data: Panel, held_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features and target of the most recent points of each series, standardised by its history less the
        last `held_out` points, and whether each row is one of those (series too short to spare them and keep
        two points are left out)."""
        per_series = max(50, self.params["max_rows"] // max(1, len(data.y)))
        blocks, targets, marks = [], [], []
        for i, y in enumerate(data.y):
            n = len(y) - held_out
            if n < 2:
                continue
            loc, scale = self._standardise([y[:n]])
            z = (y - loc[0]) / scale[0]
            t = np.arange(max(1, n - per_series), len(y))
            features, base = self._features(np.r_[np.full(self._pad, np.nan), z], t + self._pad,
                                            data.covariates[i][t])
            blocks.append(np.column_stack([np.full(len(t), self.codes_[data.ids[i]]), np.full(len(t), np.log(scale)),
                                           features, data.calendar[i][t]]))
            targets.append(z[t] - base)
            marks.append(t >= n)
        return np.concatenate(blocks), np.concatenate(targets), np.concatenate(marks)

    def _standardise(self, ys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-series mean and standard deviation over the last `scale_window` points (all when None); the mean
        absolute value for a constant series, else one."""
        window = self.params["scale_window"]
        ys = [y[-window:] for y in ys] if window else ys
        loc = np.asarray([y.mean() for y in ys])
        std = np.asarray([y.std() for y in ys])
        fallback = np.asarray([np.abs(y).mean() for y in ys])
        scale = np.where(std > 1e-8 * np.maximum(1, fallback), std, np.where(fallback > 0, fallback, 1.0))
        return loc, scale

    @property
    def _categorical(self) -> list[int]:
        return [0] if self.params["item_categorical"] else []

    @property
    def _pad(self) -> int:
        return max(self.lags_ + self.windows_) + 1

    def _features(self, z: np.ndarray, t: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lags and rolling means at positions `t` of the left-padded array(s) `z` (time on the last axis), less
        the base the target is taken relative to (the seasonal lag, else the last value; zero without one)."""
        lags = [z[..., t - lag] for lag in self.lags_]
        cumsum = np.cumsum(np.nan_to_num(z), axis=-1)
        counts = np.cumsum(np.isfinite(z), axis=-1)
        means = [(cumsum[..., t - 1] - cumsum[..., t - 1 - w]) / (counts[..., t - 1] - counts[..., t - 1 - w])
                 for w in self.windows_]
        if self.base_lag_:
            seasonal = z[..., t - self.base_lag_]
            base = np.where(np.isfinite(seasonal), seasonal, z[..., t - 1])
        else:
            base = np.zeros(np.shape(lags[0]))
        with np.errstate(invalid="ignore"):
            stacked = np.stack(lags + means, axis=-1) - base[..., None]
        return np.concatenate([stacked, cov], axis=-1), base

    def _recursive(self, ids: list[str], ys: list[np.ndarray], covariates: np.ndarray, stamps: np.ndarray):
        """Standardised forecasts (n_series, horizon), each step's prediction appended for the next, with each
        series' standardisation."""
        h, pad = self.task.horizon, self._pad
        loc, scale = self._standardise(ys)
        z = np.full((len(ys), pad + h), np.nan)
        for i, y in enumerate(ys):
            tail = (y[-(pad - 1):] - loc[i]) / scale[i]
            z[i, pad - len(tail):pad] = tail
        codes = np.asarray([self.codes_.get(uid, -1) for uid in ids], float)
        for k in range(h):
            with np.errstate(invalid="ignore", divide="ignore"):
                features, base = self._features(z, np.asarray([pad + k]), covariates[:, k:k + 1])
            X = np.column_stack([codes, np.log(scale), features[:, 0], stamps[:, k]])
            z[:, pad + k] = self.booster_.predict(X) + base[:, 0]
        return z[:, pad:], loc, scale

    def _residual_quantiles(self, data: Panel) -> np.ndarray:
        """(horizon, n_quantiles) offsets: the quantiles of the held-out standardised errors at each step."""
        h, quantiles = self.task.horizon, np.asarray(self.task.quantiles)
        keep = [i for i, y in enumerate(data.y) if len(y) - h >= 2]
        if not keep:
            return np.zeros((h, len(quantiles)))
        cut = [data.y[i][:-h] for i in keep]
        z, loc, scale = self._recursive([data.ids[i] for i in keep], cut,
                                        np.stack([data.covariates[i][-h:] for i in keep]),
                                        np.stack([data.calendar[i][-h:] for i in keep]))
        truth = (np.stack([data.y[i][-h:] for i in keep]) - loc[:, None]) / scale[:, None]
        return np.quantile(np.nan_to_num(truth - z), quantiles, axis=0).T


def _lags(task: SeriesTask, data: Panel) -> tuple[list[int], list[int]]:
    """Lags 1..the first season, multiples of each season up to the next (seven at most), three of the last,
    none longer than most series; rolling-mean windows of the first and last season."""
    periods = seasonal_periods(task)
    limit = max(1, int(np.median([len(y) for y in data.y])) - task.horizon)
    lags = set(range(1, max(8, periods[0] if periods else 1) + 1))
    for j, p in enumerate(periods):
        following = periods[j + 1] if j + 1 < len(periods) else 4 * p
        lags |= set(range(p, min(following, 8 * p), p))
    lags = sorted(lag for lag in lags if lag <= limit) or [1]
    windows = sorted({w for w in (periods[:1] + periods[-1:]) if w <= limit} | {min(8, limit)})
    return lags, windows


def _deadline_callback(deadline: float | None):
    import lightgbm as lgb

    def stop_at_deadline(env):
        if deadline is not None and time.time() >= deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])
    return stop_at_deadline
