"""The data exploration report: profile numbers against pandas, the findings on planted problems, escaping in
the HTML, real PNGs, a notebook that validates and runs top to bottom, and the time-series profile."""
from __future__ import annotations

import base64
import json
import re
import struct
import warnings

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

from automl.artifacts import JobOutput
from automl.channels import ChannelSource
from automl.forecast_plan import ForecastPlan
from automl.problem import ProblemType
from automl.reports.exploration import profile, profile_series, write_exploration

SCRIPT = "<script>alert(1)</script>"
HTML_VALUE = "<b>bold</b>"
WORDS = ["good", "bad", "fast", "slow", "product", "service", "would", "buy", "again", "never"]


def tabular(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(["yes", "no"], size=rows, p=[0.3, 0.7])
    age = rng.normal(40, 10, rows).round(1)
    age[rng.random(rows) < 0.1] = np.nan
    color = rng.choice(["red", "green", HTML_VALUE, None, "?"], size=rows, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    frame = pd.DataFrame({
        "row_id": np.arange(rows),
        "age": age,
        "color": color,
        SCRIPT: rng.choice(["a", "b", "c"], size=rows),
        "leak": np.where(label == "yes", "Y", "N"),
        "mostly_empty": np.where(rng.random(rows) < 0.8, None, "x"),
        "constant": 1,
        "amount": [str(v) for v in rng.integers(0, 1000, rows)],
        "joined": pd.date_range("2020-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
        "review": [" ".join(rng.choice(WORDS, size=5 + i % 4)) for i in range(rows)],
        "label": label,
    })
    return pd.concat([frame, frame.iloc[:5].assign(row_id=frame["row_id"].iloc[:5])], ignore_index=True)


def rows_span(dates: pd.Series) -> float:
    stamps = pd.to_datetime(dates)
    return (stamps.max() - stamps.min()).days


def kinds_of(found: list[dict]) -> set[tuple[str, str | None]]:
    return {(f["kind"], f["column"]) for f in found}


def test_profile_numbers_agree_with_pandas():
    frame = tabular()
    prof = profile(frame, target="label", problem_type=None)
    json.dumps(prof, allow_nan=False)
    data = prof["dataset"]
    assert data["rows"] == len(frame) == data["profiled_rows"]
    assert data["duplicate_rows"] == int(frame.duplicated().sum()) == 5
    columns = {c["name"]: c for c in prof["columns"]}
    assert "label" not in columns and len(columns) == frame.shape[1] - 1
    for name, column in columns.items():
        assert column["missing_share"] == pytest.approx(frame[name].isna().mean())
        assert column["distinct"] == frame[name].nunique()
    assert columns["age"]["kind"] == "numeric" and columns["color"]["kind"] == "categorical"
    age = frame["age"].dropna()
    assert columns["age"]["numeric"]["median"] == pytest.approx(age.median())
    assert columns["age"]["numeric"]["p99"] == pytest.approx(age.quantile(0.99))
    assert columns["age"]["numeric"]["std"] == pytest.approx(age.std())
    q1, q3 = age.quantile(0.25), age.quantile(0.75)
    outside = ((age < q1 - 1.5 * (q3 - q1)) | (age > q3 + 1.5 * (q3 - q1))).sum()
    assert columns["age"]["numeric"]["outliers"]["count"] == outside
    counts = frame["label"].value_counts()
    target = prof["target"]
    assert target["problem_type"] == "BinaryClassification" and target["problem_type_source"] == "inferred"
    assert {c["label"]: c["count"] for c in target["classes"]} == counts.to_dict()
    assert target["imbalance_ratio"] == pytest.approx(counts.max() / counts.min())
    assert columns["joined"]["kind"] == "datetime" and columns["review"]["kind"] == "text"
    assert columns["joined"]["dates"]["span_days"] == rows_span(frame["joined"])
    words = frame["review"].str.split().str.len()
    assert columns["review"]["text"]["words"]["mean"] == pytest.approx(words.mean())
    assert columns["review"]["text"]["chars"]["max"] == frame["review"].str.len().max()
    red = columns["color"]["top_values"][0]
    assert red["value"] == "red" and red["count"] == (frame["color"] == "red").sum()
    assert red["share"] == pytest.approx((frame["color"] == "red").sum() / frame["color"].notna().sum())


def test_planted_problems_are_found_with_suggestions():
    prof = profile(tabular(), target="label", problem_type=ProblemType.BINARY)
    found = kinds_of(prof["findings"])
    assert {("leakage", "leak"), ("id_like", "row_id"), ("constant", "constant"), ("duplicate_rows", None),
            ("mostly_missing", "mostly_empty"), ("numeric_as_text", "amount"), ("missing_marker", "color")} <= found
    assert not any(kind == "leakage" and column != "leak" for kind, column in found)
    assert ("too_few_rows", None) not in found
    columns = {c["name"]: c for c in prof["columns"]}
    assert columns["leak"]["predictive_power"] == 1.0
    assert columns["age"]["predictive_power"] < 0.6
    assert all(f["message"] and f["suggestion"] for f in prof["findings"])


def test_a_small_frame_is_told_it_will_fail_and_a_skewed_target_gets_a_log_suggestion():
    small = profile(tabular(rows=400).drop_duplicates(), target="label", problem_type=None)
    assert ("too_few_rows", None) in kinds_of(small["findings"])
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "customerID": [f"c{i}" for i in range(2000)],
                          "price": rng.lognormal(3, 1, 2000)})
    prof = profile(frame, target="price", problem_type=None)
    assert prof["target"]["problem_type"] == "Regression"
    assert prof["target"]["numeric"]["skew"] == pytest.approx(frame["price"].skew())
    found = {f["kind"]: f for f in prof["findings"]}
    assert "log1p" in found["skewed_target"]["suggestion"] and found["id_like"]["column"] == "customerID"


def test_imbalance_and_sampling_count_missing_values_on_every_row():
    rng = np.random.default_rng(2)
    rows = 5000
    frame = pd.DataFrame({"x": np.where(rng.random(rows) < 0.25, np.nan, rng.normal(size=rows)),
                          "y": np.where(rng.random(rows) < 0.02, "rare", "common")})
    prof = profile(frame, target="y", problem_type=None, max_rows=1000)
    assert prof["dataset"]["profiled_rows"] == 1000 and prof["dataset"]["rows"] == rows
    assert prof["columns"][0]["missing"] == frame["x"].isna().sum()
    assert prof["target"]["classes"][1]["count"] == (frame["y"] == "rare").sum()
    imbalance = next(f for f in prof["findings"] if f["kind"] == "class_imbalance")
    assert "BalancedAccuracy" in imbalance["suggestion"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_escapes_names_and_values_and_embeds_real_pngs(tmp_path):
    output = JobOutput(str(tmp_path / "job"))
    prof = profile(tabular(), target="label", problem_type=None)
    write_exploration(output, prof, data_uri="data.csv", target="label", title="Job <x>")
    page = (tmp_path / "job/documentation/data_exploration/report.html").read_text()
    assert SCRIPT not in page and HTML_VALUE not in page and "<x>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    pngs = images(page)
    assert 4 <= len(pngs) <= 6
    for data in pngs:
        width, height = png_size(data)
        assert 300 <= width <= 2000 and 300 <= height <= 2000
    stored = json.loads((tmp_path / "job/documentation/data_exploration/profile.json").read_text())
    assert stored["dataset"] == prof["dataset"]


def run_notebook(path) -> dict:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    exec(compile(cell.source, "<cell>", "exec"), namespace)
    finally:
        plt.close("all")
    return namespace


def test_the_notebook_validates_and_recomputes_the_report_from_the_data(tmp_path):
    frame = tabular()
    csv = tmp_path / "train.csv"
    frame.to_csv(csv, index=False)
    data = pd.read_csv(csv)
    output = JobOutput(str(tmp_path / "job"))
    write_exploration(output, profile(data, target="label", problem_type=None), data_uri=f"file://{csv}",
                      target="label", title="t")
    ran = run_notebook(output.exploration_notebook)
    assert ran["df"].shape == frame.shape and ran["duplicates"] == 5
    assert ran["target_counts"].to_dict() == frame["label"].value_counts().to_dict()
    assert ran["missing"]["mostly_empty"] == pytest.approx(frame["mostly_empty"].isna().mean())
    assert ran["predictive_power"].index[0] == "leak" and ran["predictive_power"]["leak"] == 1.0
    assert set(ran["top_values"]) == {"color", SCRIPT, "leak", "mostly_empty"}
    assert ran["numeric_summary"].loc["age", "50%"] == pytest.approx(frame["age"].median())


def series_plan(**changes) -> ForecastPlan:
    base = dict(name="j", training=ChannelSource("x.csv", "S3Prefix", "None", None, "AutoMLJobInputDataConfig[0]"),
                target="demand", timestamp="ts", item_id="item", grouping=(), frequency="1D", horizon=5,
                quantiles=("p10", "p50", "p90"), filling={}, aggregation={}, holiday_country=None,
                algorithms=("seasonal-naive",), restricted=False, objective="AverageWeightedQuantileLoss",
                max_candidates=None, max_runtime_per_candidate_s=60, max_job_runtime_s=60, output_path="out",
                training_bytes=1)
    return ForecastPlan(**(base | changes))


def series_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    parts = []
    for item, n in (("a", 60), ("b", 40), ("short", 3)):
        stamps = pd.date_range("2024-01-01", periods=n, freq="D")
        parts.append(pd.DataFrame({"item": item, "ts": stamps.strftime("%Y-%m-%d"),
                                   "demand": rng.poisson(20, n).astype(float), "price": rng.normal(5, 1, n)}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[frame["item"] == "b", "demand"] = np.where(np.arange(40) % 4 == 0, 3.0, 0.0)
    frame = frame.drop(index=[10, 11])  # two missing days in series a
    frame.loc[frame.index[:6], "price"] = np.nan
    return frame


def test_series_profile_counts_series_gaps_zeros_and_short_series(tmp_path):
    frame = series_frame()
    prof = profile_series(frame, series_plan())
    json.dumps(prof, allow_nan=False)
    s = prof["series"]
    assert s["count"] == 3 and s["used"] == 2 and s["dropped_shorter_than_horizon"] == 1
    assert s["filled_steps"] == 2 and s["series_with_gaps"] == 1 and s["intermittent_series"] == 1
    assert s["median_step"] == str(pd.Timedelta(days=1)) and s["start"].startswith("2024-01-01")
    assert prof["covariates"] == [{"name": "price", "missing_share": pytest.approx(6 / len(frame))}]
    found = kinds_of(prof["findings"])
    assert {("short_series", None), ("missing_timestamps", None), ("intermittent", "demand"),
            ("covariate_missing", "price"), ("no_holidays", None)} <= found
    csv = tmp_path / "series.csv"
    frame.to_csv(csv, index=False)
    output = JobOutput(str(tmp_path / "job"))
    write_exploration(output, prof, data_uri=str(csv), target="demand", title="Series")
    page = (tmp_path / "job/documentation/data_exploration/report.html").read_text()
    assert all(min(png_size(p)) >= 300 for p in images(page)) and len(images(page)) == 2
    ran = run_notebook(output.exploration_notebook)
    assert ran["lengths"].to_dict() == {"a": 58, "b": 40, "short": 3}
    assert ran["per_series"].loc["b", "zero_share"] == pytest.approx(0.75)


def test_a_refused_series_job_is_a_finding_not_an_exception():
    prof = profile_series(series_frame(), series_plan(horizon=100))
    assert prof["findings"][0]["kind"] == "refused" and "ForecastHorizon" in prof["findings"][0]["message"]
