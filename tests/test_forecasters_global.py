"""The global forecasters (recursive-lightgbm, deepar, cnn-qr) on small synthetic hourly series: the output
contract, accuracy against a naive mean, seeding, pickling, short series and covariates."""
from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from algorithms.forecaster import SeriesTask, future_index
from algorithms.forecasters import forecaster

H = 12
FAST = {"recursive-lightgbm": {"max_rounds": 200},
        "deepar": {"max_train_s": 4.0, "hidden": 16, "layers": 1, "samples": 50},
        "cnn-qr": {"max_train_s": 4.0, "channels": 16, "hidden": 64}}


def seasonal_frame(n_series: int = 8, length: int = 240, seed: int = 0) -> pd.DataFrame:
    """Noisy daily sines at different levels and scales."""
    rng = np.random.default_rng(seed)
    t = np.arange(length + H)
    frames = []
    for i in range(n_series):
        level, amplitude = 10.0 ** (i % 4), 0.3 + 0.1 * i
        y = level * (1 + amplitude * np.sin(2 * np.pi * (t + i) / 24) + 0.05 * rng.standard_normal(len(t)))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=len(t),
                                                                                freq="h"), "y": y}))
    return pd.concat(frames, ignore_index=True)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = frame.groupby("unique_id")["ds"].transform("max")
    cut = frame["ds"] > last - pd.Timedelta(hours=H)
    return frame[~cut].reset_index(drop=True), frame[cut].reset_index(drop=True)


def relative_mae(prediction: pd.DataFrame, truth: pd.DataFrame, history: pd.DataFrame) -> float:
    """Mean over series of the forecast's MAE over that of the history's mean."""
    merged = prediction.merge(truth, on=["unique_id", "ds"])
    naive = merged["unique_id"].map(history.groupby("unique_id")["y"].mean())
    errors = merged.assign(model=(merged["y"] - merged["mean"]).abs(), naive=(merged["y"] - naive).abs())
    means = errors.groupby("unique_id")[["model", "naive"]].mean()
    return float((means["model"] / means["naive"]).mean())


@pytest.fixture(scope="module")
def seasonal():
    return split(seasonal_frame())


@pytest.fixture(scope="module", params=list(FAST))
def fitted(request, seasonal):
    task = SeriesTask(freq="h", season_length=24, horizon=H, seed=3)
    history, _ = seasonal
    return forecaster(request.param)(task, **FAST[request.param]).fit(history, threads=1)


def test_output_contract_and_accuracy(fitted, seasonal):
    history, truth = seasonal
    prediction = fitted.predict(None)
    expected = future_index(history, "h", H)
    assert list(prediction.columns) == ["unique_id", "ds", "mean", "p10", "p50", "p90"]
    pd.testing.assert_frame_equal(prediction[["unique_id", "ds"]], expected)
    values = prediction[["mean", "p10", "p50", "p90"]].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values[:, 1:], axis=1) >= 0).all()
    assert ((prediction["p90"] - prediction["p10"]) > 0).mean() > 0.9
    assert relative_mae(prediction, truth, history) < 0.6, type(fitted).name


@pytest.mark.parametrize("name", list(FAST))
def test_same_seed_same_forecast_and_joblib_round_trip(name, seasonal, tmp_path):
    history, _ = seasonal
    task = SeriesTask(freq="h", season_length=24, horizon=H, seed=5)
    params = FAST[name] | ({} if name == "recursive-lightgbm" else {"max_epochs": 2, "max_train_s": 1e9})
    first, second = (forecaster(name)(task, **params).fit(history, threads=1) for _ in range(2))
    pd.testing.assert_frame_equal(first.predict(None), second.predict(None))
    joblib.dump(first, tmp_path / "model.joblib")
    pd.testing.assert_frame_equal(joblib.load(tmp_path / "model.joblib").predict(None), first.predict(None))


@pytest.mark.parametrize("name", list(FAST))
def test_short_and_constant_series(name):
    frame = seasonal_frame(n_series=4, length=120)
    frame = frame[~((frame["unique_id"] == "s0") & (frame.index < 102))]  # s0: 30 points, under a context
    frame.loc[frame["unique_id"] == "s1", "y"] = 0.0
    frame.loc[frame["unique_id"] == "s2", "y"] = 5.0
    history, _ = split(frame.reset_index(drop=True))
    task = SeriesTask(freq="h", season_length=24, horizon=H, seed=0)
    prediction = forecaster(name)(task, **FAST[name]).fit(history, threads=1).predict(None)
    assert len(prediction) == 4 * H and np.isfinite(prediction[["mean", "p10", "p50", "p90"]].to_numpy()).all()
    constant = prediction[prediction["unique_id"].isin(["s1", "s2"])].groupby("unique_id")["mean"].mean()
    assert constant["s1"] == pytest.approx(0.0, abs=0.5) and constant["s2"] == pytest.approx(5.0, abs=1.0)


def test_the_covariate_helps_recursive_lightgbm():
    rng = np.random.default_rng(1)
    frame = seasonal_frame(n_series=6, length=240)
    frame["promo"] = (rng.random(len(frame)) < 0.2).astype(float)
    frame["y"] += 3.0 * frame["promo"] * frame.groupby("unique_id")["y"].transform("std")
    history, truth = split(frame)
    errors = {}
    for covariates in ((), ("promo",)):
        task = SeriesTask(freq="h", season_length=24, horizon=H, covariates=covariates)
        model = forecaster("recursive-lightgbm")(task, max_rounds=200).fit(history, threads=1)
        errors[covariates] = relative_mae(model.predict(truth[["unique_id", "ds", "promo"]]), truth, history)
    assert errors[("promo",)] < 0.7 * errors[()]
