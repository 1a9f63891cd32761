"""What the torch forecasters (deepar, cnn-qr) share: windows cut from all series at once, mean scaling per
window, time features, and a training loop that stops at the deadline, at `max_train_s`, or when the loss on
the held-out last horizon of each series stops improving (keeping the best weights).

A window is `context + horizon` consecutive steps of one series; positions before a series starts are zeros
with mask 0 (a short series is left-padded), so every window has the same shape.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd

from algorithms._series import Panel, calendar, calendar_scales, forecast_frame, future_covariates, panel
from algorithms.forecaster import Forecaster, SeriesTask

VALID_BATCH = 1024


class Series:
    """All series flattened into one array (each left-padded by `pad`), so a batch of windows is one gather."""

    def __init__(self, task: SeriesTask, data: Panel, pad: int, future: np.ndarray | None = None):
        """`future` (n_series, horizon, n_features): the features of the steps after each series, appended
        with an unknown target (mask 0)."""
        features = [np.concatenate([time_features(c, task.freq), x], axis=1)
                    for c, x in zip(data.calendar, data.covariates, strict=True)]
        self.n_features = features[0].shape[1]
        extra = 0 if future is None else future.shape[1]
        self.lengths = np.asarray([len(y) for y in data.y])
        self.offsets = np.r_[0, np.cumsum(self.lengths + pad + extra)[:-1]] + pad
        total = int((self.lengths + pad + extra).sum())
        self.y = np.zeros(total, np.float32)
        self.mask = np.zeros(total, np.float32)
        self.x = np.zeros((total, self.n_features), np.float32)
        for i, (y, f) in enumerate(zip(data.y, features, strict=True)):
            at = self.offsets[i]
            self.y[at:at + len(y)], self.mask[at:at + len(y)], self.x[at:at + len(y)] = y, 1, f
            if future is not None:
                self.x[at + len(y):at + len(y) + extra] = future[i]

    def windows(self, items: np.ndarray, ends: np.ndarray, context: int, horizon: int, lags: list[int],
                limits: np.ndarray | None = None) -> dict:
        """Windows whose future starts at position `ends` of series `items`, the target scaled by the mean
        absolute observed value of the context; positions at or past `limits` count as unobserved."""
        import torch

        local = ends[:, None] - context + np.arange(context + horizon)[None]
        position = self.offsets[items][:, None] + local
        y, mask = self.y[position], self.mask[position]
        if limits is not None:
            mask = mask * (local < limits[:, None])
        observed = mask[:, :context]
        scale = (np.abs(y[:, :context]) * observed).sum(1) / np.maximum(observed.sum(1), 1)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        lag_at = position[..., None] - np.asarray(lags, int)
        lag_mask = self.mask[lag_at]
        if limits is not None:
            lag_mask = lag_mask * (local[..., None] - np.asarray(lags, int) < limits[:, None, None])
        batch = {"y": y / scale[:, None] * mask, "mask": mask, "x": self.x[position],
                 "lags": self.y[lag_at] / scale[:, None, None] * lag_mask, "lag_mask": lag_mask,
                 "item": items, "scale": scale}
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}


def time_features(stamps: np.ndarray, freq: str) -> np.ndarray:
    """`calendar` columns mapped onto [-0.5, 0.5]."""
    return (stamps / np.maximum(calendar_scales(freq), 1) - 0.5).astype(np.float32)


def naive_period(task: SeriesTask, data: Panel, context: int) -> int:
    """The task's season when repeating the last season beats repeating the last value one season ahead over
    the series (each error relative to its series' level), else 1: the networks' skips start as that naive."""
    season = task.season_length
    if not 1 < season <= context:
        return 1
    errors = np.zeros(2)
    for y in data.y:
        if len(y) > 2 * season:
            level = max(np.abs(y).mean(), 1e-9)
            errors += [np.abs(y[season:] - y[season - 1:-1]).mean() / level,
                       np.abs(y[season:] - y[:-season]).mean() / level]
    return season if errors[1] < errors[0] else 1


def log_scale(scale):
    """The window's scale as an input: networks see scaled targets only, so the level comes from here."""
    return scale.clamp(min=1e-6).log1p().unsqueeze(-1)


class TorchForecaster(Forecaster):
    """fit/predict around a network: subclasses build it and define its loss and its forecast."""
    global_model = True
    uses_covariates = True

    def _build(self, n_features: int, n_items: int, lags: list[int]):
        raise NotImplementedError

    def _loss(self, network, batch: dict):
        raise NotImplementedError

    def _forecast(self, network, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        """Scaled (n, horizon) means and (n, horizon, n_quantiles) quantiles of the windows' futures (torch's
        random numbers are seeded from the task)."""
        raise NotImplementedError

    def _lags(self) -> list[int]:
        return []

    @property
    def context(self) -> int:
        return int(max(2 * self.task.horizon, self.params["context_seasons"] * self.task.season_length +
                       self.task.horizon))

    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> TorchForecaster:
        import torch

        start, h, p = time.time(), self.task.horizon, self.params
        torch.set_num_threads(max(1, threads))
        torch.manual_seed(self.task.seed)
        rng = np.random.default_rng(self.task.seed)
        data = panel(history, self.task.covariates, self.task.freq)
        self.ids_ = {uid: i for i, uid in enumerate(data.ids)}
        lags = [lag for lag in self._lags() if lag <= self.context]
        self.period_ = naive_period(self.task, data, self.context)
        series = Series(self.task, data, self.context + max(lags, default=0))
        self.config_ = (series.n_features, len(data.ids), lags)
        network = self._build(*self.config_)
        optimizer = torch.optim.Adam(network.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
        # Training windows end before the held-out last horizon of each series long enough to spare it.
        limits = np.where(series.lengths - h >= 2, series.lengths - h, series.lengths)
        last_end = np.maximum(1, limits - h)
        items = np.arange(len(data.ids))
        valid = series.windows(items, series.lengths - h, self.context, h, lags) if (limits < series.lengths).any() \
            else None
        stop_at = min(start + p["max_train_s"], deadline - max(2.0, 0.1 * (deadline - start)) if deadline else np.inf)
        best, best_state, stale, self.epochs_ = np.inf, None, 0, 0
        while self.epochs_ < p["max_epochs"] and stale < p["patience"] and time.time() < stop_at:
            network.train()
            for _ in range(p["batches_per_epoch"]):
                chosen = rng.choice(items, size=p["batch_size"], p=last_end / last_end.sum())
                ends = rng.integers(1, last_end[chosen] + 1)
                loss = self._loss(network, series.windows(chosen, ends, self.context, h, lags, limits[chosen]))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 10.0)
                optimizer.step()
                if time.time() >= stop_at:
                    break
            self.epochs_ += 1
            loss = self._validation_loss(network, valid) if valid is not None else -self.epochs_
            if loss < best - 1e-4:
                best, best_state, stale = loss, copy.deepcopy(network.state_dict()), 0
            else:
                stale += 1
        if best_state is not None:
            network.load_state_dict(best_state)
        self.state_ = network.state_dict()
        self.data_ = data
        return self

    def _validation_loss(self, network, valid: dict) -> float:
        import torch

        network.eval()
        with torch.no_grad():
            n = len(valid["y"])
            losses = [self._loss(network, {k: v[i:i + VALID_BATCH] for k, v in valid.items()}).item() *
                      min(VALID_BATCH, n - i) for i in range(0, n, VALID_BATCH)]
        return float(np.sum(losses) / n)

    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        import torch

        index, covariates = future_covariates(self.task, self.data_, future)
        stamps = calendar(pd.DatetimeIndex(index["ds"]), self.task.freq).reshape(len(self.data_.ids),
                                                                                   self.task.horizon, -1)
        ahead = np.concatenate([time_features(stamps, self.task.freq), covariates], axis=-1)
        lags = self.config_[2]
        series = Series(self.task, self.data_, self.context + max(lags, default=0), ahead)
        network = self._build(*self.config_)
        network.load_state_dict(self.state_)
        network.eval()
        batch = series.windows(np.arange(len(self.data_.ids)), series.lengths, self.context, self.task.horizon, lags)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(self.task.seed)
            mean, quantiles = self._forecast(network, batch)
        scale = batch["scale"].numpy().astype(float)
        return forecast_frame(self.task, index, self.data_, mean * scale[:, None], quantiles * scale[:, None, None])


def training_params() -> dict:
    """The loop's defaults: stop at whichever of time, epochs or a plateau comes first."""
    return {"learning_rate": 1e-3, "weight_decay": 1e-8, "batch_size": 64, "batches_per_epoch": 50,
            "max_epochs": 100, "patience": 10, "max_train_s": 300.0, "context_seasons": 2}
