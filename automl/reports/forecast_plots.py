"""The forecasting insights plots as PNG bytes: a grid of backtested series and the quantile coverage."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from automl.reports.model_plots import label
from automl.reports.page import figure, png

CONTEXT_HORIZONS = 2  # history shown before the first window, in horizons


def backtest_png(rows: pd.DataFrame, chosen: list[tuple[str, str]], labels: dict[str, str], quantiles: list[str],
                 history: pd.DataFrame | None) -> bytes:
    """Per (series, why it was chosen): the actuals (with some history before when given), the median forecast of
    each window and the band between the outer quantiles."""
    series = [uid for uid, _ in chosen]
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    columns = min(3, len(series))
    lines = math.ceil(len(series) / columns)
    fig = figure(10, 2.8 * lines + 0.6)
    axes = np.atleast_1d(fig.subplots(lines, columns, squeeze=False)).ravel()
    point = "p50" if "p50" in quantiles else "mean"
    low, high = quantiles[0], quantiles[-1]
    for ax, (uid, why) in zip(axes, chosen, strict=False):
        own = rows[rows["unique_id"] == uid].sort_values("ds")
        if history is not None:
            before = history[(history["unique_id"] == uid) & (history["ds"] < own["ds"].min())].sort_values("ds")
            before = before.tail(CONTEXT_HORIZONS * own.groupby("window").size().max())
            ax.plot(before["ds"], before["y"], color="0.55", lw=1)
        ax.plot(own["ds"], own["y"], color="black", lw=1.2, label="actual")
        for k, part in own.groupby("window"):
            first = k == own["window"].max()
            ax.fill_between(part["ds"], part[low], part[high], color="tab:blue", alpha=0.2, lw=0,
                            label=f"{low}-{high}" if first else None)
            ax.plot(part["ds"], part[point], color="tab:blue", lw=1.4, label=point if first else None)
            ax.axvline(part["ds"].min(), color="0.8", lw=0.8, ls=":")
        locator = AutoDateLocator(maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_title(f"{label(labels.get(uid, uid), 40)} ({why})", fontsize=10)
    for ax in axes[len(series):]:
        ax.set_axis_off()
    if series:
        axes[0].legend(loc="upper left", fontsize="x-small")
    return png(fig)


def coverage_png(coverage: dict) -> bytes:
    fig = figure(10, 4.5)
    quantile_ax, interval_ax = fig.subplots(1, 2)
    levels = [q["level"] for q in coverage["quantiles"]]
    observed = [q["observed"] for q in coverage["quantiles"]]
    quantile_ax.plot([0, 1], [0, 1], ls="--", color="grey", label="target")
    quantile_ax.plot(levels, observed, marker="o", label="observed")
    for q in coverage["quantiles"]:
        quantile_ax.annotate(q["quantile"], (q["level"], q["observed"]), textcoords="offset points",
                             xytext=(4, -10), fontsize=8)
    quantile_ax.set(xlabel="Quantile level", ylabel="Share of actuals at or below the forecast", xlim=(0, 1),
                    ylim=(0, 1), title="Quantile coverage")
    quantile_ax.legend(loc="upper left", fontsize="small")
    bands = coverage["intervals"]
    x = np.arange(len(bands))
    interval_ax.bar(x - 0.2, [b["nominal"] for b in bands], 0.4, color="0.7", label="nominal")
    interval_ax.bar(x + 0.2, [b["observed"] for b in bands], 0.4, color="tab:blue", label="observed")
    interval_ax.set_xticks(x, [f"{b['lower']}-{b['upper']}" for b in bands])
    interval_ax.set(ylim=(0, 1), ylabel="Share of actuals inside", title="Central interval coverage")
    interval_ax.legend(loc="upper left", fontsize="small")
    return png(fig)
