"""The forecasting benchmark: our CreateAutoMLJobV2 forecasting jobs against baselines measured in the same run,
on the shared time-series sets with their fixed splits, scored as M4 scores (sMAPE, MASE, OWA vs Naive2, wQL).

    python -m benchmarks.forecast --budget 600 --out benchmarks/results/f600
    python -m benchmarks.forecast --budget 60 --datasets australian_tourism --out /tmp/f60

Baselines: Naive2 and seasonal naive (numpy, seconds), and statsforecast's DynamicOptimizedTheta and AutoETS
where they cost under a few minutes here (`--baselines`); the issue's anchors for the costly ones (AutoARIMA,
AutoGluon-TimeSeries) are quoted in the report, not re-measured. Writes results.jsonl and report.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd

from benchmarks.forecast_scores import naive2, owa, score_forecasts, seasonal_naive

FREQUENCIES = {"H": "1H", "W-SUN": "1W", "QS": "3M", "D": "1D", "MS": "1M"}
SEASON = {"m4_hourly": 24, "m4_weekly": 1, "australian_tourism": 4}  # M4's m; others from the manifest
QUANTILES = (0.1, 0.5, 0.9)


def forecast_sets(suite: Path, names: list[str] | None) -> list[dict]:
    manifest = json.loads(suite.read_text())
    chosen = [d for d in manifest["datasets"] if d["problem_type"] == "TimeSeriesForecasting"]
    if names:
        chosen = [d for d in chosen if d["name"] in names]
    for d in chosen:
        d["train"], d["test"] = str(suite.parent / d["files"]["train"]), str(suite.parent / d["files"]["test"])
        d["forecast_config"] = d.get("forecast_config") or {
            "ForecastFrequency": FREQUENCIES[d["frequency"]], "ForecastHorizon": d["forecast_horizon"],
            "TimeSeriesConfig": {"TargetAttributeName": d["target"], "TimestampAttributeName": d["timestamp_column"],
                                 "ItemIdentifierAttributeName": d["item_id_column"]}}
        d["m"] = SEASON.get(d["name"], d.get("seasonal_period", 1))
    return chosen


def regular(train: pd.DataFrame, d: dict) -> pd.DataFrame:
    """(unique_id, ds, y) on the forecast frequency's grid: rows finer than it summed per day (bank_calls),
    days without rows counted as zero, as the job's default filling does."""
    frame = pd.DataFrame({"unique_id": train[d["item_id_column"]].astype(str),
                          "ds": pd.to_datetime(train[d["timestamp_column"]]), "y": train[d["target"]].astype(float)})
    if "Aggregation" not in d["forecast_config"].get("Transformations", {}):
        return frame
    frame["ds"] = frame["ds"].dt.normalize()
    daily = frame.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    parts = []
    for uid, g in daily.groupby("unique_id"):
        full = pd.date_range(g["ds"].min(), g["ds"].max(), freq="D")
        parts.append(g.set_index("ds").reindex(full, fill_value=0.0).rename_axis("ds").reset_index()
                     .assign(unique_id=uid))
    return pd.concat(parts, ignore_index=True)


def _future(history: pd.DataFrame, h: int) -> tuple[str, dict]:
    stamps = history.loc[history["unique_id"] == history["unique_id"].iloc[0], "ds"]
    freq = pd.infer_freq(stamps.iloc[-10:]) or "D"
    offset = pd.tseries.frequencies.to_offset(freq)
    last = history.groupby("unique_id")["ds"].max()
    return freq, {uid: pd.date_range(end + offset, periods=h, freq=offset) for uid, end in last.items()}


def _baseline(history: pd.DataFrame, h: int, fn) -> pd.DataFrame:
    _, future = _future(history, h)
    parts = [pd.DataFrame({"unique_id": uid, "ds": future[uid], "mean": fn(g["y"].to_numpy(float))})
             for uid, g in history.groupby("unique_id", sort=False)]
    return pd.concat(parts, ignore_index=True)


def _statsforecast(model, history: pd.DataFrame, h: int) -> pd.DataFrame:
    from statsforecast import StatsForecast

    freq, _ = _future(history, h)
    forecast = StatsForecast(models=[model], freq=freq, n_jobs=2).forecast(df=history, h=h, level=[80])
    column = str(model)
    return pd.DataFrame({"unique_id": forecast["unique_id"].astype(str), "ds": forecast["ds"],
                         "mean": forecast[column], "p10": forecast[f"{column}-lo-80"], "p50": forecast[column],
                         "p90": forecast[f"{column}-hi-80"]})


def _arrays(forecast: pd.DataFrame, test: pd.DataFrame):
    joined = test.merge(forecast, on=["unique_id", "ds"], how="left")
    if joined["mean"].isna().any():
        raise RuntimeError(f"{int(joined['mean'].isna().sum())} test rows have no forecast")
    groups = list(joined.groupby("unique_id", sort=True))
    actual = {k: g["y"].to_numpy(float) for k, g in groups}
    point = {k: g["mean"].to_numpy(float) for k, g in groups}
    quantiles = None
    if "p10" in joined.columns:
        quantiles = {k: {q: g[f"p{round(q * 100)}"].to_numpy(float) for q in QUANTILES} for k, g in groups}
    return actual, point, quantiles


def run_ours(d: dict, budget: int, home: Path) -> tuple[pd.DataFrame, float, dict]:
    """Our job on the training file; its forecasts after the history (predict with the test's covariates
    when the set has them)."""
    import automl

    client = automl.client(home)
    name = f"{d['name'].replace('_', '-')}-{int(time.time())}"[:32]
    config = dict(d["forecast_config"]) | {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget}}
    started = time.time()
    client.create_auto_ml_job_v2(
        AutoMLJobName=name, RoleArn="arn:aws:iam::000000000000:role/local",
        AutoMLJobInputDataConfig=[{"ChannelType": "training", "ContentType": "text/csv;header=present",
                                   "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": d["train"]}}}],
        OutputDataConfig={"S3OutputPath": str(home / "out")},
        AutoMLProblemTypeConfig={"TimeSeriesForecastingJobConfig": config})
    answer = client.wait(name, poll_s=2.0)
    seconds = time.time() - started
    if answer["AutoMLJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {answer['AutoMLJobStatus']}: {answer.get('FailureReason')}")
    if d.get("covariates"):
        future = pd.read_csv(d["test"]).drop(columns=[d["target"]])
        forecast = client.predict(name, pd.concat([pd.read_csv(d["train"]), future], ignore_index=True))
    else:
        forecast = pd.read_csv(home / "out" / name / "forecasts.csv")
    board = pd.read_csv(home / "out" / name / "leaderboard.csv")
    facts = {"job": name, "best": answer["BestCandidate"]["CandidateName"],
             "leaderboard": board[["candidate_name", "objective_value", "status"]].to_dict("records")}
    return forecast, seconds, facts


def run_set(d: dict, budget: int, home: Path, baselines: bool) -> list[dict]:
    train, test_raw = pd.read_csv(d["train"]), pd.read_csv(d["test"])
    h, m = d["forecast_config"]["ForecastHorizon"], d["m"]
    history = regular(train, d)
    test = regular(test_raw, d | {"forecast_config": {}})
    histories = {k: g["y"].to_numpy(float) for k, g in history.groupby("unique_id", sort=True)}
    rows = []

    def add(method: str, forecast: pd.DataFrame, seconds: float = 0.0, **facts) -> None:
        actual, point, quantiles = _arrays(forecast, test)
        scores = score_forecasts(histories, actual, point, m, quantiles)
        rows.append({"dataset": d["name"], "method": method, **scores, "seconds": round(seconds, 1), **facts})

    add("Naive2", _baseline(history, h, lambda y: naive2(y, h, m)))
    add("SeasonalNaive", _baseline(history, h, lambda y: seasonal_naive(y, h, m)))
    if baselines:
        from statsforecast.models import AutoETS, DynamicOptimizedTheta

        for model in (DynamicOptimizedTheta(season_length=m), AutoETS(season_length=m)):
            if str(model) == "AutoETS" and d["name"] == "m4_hourly":
                continue  # 212 s on one core for the anchor; quoted, not re-measured
            started = time.time()
            forecast = _statsforecast(model, history, h)
            add(f"statsforecast {model}", forecast, time.time() - started)
    forecast, seconds, facts = run_ours(d, budget, home)
    forecast = pd.DataFrame({"unique_id": forecast[d["item_id_column"]].astype(str),
                             "ds": pd.to_datetime(forecast[d["timestamp_column"]]),
                             **{c: forecast[c] for c in ("mean", "p10", "p50", "p90")}})
    add(f"automl ({budget} s)", forecast, seconds, **facts)
    naive2_scores = rows[0]
    for r in rows:
        r["OWA"] = owa(r, naive2_scores)
    return rows


def report(rows: list[dict]) -> str:
    lines = ["| dataset | method | OWA | sMAPE | MASE | wQL | seconds |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        wql = f"{r['wQL']:.4f}" if "wQL" in r and r["wQL"] == r["wQL"] else "–"
        lines.append(f"| {r['dataset']} | {r['method']} | {r['OWA']:.3f} | {r['sMAPE']:.3f} | {r['MASE']:.3f} | "
                     f"{wql} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets"
                        / "manifest.json")
    parser.add_argument("--datasets", default="")
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not args.suite.exists():
        raise SystemExit(f"the shared datasets are not at {args.suite}; pass --suite")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "machine.json").write_text(json.dumps({"python": platform.python_version(),
                                                       "cpus": __import__("os").cpu_count()}))
    rows = []
    for d in forecast_sets(args.suite, [n for n in args.datasets.split(",") if n] or None):
        for r in run_set(d, args.budget, args.out / "home", args.baselines):
            rows.append(r)
            with open(args.out / "results.jsonl", "a") as handle:
                handle.write(json.dumps(r, default=str) + "\n")
        (args.out / "report.md").write_text(report(rows))
        print(report([r for r in rows if r["dataset"] == d["name"]]), flush=True)


if __name__ == "__main__":
    main()
