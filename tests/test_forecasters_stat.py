"""The statistical forecasters on small synthetic series: the contract's frame, sound quantiles, real skill on
seasonal data, determinism, pickling, degenerate series, and Prophet's use of a covariate."""
from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from algorithms.forecaster import SeriesTask, future_index
from algorithms.forecasters import forecaster

STAT = ["seasonal-naive", "arima", "ets", "theta", "mstl", "npts"]
TASK = SeriesTask(freq="h", season_length=24, horizon=12)


def seasonal(n_series: int = 5, length: int = 24 * 8, seed: int = 0) -> pd.DataFrame:
    """Noisy daily sines of different levels and amplitudes, hourly."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=length, freq="h")
    frames = []
    for i in range(n_series):
        y = 10 + 3 * i + (2 + i) * np.sin(2 * np.pi * np.arange(length) / 24) + rng.normal(0, 0.3, length)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def split(frame: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    test = frame.groupby("unique_id").tail(horizon)
    return frame.drop(test.index).reset_index(drop=True), test.reset_index(drop=True)


@pytest.fixture(scope="module")
def data():
    return split(seasonal(), TASK.horizon)


@pytest.fixture(scope="module")
def fitted(data):
    history, _ = data
    return {name: forecaster(name)(TASK).fit(history, threads=1) for name in STAT}


@pytest.mark.parametrize("name", STAT)
def test_frame_quantiles_and_skill(name, data, fitted):
    history, test = data
    out = fitted[name].predict()
    assert list(out.columns) == ["unique_id", "ds", "mean", "p10", "p50", "p90"]
    pd.testing.assert_frame_equal(out[["unique_id", "ds"]], future_index(history, "h", TASK.horizon))
    assert not out.isna().any().any()
    q = out[TASK.quantile_columns].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert (out["p90"] - out["p10"]).mean() > 0.1
    level = np.repeat(history.groupby("unique_id", sort=False)["y"].mean().to_numpy(), TASK.horizon)
    naive_mae = np.abs(test["y"].to_numpy() - level).mean()
    mae = np.abs(test["y"].to_numpy() - out["mean"].to_numpy()).mean()
    assert mae < 0.5 * naive_mae, (mae, naive_mae)
    inside = (test["y"].to_numpy() >= out["p10"]) & (test["y"].to_numpy() <= out["p90"])
    assert inside.mean() > 0.6


@pytest.mark.parametrize("name", STAT)
def test_pickle_round_trip(name, fitted, tmp_path):
    joblib.dump(fitted[name], tmp_path / "model.joblib")
    pd.testing.assert_frame_equal(joblib.load(tmp_path / "model.joblib").predict(), fitted[name].predict())


def test_npts_is_seeded(data):
    history, _ = data
    first = forecaster("npts")(TASK).fit(history).predict()
    pd.testing.assert_frame_equal(first, forecaster("npts")(TASK).fit(history).predict())
    other = forecaster("npts")(SeriesTask(freq="h", season_length=24, horizon=12, seed=1)).fit(history).predict()
    assert not np.allclose(first["p90"], other["p90"])


def degenerate() -> pd.DataFrame:
    """A constant series, an all-zero one, and one as short as the task allows, with other quantiles."""
    ds = pd.date_range("2024-01-01", periods=48, freq="h")
    return pd.concat([pd.DataFrame({"unique_id": "const", "ds": ds, "y": 7.0}),
                      pd.DataFrame({"unique_id": "zero", "ds": ds, "y": 0.0}),
                      pd.DataFrame({"unique_id": "short", "ds": ds[:12], "y": np.arange(12.0)})], ignore_index=True)


@pytest.mark.parametrize("name", STAT)
def test_degenerate_series_forecast_finite(name):
    task = SeriesTask(freq="h", season_length=24, horizon=12, quantiles=(0.05, 0.5, 0.75))
    out = forecaster(name)(task).fit(degenerate()).predict()
    assert list(out.columns) == ["unique_id", "ds", "mean", "p5", "p50", "p75"]
    assert len(out) == 36 and np.isfinite(out[["mean", "p5", "p50", "p75"]].to_numpy()).all()
    const = out[out["unique_id"] == "const"]
    assert np.allclose(const["mean"], 7.0, atol=0.5)


def test_daily_non_seasonal_task():
    """season_length 1 (yearly-like data): no seasonal model, still a finite forecast."""
    task = SeriesTask(freq="D", season_length=1, horizon=5)
    rng = np.random.default_rng(0)
    ds = pd.date_range("2024-01-01", periods=40, freq="D")
    history = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(40.0) + rng.normal(0, 0.5, 40)})
    for name in STAT:
        out = forecaster(name)(task).fit(history).predict()
        assert np.isfinite(out[["mean", "p10", "p50", "p90"]].to_numpy()).all(), name


def test_a_passed_deadline_raises(data):
    with pytest.raises(TimeoutError):
        forecaster("arima")(TASK).fit(data[0], deadline=0.0)


def test_prophet_uses_a_covariate(tmp_path):
    """Two series driven by a known promotion flag: with the covariate Prophet forecasts them far better."""
    rng = np.random.default_rng(0)
    length, horizon = 24 * 10, 24
    ds = pd.date_range("2024-01-01", periods=length, freq="h")
    frames = []
    for i in range(2):
        promo = (rng.random(length) < 0.2).astype(float)
        y = 5 + i + np.sin(2 * np.pi * np.arange(length) / 24) + 6 * promo + rng.normal(0, 0.2, length)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y, "promo": promo}))
    history, test = split(pd.concat(frames, ignore_index=True), horizon)
    future = test[["unique_id", "ds", "promo"]]
    with_cov = SeriesTask(freq="h", season_length=24, horizon=horizon, covariates=("promo",))
    model = forecaster("prophet")(with_cov).fit(history, threads=1)
    joblib.dump(model, tmp_path / "prophet.joblib")
    out = joblib.load(tmp_path / "prophet.joblib").predict(future)
    plain = forecaster("prophet")(SeriesTask(freq="h", season_length=24, horizon=horizon)).fit(
        history[["unique_id", "ds", "y"]]).predict()
    pd.testing.assert_frame_equal(out[["unique_id", "ds"]], future_index(history, "h", horizon))
    assert (np.diff(out[with_cov.quantile_columns].to_numpy(), axis=1) >= 0).all()
    mae = np.abs(out["mean"] - test["y"]).mean()
    assert mae < 0.5 * np.abs(plain["mean"] - test["y"]).mean()
    assert mae < 1.0
