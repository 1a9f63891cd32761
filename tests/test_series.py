"""Building series from a forecasting job's rows: the grid, aggregation, filling, holidays, covariates and the
refusals, each naming its field; the time-series metrics and the backtest windows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algorithms.forecaster import SeriesTask
from automl.channels import ChannelSource
from automl.errors import ValidationException
from automl.forecast_metrics import quantile_loss, score, seasonal_scale
from automl.forecast_plan import ForecastPlan
from automl.series import build_series
from runners.backtest import min_train, window, window_count


def plan(**changes) -> ForecastPlan:
    base = dict(name="j", training=ChannelSource("x.csv", "S3Prefix", "None", None, "AutoMLJobInputDataConfig[0]"),
                target="y", timestamp="ts", item_id="item", grouping=(), frequency="1D", horizon=3,
                quantiles=("p10", "p50", "p90"), filling={}, aggregation={}, holiday_country=None,
                algorithms=("seasonal-naive",), restricted=False, objective="AverageWeightedQuantileLoss",
                max_candidates=None, max_runtime_per_candidate_s=60, max_job_runtime_s=60, output_path="out",
                training_bytes=1)
    return ForecastPlan(**(base | changes))


def daily(n: int = 40, items=("a", "b"), start="2024-01-01") -> pd.DataFrame:
    rows = []
    for k, item in enumerate(items):
        for i, ts in enumerate(pd.date_range(start, periods=n, freq="D")):
            rows.append({"item": item, "ts": ts.strftime("%Y-%m-%d"), "y": 10 * (k + 1) + i % 7})
    return pd.DataFrame(rows)


def test_daily_rows_become_one_regular_series_per_item():
    data = build_series(daily(), plan())
    assert data.freq == "1D" and data.season_length == 7
    assert data.lengths.to_dict() == {"a": 40, "b": 40}
    assert data.history["y"].iloc[:3].tolist() == [10.0, 11.0, 12.0]
    assert data.future is None and data.covariates == ()


def test_grouping_attributes_split_an_item_into_series_and_keep_their_columns():
    frame = pd.concat([daily(items=("a",)).assign(store="s1"), daily(items=("a",)).assign(store="s2", y=5)])
    data = build_series(frame, plan(grouping=("store",)))
    assert sorted(data.keys["unique_id"]) == ["a|s1", "a|s2"]
    assert set(data.keys.columns) == {"unique_id", "item", "store"}


def test_rows_finer_than_the_frequency_are_summed_by_default_and_by_the_named_method():
    stamps = pd.date_range("2024-01-01 07:00", periods=20 * 24, freq="h")
    frame = pd.DataFrame({"item": "a", "ts": stamps, "y": 1.0})
    summed = build_series(frame, plan())
    assert summed.history["y"].tolist() == [17.0] + [24.0] * 19 + [7.0]
    maxed = build_series(frame.assign(y=np.arange(len(frame), dtype=float)), plan(aggregation={"y": "max"}))
    assert maxed.history["y"].iloc[0] == 16.0


def test_a_missing_day_inside_a_series_is_filled_with_zero_and_a_chosen_value():
    frame = daily().drop(index=[5, 6]).reset_index(drop=True)
    data = build_series(frame, plan())
    a = data.history[data.history["unique_id"] == "a"]
    assert len(a) == 40 and a["y"].iloc[5:7].tolist() == [0.0, 0.0]
    valued = build_series(frame, plan(filling={"y": {"middlefill": "value", "middlefill_value": "3.5"}}))
    assert valued.history["y"].iloc[5:7].tolist() == [3.5, 3.5]


def test_middlefill_none_with_a_gap_is_refused_naming_the_filling():
    frame = daily().drop(index=[5])
    with pytest.raises(ValidationException, match=r"Transformations\.Filling: 'y' has missing values"):
        build_series(frame, plan(filling={"y": {"middlefill": "none"}}))


def test_missing_target_values_inside_a_series_are_filled_as_a_gap():
    frame = daily()
    frame.loc[3, "y"] = None
    assert build_series(frame, plan()).history["y"].iloc[3] == 0.0


def test_duplicate_item_timestamp_rows_are_refused_unless_aggregated():
    frame = pd.concat([daily(), daily().iloc[:1]])
    with pytest.raises(ValidationException, match=r"TimestampAttributeName: item 'a' has two rows at 2024-01-01"):
        build_series(frame, plan())
    data = build_series(frame, plan(aggregation={"y": "avg"}))
    assert data.history["y"].iloc[0] == 10.0


def test_timestamps_off_the_frequency_grid_are_refused():
    frame = daily()
    frame["ts"] = pd.to_datetime(frame["ts"]) + pd.Timedelta(hours=13)
    with pytest.raises(ValidationException, match=r"ForecastFrequency: timestamps must fall on the 1D grid \(1D\); "
                                                   r"2024-01-01 13:00:00 does not"):
        build_series(frame, plan())


def test_non_numeric_target_and_bad_timestamps_are_refused():
    frame = daily().astype({"y": object})
    frame.loc[2, "y"] = "many"
    with pytest.raises(ValidationException, match=r"TargetAttributeName: column 'y' must be numeric; got 'many'"):
        build_series(frame, plan())
    frame = daily()
    frame.loc[2, "ts"] = "yesterday"
    with pytest.raises(ValidationException, match=r"TimestampAttributeName: column 'ts' must hold a timestamp"):
        build_series(frame, plan())


def test_a_horizon_over_a_quarter_of_the_longest_series_is_refused():
    with pytest.raises(ValidationException, match=r"ForecastHorizon: must be at most min\(500, a quarter of the "
                                                   r"longest series' length 40\) = 10 steps"):
        build_series(daily(), plan(horizon=11))


def test_series_shorter_than_the_horizon_are_dropped_and_counted():
    frame = pd.concat([daily(items=("a",)), daily(n=2, items=("short",))])
    data = build_series(frame, plan())
    assert data.dropped == 1 and list(data.keys["unique_id"]) == ["a"]


def test_weekly_data_keeps_its_weekday_and_quarterly_data_its_quarter_starts():
    mondays = pd.DataFrame({"item": "a", "ts": pd.date_range("2024-01-01", periods=30, freq="W-MON"), "y": 1.0})
    assert build_series(mondays, plan(frequency="1W")).freq == "1W-MON"
    quarters = pd.DataFrame({"item": "a", "ts": pd.date_range("2000-01-01", periods=30, freq="QS"), "y": 1.0})
    data = build_series(quarters, plan(frequency="3M"))
    assert data.freq == "3MS" and data.season_length == 4 and len(data.history) == 30


def test_holidays_are_a_covariate_known_in_the_future():
    frame = daily(n=60, items=("a",), start="2024-11-01")
    data = build_series(frame, plan(holiday_country="US"))
    expected = {"holiday_US_thanksgiving_day", "holiday_US_christmas_day", "holiday_US_new_year_s_day"}
    assert expected <= set(data.covariates)
    flags = data.history.set_index("ds")["holiday_US_thanksgiving_day"]
    assert flags[pd.Timestamp("2024-11-28")] == 1.0 and flags.sum() == 1.0
    assert data.history["holiday_US_christmas_day"].sum() == 1.0
    assert data.future["ds"].min() == pd.Timestamp("2024-12-31")
    assert data.future.set_index("ds").loc[pd.Timestamp("2025-01-01"), "holiday_US_new_year_s_day"] == 1.0
    weekly = build_series(frame.assign(ts=pd.date_range("2024-01-07", periods=60, freq="W-SUN")),
                          plan(frequency="1W", holiday_country="US"))
    assert weekly.history.set_index("ds").loc[pd.Timestamp("2024-11-24"), "holiday_US_thanksgiving_day"] == 1.0


def test_covariates_take_their_future_from_rows_after_the_last_target():
    frame = daily(items=("a",)).assign(price=np.arange(40.0))
    future = pd.DataFrame({"item": "a", "ts": ["2024-02-10", "2024-02-11", "2024-02-12"], "price": [7.0, 8, 9]})
    data = build_series(pd.concat([frame, future]), plan())
    assert data.covariates == ("price",) and len(data.history) == 40
    assert data.future["price"].tolist() == [7.0, 8.0, 9.0]


def test_a_covariate_without_future_rows_is_filled_with_its_median_unless_futurefill_is_none():
    frame = daily(items=("a",)).assign(price=np.arange(40.0))
    assert build_series(frame, plan()).future["price"].tolist() == [19.5] * 3
    with pytest.raises(ValidationException, match=r"covariate 'price' has no values for the forecast horizon"):
        build_series(frame, plan(filling={"price": {"futurefill": "none"}}))


def test_weighted_quantile_loss_and_point_metrics_match_their_definitions():
    y = np.array([10.0, 20.0])
    assert quantile_loss(y, np.array([8.0, 25.0]), 0.9) == pytest.approx(2 * (0.9 * 2 + 0.1 * 5) / 30)
    rows = pd.DataFrame({"unique_id": ["a", "a"], "window": [1, 1], "y": y, "mean": [12.0, 18.0], "p50": [12.0, 18.0],
                         "scale": [4.0, 4.0]})
    scores = score(rows, ["p50"])
    assert scores["RMSE"] == pytest.approx(2.0) and scores["WAPE"] == pytest.approx(4 / 30)
    assert scores["MAPE"] == pytest.approx((0.2 + 0.1) / 2) and scores["MASE"] == pytest.approx(0.5)
    history = pd.DataFrame({"unique_id": "a", "y": [1.0, 2, 3, 5, 6, 9]})
    assert seasonal_scale(history, 2)["a"] == pytest.approx(np.mean([2, 3, 3, 4]))


def test_backtest_windows_end_each_series_and_skip_series_too_short_for_them():
    frame = pd.concat([daily(n=60, items=("long",)), daily(n=20, items=("short",))])
    data = build_series(frame, plan(horizon=5))
    task = SeriesTask(freq=data.freq, season_length=7, horizon=5)
    assert min_train(task) == 14
    before, inside = window(data, task, 1)
    assert set(inside["unique_id"]) == {"long", "short"} and len(inside) == 10
    assert before.groupby("unique_id").size().to_dict() == {"long": 55, "short": 15}
    before, inside = window(data, task, 2)
    assert set(inside["unique_id"]) == {"long"}
    assert window_count(data, task) == 1  # 80% of the series must be long enough for every window
