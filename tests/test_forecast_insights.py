"""Forecasting model insights on real backtest folders: a recursive-lightgbm and a seasonal-naive candidate
backtested by the job's own FitForecaster on small daily series with a promotion covariate and US holidays;
metrics and coverage recomputed from forecasts.csv, covariate impact read from the booster, PNG sanity."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from algorithms.recursive_lightgbm import RecursiveLightGBM
from algorithms.seasonal_naive import SeasonalNaive
from automl.artifacts import JobOutput, dump_model, load_model
from automl.channels import ChannelSource
from automl.forecast_metrics import score, weighted_quantile_losses
from automl.forecast_model import ForecastEnsemble
from automl.forecast_plan import ForecastPlan
from automl.reports.forecast_insights import choose_series, write_forecast_insights
from automl.series import build_series, is_holiday_column
from runners.backtest import FitForecaster
from runners.forecasting import column_names, series_task

HORIZON = 7


def plan(**changes) -> ForecastPlan:
    base = dict(name="shop", training=ChannelSource("x.csv", "S3Prefix", "None", None, "AutoMLJobInputDataConfig[0]"),
                target="sales", timestamp="date", item_id="store", grouping=(), frequency="1D", horizon=HORIZON,
                quantiles=("p10", "p50", "p90"), filling={}, aggregation={}, holiday_country="US",
                algorithms=("recursive-lightgbm", "seasonal-naive"), restricted=True,
                objective="AverageWeightedQuantileLoss", max_candidates=None, max_runtime_per_candidate_s=60,
                max_job_runtime_s=60, output_path="out", training_bytes=1)
    return ForecastPlan(**(base | changes))


def shop_sales() -> pd.DataFrame:
    """Six stores, 120 days of history and a week of known promotions after: weekly seasonality, a promotion
    lift of 60% and closed-ish Christmas and Thanksgiving days."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2023-10-01", periods=120 + HORIZON, freq="D")
    rows = []
    for k in range(6):
        promo = (rng.uniform(size=len(days)) < 0.25).astype(int)
        level = 40 * (k + 1) * (1 + 0.25 * np.sin(2 * np.pi * days.dayofweek.to_numpy() / 7))
        closed = days.strftime("%m-%d").isin(["11-23", "12-25"])
        y = level * (1 + 0.6 * promo) * np.where(closed, 0.3, 1.0) + rng.normal(0, 2 + k, len(days))
        y[120:] = np.nan
        rows.append(pd.DataFrame({"store": f"<i>s{k}</i>", "date": days, "sales": y, "promo": promo}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> tuple[Path, ForecastPlan, pd.DataFrame]:
    """A job output folder with both candidates' models, backtests and forecasts, as the runner writes them."""
    root = tmp_path_factory.mktemp("forecast")
    the_plan = plan()
    data = build_series(shop_sales(), the_plan)
    joblib.dump(data, root / "series.joblib")
    task = series_task(the_plan, data)
    output = JobOutput(str(root / "out"))
    for cls in (RecursiveLightGBM, SeasonalNaive):
        FitForecaster(cls=cls, params={}, task=task, data_path=str(root / "series.joblib"), windows=2, threads=1,
                      objective=the_plan.objective, model_uri=output.model(cls.name),
                      backtest_uri=output.backtest(cls.name), forecasts_uri=output.forecasts(cls.name),
                      keys_columns=("store",), names=column_names(the_plan)).run(deadline=1e12)
    return root / "out", the_plan, data.history


def backtest_rows(job_output: Path, candidate: str) -> pd.DataFrame:
    rows = pd.read_csv(job_output / "candidates" / candidate / "backtest" / "forecasts.csv", dtype={"unique_id": str})
    return rows.rename(columns={"date": "ds", "sales": "y"})


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_metrics_and_coverage_agree_with_the_backtest_forecasts(job, tmp_path):
    job_output, the_plan, history = job
    backtest = str(job_output / "candidates" / "recursive-lightgbm" / "backtest")
    returned = write_forecast_insights(str(tmp_path), backtest, the_plan, candidate="shop-recursive-lightgbm",
                                       history=history)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == returned
    rows = backtest_rows(job_output, "recursive-lightgbm")
    assert (metrics["windows"], metrics["series"], metrics["rows"]) == (2, 6, 6 * 2 * HORIZON)
    stored = json.loads((Path(backtest) / "metrics.json").read_text())
    assert metrics["metrics"] == pytest.approx(stored["Metrics"] | stored["QuantileLosses"])
    assert set(metrics["metrics"]) >= {"RMSE", "MAPE", "MASE", "WAPE", "AverageWeightedQuantileLoss", "wQL[0.9]"}
    for k, part in rows.groupby("window"):
        quantiles = ["p10", "p50", "p90"]
        assert metrics["per_window"][str(k)] == pytest.approx(score(part, quantiles) |
                                                              weighted_quantile_losses(part, quantiles))
        assert metrics["per_window"][str(k)]["RMSE"] == pytest.approx(np.sqrt(((part["y"] - part["mean"]) ** 2).mean()))
    for q in metrics["coverage"]["quantiles"]:
        below = rows["y"] <= rows[q["quantile"]]
        assert q["observed"] == pytest.approx(below.mean()) and q["level"] == int(q["quantile"][1:]) / 100
        assert q["per_window"]["1"] == pytest.approx(below[rows["window"] == 1].mean())
    [band] = metrics["coverage"]["intervals"]
    inside = (rows["y"] >= rows["p10"]) & (rows["y"] <= rows["p90"])
    assert (band["lower"], band["upper"], band["nominal"]) == ("p10", "p90", 0.8)
    assert band["observed"] == pytest.approx(inside.mean())

    plotted = metrics["plotted_series"]
    assert len(plotted) == 6 and [p["why"] for p in plotted][:4] == ["largest"] * 2 + ["worst scored"] * 2
    assert plotted[0]["series"] == "<i>s5</i>"  # the largest store, named as the data names it
    width, height = png_size(tmp_path / "backtest.png")
    assert width == 1000 and 500 <= height <= 700
    assert png_size(tmp_path / "coverage.png") == (1000, 450)
    report = (tmp_path / "report.html").read_text()
    assert "&lt;i&gt;s5&lt;/i&gt;" in report and "<i>s5</i>" not in report and report.count("data:image/png") == 2


def test_the_booster_gives_the_promotion_and_holidays_their_share_of_gain(job, tmp_path):
    job_output, the_plan, _ = job
    metrics = write_forecast_insights(str(tmp_path), str(job_output / "candidates" / "recursive-lightgbm" /
                                                         "backtest"), the_plan, candidate="shop-recursive-lightgbm")
    impact = metrics["covariate_impact"]
    assert impact["wanted"] and impact["measured"] and impact["covariates"] == ["promo"]
    assert impact["holidays"] and all(is_holiday_column(h) for h in impact["holidays"])
    model = load_model(str(job_output / "candidates" / "recursive-lightgbm" / "model.joblib"))
    gain = model.booster_.feature_importance(importance_type="gain")
    names = model.feature_names()
    assert len(names) == len(gain) == model.booster_.num_feature()
    share = dict(zip(names, gain / gain.sum(), strict=True))
    assert impact["covariate_share"] == pytest.approx(share["promo"])
    assert impact["holiday_share"] == pytest.approx(sum(v for n, v in share.items() if is_holiday_column(n)))
    assert impact["covariate_share"] > 0.05  # a 60% promotion lift is a feature the model must use
    assert impact["members"][0]["features"][0]["share"] == pytest.approx(max(share.values()))
    report = (tmp_path / "report.html").read_text()
    assert "gain importances of the recursive-lightgbm booster" in report and "promo" in report


def test_a_model_type_without_importances_says_its_impact_was_not_measured(job, tmp_path):
    job_output, the_plan, _ = job
    metrics = write_forecast_insights(str(tmp_path), str(job_output / "candidates" / "seasonal-naive" / "backtest"),
                                      the_plan, candidate="shop-seasonal-naive")
    impact = metrics["covariate_impact"]
    assert impact["wanted"] and not impact["measured"] and impact["covariate_share"] is None
    assert "seasonal-naive ignores covariates and holidays" in impact["reason"]
    report = (tmp_path / "report.html").read_text()
    assert "Their impact was not measured for this model: seasonal-naive ignores covariates" in report
    without = write_forecast_insights(str(tmp_path / "plain"), str(job_output / "candidates" / "seasonal-naive" /
                                                                   "backtest"), the_plan,
                                      candidate="shop-seasonal-naive", model_uri=str(tmp_path / "absent.joblib"))
    assert not without["covariate_impact"]["measured"]
    assert "model file was not found" in without["covariate_impact"]["reason"]


def test_an_ensemble_weighs_its_boosted_members_and_names_the_others(job, tmp_path):
    job_output, the_plan, _ = job
    output = JobOutput(str(job_output))
    ensemble = ForecastEnsemble({output.relative(output.model("recursive-lightgbm")): (0.75, 0.5),
                                 output.relative(output.model("seasonal-naive")): (0.25, 0.5)}, ["p10", "p50", "p90"])
    dump_model(output.model("weighted-ensemble"), ensemble)
    metrics = write_forecast_insights(str(tmp_path), output.backtest("recursive-lightgbm"), the_plan,
                                      candidate="shop-weighted-ensemble", model_uri=output.model("weighted-ensemble"))
    impact = metrics["covariate_impact"]
    alone = write_forecast_insights(str(tmp_path / "alone"), output.backtest("recursive-lightgbm"), the_plan,
                                    candidate="shop-recursive-lightgbm")["covariate_impact"]
    assert impact["measured"] and impact["measured_weight"] == 0.75
    assert impact["covariate_share"] == pytest.approx(alone["covariate_share"])  # one measured member: its share
    assert [m["model"] for m in impact["members"]] == ["recursive-lightgbm"]
    assert "not measured for seasonal-naive (seasonal-naive ignores covariates" in impact["reason"]


def test_series_choice_is_deterministic_and_covers_small_backtests(job):
    job_output, _, _ = job
    rows = backtest_rows(job_output, "seasonal-naive")
    assert choose_series(rows, 6) == choose_series(rows.sample(frac=1, random_state=3), 6)
    two = rows[rows["unique_id"].isin(["<i>s0</i>", "<i>s1</i>"])]
    assert [uid for uid, _ in choose_series(two, 6)] == ["<i>s1</i>", "<i>s0</i>"]
