"""prophet: Meta's Prophet per series (trend, auto yearly/weekly/daily seasonality) with the task's covariates as
extra regressors. Quantiles come from Prophet's posterior predictive samples, the mean is its yhat. Series are
fitted on parallel threads (Stan samples in a process of its own, so threads run side by side; a process pool
inside the executor's training process hung in loky); a series Prophet fails on gets the seasonal-naive forecast."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from algorithms._statsforecast import seasonal_naive
from algorithms.forecaster import Forecaster, SeriesTask, future_index, sort_quantiles


class Prophet(Forecaster):
    name = "prophet"
    relative_cost = 1.0
    uses_covariates = True

    @classmethod
    def default_params(cls, task: SeriesTask) -> dict:
        return {"uncertainty_samples": 200, "changepoint_prior_scale": 0.05}

    def fit(self, history: pd.DataFrame, *, deadline: float | None = None, threads: int = 1) -> Prophet:
        from joblib import Parallel, delayed

        self.threads_ = max(1, threads)
        groups = list(history.groupby("unique_id", sort=False))
        self.models_ = Parallel(n_jobs=self.threads_, prefer="threads")(
            delayed(_fit_one)(frame, self.task.covariates, self.params, deadline) for _, frame in groups)
        self.tails_ = {uid: frame["y"].to_numpy(dtype=float)[-2 * self.task.season_length:] for uid, frame in groups}
        self.index_ = future_index(history, self.task.freq, self.task.horizon)
        return self

    def predict(self, future: pd.DataFrame | None = None) -> pd.DataFrame:
        from joblib import Parallel, delayed

        task, frame = self.task, self.index_.copy()
        steps = frame if future is None else frame.merge(future, on=["unique_id", "ds"], how="left")
        seeds = range(task.seed, task.seed + len(self.models_))
        answers = Parallel(n_jobs=self.threads_, prefer="threads")(
            delayed(_predict_one)(model, part, task.quantiles, seed)
            for model, (_, part), seed in zip(self.models_, steps.groupby("unique_id", sort=False), seeds, strict=True))
        points, bands = [], []
        for (point, band), y in zip(answers, self.tails_.values(), strict=True):
            if point is None or not (np.isfinite(point).all() and np.isfinite(band).all()):
                point, band = seasonal_naive(y, task.season_length, task.horizon, task.quantiles)
            points.append(point)
            bands.append(band)
        frame["mean"] = np.concatenate(points)
        frame[task.quantile_columns] = np.concatenate(bands)
        return sort_quantiles(frame, task.quantile_columns)


def _quiet() -> None:
    import logging

    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fit_one(frame: pd.DataFrame, covariates: tuple[str, ...], params: dict, deadline: float | None) -> str | None:
    """One series' fitted model as Prophet's JSON (pickles anywhere), or None when Prophet fails on it.
    Covariates constant over this history carry no signal and would make Prophet's scaling divide by zero."""
    if deadline is not None and time.time() > deadline:
        raise TimeoutError("prophet: deadline passed between series")
    _quiet()
    from prophet import Prophet as Model
    from prophet.serialize import model_to_json

    model = Model(uncertainty_samples=params["uncertainty_samples"],
                  changepoint_prior_scale=params["changepoint_prior_scale"])
    for name in covariates:
        if frame[name].nunique() > 1:
            model.add_regressor(name)
    try:
        model.fit(frame[["ds", "y", *model.extra_regressors]])
    except Exception:  # noqa: BLE001 - any failure of one series falls back to seasonal naive
        return None
    return model_to_json(model)


def _predict_one(model: str | None, steps: pd.DataFrame, quantiles: tuple[float, ...], seed: int
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """yhat and the sample quantiles of one series' future steps."""
    if model is None:
        return None, None
    _quiet()
    from prophet.serialize import model_from_json

    fitted = model_from_json(model)
    steps = steps[["ds", *fitted.extra_regressors]]
    np.random.seed(seed)  # Prophet draws its samples from numpy's global generator
    samples = fitted.predictive_samples(steps)["yhat"]
    fitted.uncertainty_samples = 0  # yhat alone, without drawing the intervals again
    point = fitted.predict(steps)["yhat"].to_numpy()
    return point, np.quantile(samples, quantiles, axis=1).T
