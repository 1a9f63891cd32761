"""Time-series forecasting jobs end to end through CreateAutoMLJobV2: backtested candidates, the weighted
ensemble, the outputs Describe points at, predict after a new history, the time limit and Stop."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl import endpoints
from automl.contract import validate_response
from automl.errors import ValidationException
from automl.serving import load_served
from tests.conftest import ROLE, SHARED

HORIZON = 7


@pytest.fixture(scope="module")
def sales_csv(tmp_path_factory) -> Path:
    """Six daily series over 140 days: weekly seasonality, trends and noise of different scales."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(6):
        day = np.arange(140)
        level = 50 * (k + 1) + 0.2 * (k - 2) * day
        y = level * (1 + 0.3 * np.sin(2 * np.pi * day / 7)) + rng.normal(0, 2 + k, len(day))
        for d, ts in enumerate(pd.date_range("2024-01-01", periods=140, freq="D")):
            rows.append({"store": f"s{k}", "date": ts.strftime("%Y-%m-%d"), "sales": round(float(y[d]), 3)})
    path = tmp_path_factory.mktemp("sales") / "sales.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def forecast_request(data, name, output, **config) -> dict:
    body = {"ForecastFrequency": "1D", "ForecastHorizon": HORIZON,
            "TimeSeriesConfig": {"TargetAttributeName": "sales", "TimestampAttributeName": "date",
                                 "ItemIdentifierAttributeName": "store"}} | config
    return {"AutoMLJobName": name, "RoleArn": ROLE,
            "AutoMLJobInputDataConfig": [{"ChannelType": "training", "ContentType": "text/csv;header=present",
                                          "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                          "S3Uri": str(data)}}}],
            "OutputDataConfig": {"S3OutputPath": str(output)},
            "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": body}}


def algorithms(*names) -> dict:
    return {"CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(names)}]}}


def test_forecasting_job_backtests_ensembles_and_forecasts_every_series(sm, sales_csv, tmp_path):
    out = tmp_path / "out"
    sm.create_auto_ml_job_v2(**forecast_request(sales_csv, "sales", out, **algorithms("ets", "npts"),
                                                CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 120}))
    answer = sm.wait("sales", timeout=180)
    assert answer["AutoMLJobStatus"] == "Completed", answer.get("FailureReason")
    validate_response("DescribeAutoMLJobV2", answer)
    candidates = sm.list_candidates_for_auto_ml_job(AutoMLJobName="sales")["Candidates"]
    algorithms_run = {c["CandidateName"].removeprefix("sales-") for c in candidates}
    # only the named ones, and their ensemble when the backtests find that mixing them helps
    assert {"ets", "npts"} <= algorithms_run <= {"ets", "npts", "weighted-ensemble"}
    assert all(c["CandidateStatus"] == "Completed" for c in candidates)
    best = answer["BestCandidate"]
    values = {c["CandidateName"]: c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in candidates}
    assert best["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "AverageWeightedQuantileLoss"
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == min(values.values())
    # the reports that apply to forecasting: the series' exploration, the best model's backtests and coverage
    assert Path(answer["AutoMLJobArtifacts"]["DataExplorationNotebookLocation"].removeprefix("file://")).is_file()
    insights = Path(best["CandidateProperties"]["CandidateArtifactLocations"]["ModelInsights"].removeprefix("file://"))
    coverage = json.loads((insights / "metrics.json").read_text())["coverage"]
    assert (insights / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and coverage

    job = out / "sales"
    board = pd.read_csv(job / "leaderboard.csv")
    assert board["candidate_name"].iloc[0] == best["CandidateName"]
    assert {"RMSE", "MAPE", "MASE", "WAPE", "backtest_results"} <= set(board.columns)
    forecasts = pd.read_csv(job / "forecasts.csv")
    assert {"store", "date", "mean", "p10", "p50", "p90"} <= set(forecasts.columns)
    assert len(forecasts) == 6 * HORIZON and forecasts["date"].min() == "2024-05-20"
    assert (forecasts["p10"] <= forecasts["p50"]).all() and (forecasts["p50"] <= forecasts["p90"]).all()

    ets = next(c for c in candidates if c["CandidateName"] == "sales-ets")
    backtest = ets["CandidateProperties"]["CandidateArtifactLocations"]["BacktestResults"]
    folder = Path(backtest.removeprefix("file://"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["Windows"] == 5 and set(metrics["PerWindow"]) == {"1", "2", "3", "4", "5"}
    rows = pd.read_csv(folder / "forecasts.csv")
    assert set(rows["window"]) == {1, 2, 3, 4, 5} and len(rows) == 5 * 6 * HORIZON
    assert metrics["Metrics"]["MASE"] < 1.0  # better than the in-sample seasonal naive on these series

    history = pd.read_csv(sales_csv)
    again = sm.predict("sales", history, candidate="sales-ets")
    own = pd.read_csv(job / "candidates" / "sales-ets" / "forecasts.csv")
    assert list(again.columns) == ["store", "date", "mean", "p10", "p50", "p90"]
    np.testing.assert_allclose(again["mean"].to_numpy(), own["mean"].to_numpy(), rtol=1e-6)
    newer = history[history["date"] < "2024-05-01"]
    shifted = sm.predict("sales", newer, candidate="sales-ets")
    assert pd.Timestamp(shifted["date"].min()) == pd.Timestamp("2024-05-01")


def test_a_job_with_little_time_still_ends_with_a_seasonal_naive_model(sm, sales_csv, tmp_path):
    started, limit_s = time.time(), 40  # on a busy machine the worker's start and the data report take 10 s of it
    sm.create_auto_ml_job_v2(**forecast_request(sales_csv, "quick", tmp_path / "out",
                                                CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": limit_s}))
    answer = sm.wait("quick", timeout=120)
    assert time.time() - started < limit_s * 1.05 + 8  # the job's limit, its overshoot, and the worker's start
    assert answer["AutoMLJobStatus"] == "Completed", answer.get("FailureReason")
    names = [c["CandidateName"] for c in sm.list_candidates_for_auto_ml_job(AutoMLJobName="quick")["Candidates"]]
    assert names[0] == "quick-seasonal-naive"


def test_custom_quantiles_name_the_forecast_columns(sm, sales_csv, tmp_path):
    body = forecast_request(sales_csv, "quant", tmp_path / "out", **algorithms("npts"),
                            ForecastQuantiles=["p75", "p25"])
    sm.create_auto_ml_job_v2(**body, ModelDeployConfig={"EndpointName": "quant-forecasts"})
    answer = sm.wait("quant", timeout=120)
    assert answer["AutoMLJobStatus"] == "Completed", answer.get("FailureReason")
    forecasts = pd.read_csv(tmp_path / "out" / "quant" / "forecasts.csv")
    assert {"p25", "p75", "mean"} <= set(forecasts.columns) and "p10" not in forecasts.columns
    assert (forecasts["p25"] <= forecasts["p75"]).all()

    # The job's endpoint serves forecasts of the history it is sent, as `automl predict` does.
    assert answer["ModelDeployResult"] == {"EndpointName": "quant-forecasts"}
    served = load_served(sm.store, endpoints.get(sm.store, "quant-forecasts"))
    body, content_type = served.invoke(sales_csv.read_bytes(), "text/csv", "text/csv")
    answered = pd.read_csv(io.BytesIO(body))
    assert content_type == "text/csv" and len(answered) == 6 * HORIZON
    np.testing.assert_allclose(answered["mean"], sm.predict("quant", sales_csv)["mean"], rtol=1e-9)
    with pytest.raises(ValidationException, match="ContentType: a forecasting endpoint takes text/csv"):
        served.invoke(b"{}", "application/json", None)


def test_stop_keeps_the_finished_forecasters(sm, sales_csv, tmp_path):
    sm.create_auto_ml_job_v2(**forecast_request(sales_csv, "halt", tmp_path / "out", **algorithms("npts", "deepar"),
                                                CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 300}))
    deadline = time.time() + 120
    while time.time() < deadline:
        listed = sm.list_candidates_for_auto_ml_job(AutoMLJobName="halt")["Candidates"]
        if any(c["CandidateName"] == "halt-deepar" for c in listed):
            break
        time.sleep(0.5)
    sm.stop_auto_ml_job(AutoMLJobName="halt")
    answer = sm.wait("halt", timeout=60)
    assert answer["AutoMLJobStatus"] == "Stopped"
    assert answer["BestCandidate"]["CandidateName"] == "halt-npts"


@pytest.mark.skipif(not (SHARED / "us_change").exists(), reason="the shared datasets are not at ../shared")
def test_us_change_covariates_with_their_future_values(sm, tmp_path):
    train = SHARED / "us_change" / "train.csv"
    test = pd.read_csv(SHARED / "us_change" / "test.csv")
    body = forecast_request(train, "usc", tmp_path / "out")
    config = body["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    config |= {"ForecastFrequency": "3M", "ForecastHorizon": 8,
               "TimeSeriesConfig": {"TargetAttributeName": "consumption", "TimestampAttributeName": "timestamp",
                                    "ItemIdentifierAttributeName": "item_id"},
               "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["prophet"]}]}}
    sm.create_auto_ml_job_v2(**body)
    answer = sm.wait("usc", timeout=180)
    assert answer["AutoMLJobStatus"] == "Completed", answer.get("FailureReason")
    future = pd.concat([pd.read_csv(train), test.drop(columns=["consumption"])], ignore_index=True)
    forecast = sm.predict("usc", future)
    assert len(forecast) == 8 and pd.Timestamp(forecast["timestamp"].iloc[0]) == pd.Timestamp("2017-07-01")
    error = np.abs(forecast["mean"].to_numpy() - test["consumption"].to_numpy()).mean()
    blind = sm.predict("usc", pd.read_csv(train))  # covariates filled with their median instead
    assert error < np.abs(blind["mean"].to_numpy() - test["consumption"].to_numpy()).mean()
