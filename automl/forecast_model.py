"""A forecasting job's saved candidates, used without the trainer: `automl predict --job NAME --input history.csv`.

A candidate's model.joblib is its forecaster fitted on the job's history, with its parameters. Forecasting
after another history (newer data, other items) refits those parameters on it, as Autopilot's forecasters
do at inference (a local model is its series' own fit); a weighted ensemble combines its members' forecasts.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from algorithms.forecaster import Forecaster, sort_quantiles
from automl.artifacts import load_model
from automl.channels import join_uri, read_any
from automl.errors import field_error
from automl.forecast_plan import ForecastPlan, load_plan
from automl.series import build_series, key_columns
from automl.store import Store, completed_candidate


class ForecastEnsemble:
    """Members' forecasts combined with the weights chosen on the backtests: (mean's weight, quantiles'
    weight) per member, each set summing to 1. Members are named by their model paths relative to the job
    output folder, so the folder can move."""

    def __init__(self, members: dict[str, tuple[float, float]], quantile_columns: list[str]):
        self.members = members
        self.quantile_columns = quantile_columns
        self.base: str | None = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "loaded_"}

    def members_in(self, job_output: str) -> None:
        self.base = job_output
        self.__dict__.pop("loaded_", None)

    def member(self, path: str):
        """A member's model, loaded on first use and kept (an endpoint forecasts many times with one load)."""
        loaded = self.__dict__.setdefault("loaded_", {})
        if path not in loaded:
            loaded[path] = load_model(join_uri(self.base, path))
        return loaded[path]

    def forecast(self, history: pd.DataFrame, future: pd.DataFrame | None) -> pd.DataFrame:
        parts = [(*weights, refit_forecast(self.member(path), history, future))
                 for path, weights in self.members.items()]
        return combine(parts, self.quantile_columns)


def combine(parts: list[tuple[float, float, pd.DataFrame]], quantile_columns: list[str]) -> pd.DataFrame:
    """The weighted sums of forecasts of the same rows (aligned on unique_id, ds): `mean` with each part's
    first weight, the quantiles with its second."""
    base = parts[0][2][["unique_id", "ds"]].reset_index(drop=True)
    mean = np.zeros(len(base))
    bands = np.zeros((len(base), len(quantile_columns)))
    for point_weight, band_weight, frame in parts:
        aligned = base.merge(frame, on=["unique_id", "ds"], how="left")
        if point_weight:
            mean += point_weight * aligned["mean"].to_numpy(float)
        if band_weight:
            bands += band_weight * aligned[quantile_columns].to_numpy(float)
    out = base.assign(mean=mean, **{c: bands[:, i] for i, c in enumerate(quantile_columns)})
    return sort_quantiles(out, quantile_columns)


def refit_forecast(model, history: pd.DataFrame, future: pd.DataFrame | None) -> pd.DataFrame:
    if isinstance(model, ForecastEnsemble):
        return model.forecast(history, future)
    if not isinstance(model, Forecaster):
        raise field_error("candidate", "is not a forecasting model", type(model).__name__)
    fresh = type(model)(copy.deepcopy(model.task), **model.params)
    return fresh.fit(history).predict(future)


class ForecastPredictor:
    """A forecasting candidate loaded once, forecasting any history given to it (predict and endpoints)."""

    def __init__(self, plan: ForecastPlan, model_uri: str):
        self.plan = plan
        self.model = load_model(model_uri)
        self.task = model_task(self.model)

    def predict(self, data) -> pd.DataFrame:
        """The horizon after each series of `data` (history rows, then any future rows of the covariates): item
        (and grouping) columns, the timestamp, mean and quantiles."""
        series = build_series(read_any(data), self.plan, for_training=False, covariates=self.task.covariates)
        forecast = refit_forecast(self.model, series.history, series.future)
        keys = key_columns(self.plan)
        out = series.keys.merge(forecast, on="unique_id", how="right")
        out = out[[*keys, "ds", "mean", *self.task.quantile_columns]].rename(columns={"ds": self.plan.timestamp})
        return out.reset_index(drop=True)


def forecast_predictor(store: Store, name: str, candidate: str | None = None, model_uri: str | None = None):
    """The job's best candidate, `candidate`, or the model file `model_uri` of that job, ready to forecast."""
    plan = load_plan(store.job(name).plan)
    if not isinstance(plan, ForecastPlan):
        raise field_error("AutoMLJobName", "is not a time-series forecasting job", name)
    return ForecastPredictor(plan, model_uri or completed_candidate(store, name, candidate).model_uri)


def predict_forecast(store: Store, name: str, data, candidate: str | None = None) -> pd.DataFrame:
    return forecast_predictor(store, name, candidate).predict(data)


def model_task(model):
    if isinstance(model, ForecastEnsemble):
        return model.member(next(iter(model.members))).task
    return model.task
