"""A forecasting candidate's model insights, from its backtest folder: every metric overall and per window, how
often actuals fall below each quantile forecast (a p90 should be above 90% of them) and inside each central
interval, a plot of a few series' backtests, what the covariates and holidays weigh in the model, report.html.

The numbers are recomputed from the backtest's forecasts.csv with the functions that scored the candidate, so
they equal what Describe and the leaderboard show, and a reader can recompute them from that file.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from automl.artifacts import load_model, write_bytes
from automl.channels import join_uri
from automl.forecast_metrics import FORECAST_METRIC_NAMES, score, weighted_quantile_losses
from automl.forecast_plan import ForecastPlan
from automl.reports.covariate_impact import CovariateImpact, covariate_impact
from automl.reports.forecast_plots import backtest_png, coverage_png
from automl.reports.page import Page
from automl.reports.strict_json import strict
from runners.backtest import read_forecasts

PLOTTED_SERIES = 6
MISCALIBRATED = 0.1  # a quantile's observed share this far from its level is worth a note


def write_forecast_insights(folder_uri: str, backtest_uri: str, plan: ForecastPlan, *, candidate: str,
                            history: pd.DataFrame | None = None, model_uri: str | None = None) -> dict:
    """Writes the folder; returns what metrics.json holds. `history` (unique_id, ds, y) adds the steps before
    the first window to the plot; `model_uri` defaults to the model.joblib beside the backtest folder."""
    rows = read_forecasts(join_uri(backtest_uri, "forecasts.csv"), {"ds": plan.timestamp, "y": plan.target})
    quantiles = list(plan.quantiles)
    keys = [c for c in (plan.item_id, *plan.grouping) if c in rows.columns]
    labels = series_labels(rows, keys)
    chosen = choose_series(rows, PLOTTED_SERIES)
    impact = covariate_impact(candidate_model(model_uri or join_uri(backtest_uri.rstrip("/").rsplit("/", 1)[0],
                                                                    "model.joblib")), plan.holiday_country)
    metrics = strict({
        "candidate": candidate, "objective": plan.objective, "horizon": plan.horizon, "quantiles": quantiles,
        "windows": int(rows["window"].nunique()), "series": int(rows["unique_id"].nunique()), "rows": len(rows),
        "metrics": score(rows, quantiles) | weighted_quantile_losses(rows, quantiles),
        "per_window": {str(int(k)): score(part, quantiles) | weighted_quantile_losses(part, quantiles)
                       for k, part in rows.groupby("window")},
        "coverage": coverage(rows, quantiles),
        "plotted_series": [{"unique_id": uid, "series": labels[uid], "why": why} for uid, why in chosen],
        "covariate_impact": impact.to_json()})
    images = {"backtest.png": backtest_png(rows, chosen, labels, quantiles, history),
              "coverage.png": coverage_png(metrics["coverage"])}
    write_bytes(join_uri(folder_uri, "metrics.json"), json.dumps(metrics, indent=1, allow_nan=False).encode())
    for name, data in images.items():
        write_bytes(join_uri(folder_uri, name), data)
    write_bytes(join_uri(folder_uri, "report.html"), page(metrics, images, impact, plan).html().encode())
    return metrics


def candidate_model(uri: str):
    """The candidate's fitted model, or None when there is none to read (its impact then goes unmeasured)."""
    try:
        return load_model(uri)
    except FileNotFoundError:
        return None


def series_labels(rows: pd.DataFrame, keys: list[str]) -> dict[str, str]:
    """Each series as the data names it: its item id (and grouping values)."""
    first = rows.drop_duplicates("unique_id")
    if not keys:
        return {uid: uid for uid in first["unique_id"]}
    return dict(zip(first["unique_id"], first[keys].astype(str).agg(" / ".join, axis=1), strict=True))


def coverage(rows: pd.DataFrame, quantiles: list[str]) -> dict:
    """Per quantile, the share of actuals at or below its forecast (overall and per window) against its level;
    per central interval (the outermost pair of quantiles inwards), the share of actuals inside it."""
    y = rows["y"].to_numpy(float)
    window = rows["window"].to_numpy()
    per_quantile = []
    for q in quantiles:
        below = y <= rows[q].to_numpy(float)
        level = int(q[1:]) / 100
        per_quantile.append({"quantile": q, "level": level, "observed": below.mean(),
                             "gap": below.mean() - level,
                             "per_window": {str(int(k)): below[window == k].mean() for k in np.unique(window)}})
    levels = [int(q[1:]) / 100 for q in quantiles]
    intervals = []
    for i in range(len(quantiles) // 2):
        low, high = quantiles[i], quantiles[-1 - i]
        if not levels[i] < 0.5 < levels[-1 - i]:
            continue
        inside = (y >= rows[low].to_numpy(float)) & (y <= rows[high].to_numpy(float))
        intervals.append({"lower": low, "upper": high, "nominal": round(levels[-1 - i] - levels[i], 6),
                          "observed": inside.mean(),
                          "mean_width": (rows[high] - rows[low]).mean()})
    return {"quantiles": per_quantile, "intervals": intervals}


def choose_series(rows: pd.DataFrame, count: int) -> list[tuple[str, str]]:
    """Up to `count` series, the same for the same backtest: the two largest (mean |actual|), the two worst
    scored (mean absolute error over the series' seasonal scale, as MASE), then a seeded random draw."""
    per = rows.assign(size=rows["y"].abs(), error=(rows["y"] - rows["mean"]).abs() / rows["scale"])
    per = per.replace([np.inf, -np.inf], np.nan).groupby("unique_id", sort=True)[["size", "error"]].mean()
    chosen: dict[str, str] = {}
    picks = [(per["size"].sort_values(ascending=False, kind="stable").index, "largest"),
             (per["error"].sort_values(ascending=False, kind="stable", na_position="last").index, "worst scored")]
    for order, why in picks:
        for uid in [u for u in order if u not in chosen][:max(1, count // 3)]:
            chosen[uid] = why
    rest = [u for u in per.index if u not in chosen]
    draw = np.random.default_rng(0).permutation(len(rest))[:max(0, count - len(chosen))]
    chosen.update({rest[i]: "random" for i in sorted(draw)})
    return list(chosen.items())[:count]


def notes(metrics: dict, impact: CovariateImpact) -> list[str]:
    found = []
    for q in metrics["coverage"]["quantiles"]:
        if abs(q["gap"]) > MISCALIBRATED:
            side = "above" if q["gap"] < 0 else "below"
            found.append(f"{q['quantile']} is {side} its target: {q['observed']:.0%} of actuals fall at or below it, "
                         f"not {q['level']:.0%}. Plans that rely on it (stock for a {q['level']:.0%} service level) "
                         "would be off by that much.")
    for band in metrics["coverage"]["intervals"]:
        if band["observed"] < band["nominal"] - MISCALIBRATED:
            found.append(f"The {band['lower']}-{band['upper']} interval holds {band['observed']:.0%} of actuals "
                         f"against a nominal {band['nominal']:.0%}: the model is overconfident.")
    mase = metrics["metrics"].get("MASE")
    if mase is not None and mase > 1:
        found.append(f"MASE is {mase:.3f}: on these windows the forecasts err more than repeating the last season "
                     "(seasonal naive) did in the history.")
    if impact.measured and impact.covariate_share is not None and impact.covariates and impact.covariate_share < 0.01:
        found.append("The covariates carry under 1% of the model's gain: it barely uses them, so their future "
                     "values matter little to these forecasts.")
    return found


def page(metrics: dict, images: dict[str, bytes], impact: CovariateImpact, plan: ForecastPlan) -> Page:
    report = Page(f"Model insights: {metrics['candidate']}",
                  f"Forecasting, backtested on {metrics['windows']} window(s) of {metrics['horizon']} steps over "
                  f"{metrics['series']:,} series: {metrics['rows']:,} forecast rows.")
    found = notes(metrics, impact)
    if found:
        report.heading("What to look at")
        for finding in found:
            report.note(finding)
    report.heading("Metrics")
    names = [*FORECAST_METRIC_NAMES, *[k for k in metrics["metrics"] if k not in FORECAST_METRIC_NAMES]]
    windows = sorted(metrics["per_window"], key=int, reverse=True)
    report.table([{"Metric": n, "Objective": "objective" if n == metrics["objective"] else "",
                   "All windows": metrics["metrics"][n],
                   **{f"Window {k}": metrics["per_window"][k].get(n) for k in windows}} for n in names])
    report.paragraph("Window 1 is the latest; every number is recomputable from the backtest's forecasts.csv.",
                     "muted")
    report.heading("Quantile coverage")
    report.table([{"Quantile": q["quantile"], "Target share below": q["level"], "Observed share below":
                   q["observed"], "Gap": q["gap"]} for q in metrics["coverage"]["quantiles"]])
    report.table([{"Interval": f"{b['lower']}-{b['upper']}", "Nominal": b["nominal"], "Observed": b["observed"],
                   "Mean width": b["mean_width"]} for b in metrics["coverage"]["intervals"]])
    report.image(images["coverage.png"], "Observed against target coverage of each quantile and central interval.")
    report.heading("Backtest forecasts")
    report.bullets(f"{s['series']}: {s['why']}" for s in metrics["plotted_series"])
    report.image(images["backtest.png"], "Actuals against the median forecast and the outer quantile band, "
                                         "each backtest window drawn on its own.")
    impact_section(report, impact, plan)
    return report


def impact_section(report: Page, impact: CovariateImpact, plan: ForecastPlan) -> None:
    report.heading("Covariates and holidays")
    if not impact.wanted:
        report.paragraph("The job has no covariates and no holiday calendar.")
        return
    given = [f"covariates: {', '.join(impact.covariates)}" if impact.covariates else "no covariates of its own",
             f"holiday calendar {plan.holiday_country} ({len(impact.holidays)} holiday features)"
             if plan.holiday_country else "no holiday calendar"]
    report.paragraph(f"The job has {'; '.join(given)}.")
    if not impact.measured:
        report.paragraph(f"Their impact was not measured for this model: {impact.reason}.")
        return
    report.paragraph(f"Measured by {impact.reason}: the covariates carry {impact.covariate_share:.1%} of the "
                     f"model's gain and the holiday features {impact.holiday_share:.1%}.")
    for member in impact.members:
        report.heading(f"{member.model} (weight {member.weight:.2f}): the features by gain", 3)
        report.table([{"Feature": f["feature"], "Share of gain": f["share"]} for f in member.features[:15]])
