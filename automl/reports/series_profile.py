"""A forecasting job's data profile: the raw rows per series, and what `build_series` (the engine's own
regularisation) makes of them: gaps it fills, series it drops, covariates and holidays it adds. A job the engine
would refuse gets that refusal as its first finding instead of an exception, so the report still shows the
data."""
from __future__ import annotations

import pandas as pd

from automl.errors import ValidationException
from automl.forecast_plan import ForecastPlan
from automl.reports.findings import finding
from automl.reports.profile import summary
from automl.series import build_series, key_columns

EXAMPLES = 4
EXAMPLE_STEPS = 200
INTERMITTENT = 0.5  # a series with more zeros than this is intermittent
MIN_CYCLES = 2  # horizons of history a series should have for a backtest window and a fit


def profile_series(frame: pd.DataFrame, plan: ForecastPlan) -> dict:
    keys = key_columns(plan)
    stamps = pd.to_datetime(frame[plan.timestamp], errors="coerce")
    target = pd.to_numeric(frame[plan.target], errors="coerce")
    ids = frame[keys].astype(str).agg("|".join, axis=1) if len(keys) > 1 else frame[keys[0]].astype(str)
    raw_lengths = ids.value_counts()
    out = {
        "kind": "timeseries",
        "dataset": {"rows": len(frame), "columns": frame.shape[1], "rows_with_missing_target": int(target.isna().sum()),
                    "unparsed_timestamps": int(stamps.isna().sum())},
        "series": {"count": int(len(raw_lengths)), "timestamp": plan.timestamp, "target": plan.target, "keys": keys,
                   "frequency": plan.frequency, "horizon": plan.horizon,
                   "start": _iso(stamps.min()), "end": _iso(stamps.max()),
                   "median_step": _median_step(stamps, ids),
                   "raw_lengths": summary(raw_lengths.to_numpy(dtype=float))},
        "holidays": {"country": plan.holiday_country},
        "covariates": [],
        "findings": [],
    }
    try:
        data = build_series(frame, plan)
    except ValidationException as exc:
        out["findings"].append(finding("refused", None, f"The engine refuses this data: {exc.message}",
                                       "Fix the data or the request as the message says; the job will fail."))
        return out
    _regular(out, frame, data, raw_lengths, plan)
    out["findings"] += _findings(out, plan)
    return out


def _regular(out: dict, frame: pd.DataFrame, data, raw_lengths: pd.Series, plan: ForecastPlan) -> None:
    """The series as the engine trains on them; covariates' missing shares are the raw rows' (before filling)."""
    history = data.history
    lengths = data.lengths
    zeros = history["y"].eq(0).groupby(history["unique_id"], sort=False).mean()
    observed = raw_lengths.reindex(lengths.index).fillna(0)
    filled = (lengths - observed).clip(lower=0)
    out["series"] |= {
        "used": int(len(lengths)), "dropped_shorter_than_horizon": int(data.dropped), "offset": data.freq,
        "season_length": data.season_length, "lengths": summary(lengths.to_numpy(dtype=float)),
        "filled_steps": int(filled.sum()), "series_with_gaps": int((filled > 0).sum()),
        "zero_share": float(history["y"].eq(0).mean()),
        "intermittent_series": int((zeros > INTERMITTENT).sum()),
        "zero_share_per_series": summary(zeros.to_numpy(dtype=float)),
        "shorter_than_two_horizons": int((lengths < MIN_CYCLES * plan.horizon).sum()),
    }
    own = [c for c in data.covariates if not c.startswith("holiday_")]
    out["covariates"] = [{"name": c, "missing_share": float(frame[c].isna().mean())} for c in own if c in frame]
    out["holidays"]["columns"] = [c for c in data.covariates if c.startswith("holiday_")]
    out["examples"] = [{"id": uid, "ds": [str(d) for d in part["ds"].tail(EXAMPLE_STEPS)],
                        "y": part["y"].tail(EXAMPLE_STEPS).astype(float).tolist()}
                       for uid, part in list(history.groupby("unique_id", sort=False))[:EXAMPLES]]


def _findings(out: dict, plan: ForecastPlan) -> list[dict]:
    s, found = out["series"], []
    if s["dropped_shorter_than_horizon"]:
        found.append(finding("short_series", None, f"{s['dropped_shorter_than_horizon']:,} series are shorter than "
                             f"the horizon ({plan.horizon} steps); the engine drops them.",
                             "Give them longer histories, or shorten ForecastHorizon."))
    if s["shorter_than_two_horizons"]:
        found.append(finding("little_history", None, f"{s['shorter_than_two_horizons']:,} series have less than "
                             f"{MIN_CYCLES} horizons of history; their backtests are short and their forecasts "
                             "lean on the other series.", "A shorter ForecastHorizon makes more of their history "
                             "usable."))
    if s["series_with_gaps"]:
        found.append(finding("missing_timestamps", None, f"{s['series_with_gaps']:,} series have missing steps "
                             f"({s['filled_steps']:,} in all) that the engine fills with its middlefill (zero "
                             "unless Filling says otherwise).", "Set Transformations.Filling for the target (e.g. "
                             "middlefill 'median') if a missing step does not mean zero."))
    if out["dataset"]["rows_with_missing_target"]:
        found.append(finding("missing_target", plan.target, f"{out['dataset']['rows_with_missing_target']:,} rows "
                             "have no target value.", "Inside a series they are filled like missing steps; after "
                             "its last value they are read as the future's covariates."))
    if s["intermittent_series"]:
        found.append(finding("intermittent", plan.target, f"{s['intermittent_series']:,} series are mostly zeros "
                             f"(more than {INTERMITTENT:.0%} of their steps).", "Quantile objectives "
                             "(AverageWeightedQuantileLoss) and a coarser ForecastFrequency suit intermittent "
                             "demand better than point errors such as MAPE, which zeros make undefined."))
    for c in out["covariates"]:
        if c["missing_share"] > 0:
            found.append(finding("covariate_missing", c["name"], f"{c['missing_share']:.1%} of the covariate's "
                                 "values are missing.", "The engine fills them with the median unless "
                                 "Transformations.Filling names a method; give the future values if known."))
    if plan.holiday_country is None and s["offset"].endswith(("D", "h", "min")):
        found.append(finding("no_holidays", None, "No holiday calendar is configured for daily or finer data.",
                             "Set HolidayConfig with the country whose public holidays move the target."))
    return found


def _median_step(stamps: pd.Series, ids: pd.Series) -> str | None:
    """The typical gap between a series' consecutive rows, to compare with the requested frequency."""
    order = pd.DataFrame({"id": ids, "ds": stamps}).dropna().sort_values(["id", "ds"])
    steps = order["ds"].diff()[order["id"].eq(order["id"].shift())]
    steps = steps[steps > pd.Timedelta(0)]
    return str(steps.median()) if len(steps) else None


def _iso(stamp) -> str | None:
    return None if pd.isna(stamp) else pd.Timestamp(stamp).isoformat()

