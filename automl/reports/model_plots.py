"""The model insights plots as PNG bytes, drawn from the numbers metrics.json holds (so a plot never shows
something the file does not), plus a sample of rows for the scatter plots and histograms."""
from __future__ import annotations

import numpy as np

from automl.held_out import HeldOut
from automl.reports.page import figure, png

SCATTER_ROWS = 5000
MATRIX_ANNOTATED = 20  # classes up to which each confusion cell carries its number
LEGEND_CURVES = 12


def label(value, width: int = 30) -> str:
    """A class or column name as plain text: a `$` would start matplotlib's math mode, and long names are cut."""
    text = str(value)
    text = text if len(text) <= width else text[:width - 1] + "…"
    return text.replace("$", r"\$")


def roc_png(metrics: dict) -> bytes:
    fig = figure(8, 6)
    ax = fig.add_subplot()
    for curve in metrics["roc"][:LEGEND_CURVES]:
        ax.plot(curve["fpr"], curve["tpr"], lw=1.6, label=f"{label(curve['class'])} (AUC {curve['auc']:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curve" + (" (one class against the rest)" if len(metrics["roc"]) > 1 else ""))
    ax.legend(loc="lower right", fontsize="small")
    return png(fig)


def pr_png(metrics: dict) -> bytes:
    fig = figure(8, 6)
    ax = fig.add_subplot()
    for curve in metrics["precision_recall"][:LEGEND_CURVES]:
        ax.step(curve["recall"], curve["precision"], where="post", lw=1.6,
                label=f"{label(curve['class'])} (AP {curve['average_precision']:.3f})")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01), title="Precision-recall curve")
    ax.legend(loc="lower left", fontsize="small")
    return png(fig)


def confusion_png(metrics: dict) -> bytes:
    labels = metrics["confusion_matrix"]["labels"]
    matrix = np.asarray(metrics["confusion_matrix"]["matrix"], float)
    k = len(labels)
    side = min(8.5, max(6.0, 0.3 * k + 3))
    fig = figure(side + 1.5, side)
    ax = fig.add_subplot()
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ticks = np.arange(k)
    names = [label(c, 18) for c in labels]
    size = 9 if k <= MATRIX_ANNOTATED else 6
    ax.set_xticks(ticks, names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center", fontsize=size)
    ax.set_yticks(ticks, names, fontsize=size)
    ax.set(xlabel="Predicted class", ylabel="True class", title="Confusion matrix (rows: true class)")
    if k <= MATRIX_ANNOTATED:
        whole = np.allclose(matrix, matrix.round())
        for i in range(k):
            for j in range(k):
                count = f"{matrix[i, j]:.0f}" if whole else f"{matrix[i, j]:.3g}"
                ax.text(j, i, f"{count}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    return png(fig)


def gain_lift_png(metrics: dict) -> bytes:
    table = metrics["gain_lift"]
    deciles = table["deciles"]
    fig = figure(10, 4.5)
    gain, lift = fig.subplots(1, 2)
    population = [0.0] + [d["cumulative_population"] for d in deciles]
    gain.plot(population, [0.0] + [d["cumulative_gain"] or 0.0 for d in deciles], marker="o", label="model")
    gain.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    gain.set(xlabel="Share of rows, highest scores first", ylabel=f"Share of {label(table['class'])} found",
             title="Cumulative gain", xlim=(0, 1), ylim=(0, 1.01))
    gain.legend(loc="lower right", fontsize="small")
    lift.bar([d["decile"] for d in deciles], [d["lift"] or 0.0 for d in deciles], color="tab:blue")
    lift.axhline(1.0, ls="--", color="grey")
    lift.set(xlabel="Decile of the score (1 = highest)", ylabel="Lift over the base rate", title="Lift by decile",
             xticks=range(1, len(deciles) + 1))
    return png(fig)


def calibration_png(metrics: dict, held: HeldOut) -> bytes:
    cal = metrics["calibration"]
    fig = figure(8, 7)
    curve, counts = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    curve.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    curve.plot(cal["prob_pred"], cal["prob_true"], marker="o",
               label=f"model (Brier {cal['brier']:.3f}, ECE {cal['expected_calibration_error']:.3f})")
    curve.set(ylabel="Observed share", title=f"Calibration: {label(cal['of'], 60)}", xlim=(0, 1), ylim=(0, 1.01))
    curve.legend(loc="upper left", fontsize="small")
    proba = np.asarray(held.prediction, float)
    score = proba[:, held.positive_index] if proba.shape[1] == 2 else proba.max(axis=1)
    counts.hist(score, bins=cal["bins"], range=(0, 1), weights=held.w, color="tab:blue")
    counts.set(xlabel="Predicted probability", ylabel="Rows")
    return png(fig)


def predicted_vs_actual_png(metrics: dict, held: HeldOut) -> bytes:
    y, predicted = np.asarray(held.y, float), np.asarray(held.prediction, float)
    fig = figure(8, 7)
    ax = fig.add_subplot()
    ax.scatter(y, predicted, s=6, alpha=0.35, lw=0)
    low, high = np.nanmin([y.min(), predicted.min()]), np.nanmax([y.max(), predicted.max()])
    ax.plot([low, high], [low, high], ls="--", color="grey", label="predicted = actual")
    ax.set(xlabel="Actual", ylabel="Predicted",
           title=f"Predicted against actual (R2 {metrics['metrics']['R2']:.3f}, r {metrics['correlation']:.3f})")
    ax.legend(loc="upper left", fontsize="small")
    return png(fig)


def residuals_png(held: HeldOut) -> bytes:
    y, predicted = np.asarray(held.y, float), np.asarray(held.prediction, float)
    residual = y - predicted
    fig = figure(10, 4.5)
    scatter, histogram = fig.subplots(1, 2, width_ratios=[3, 2])
    scatter.scatter(predicted, residual, s=6, alpha=0.35, lw=0)
    scatter.axhline(0, ls="--", color="grey")
    scatter.set(xlabel="Predicted", ylabel="Residual (actual - predicted)", title="Residuals against prediction")
    histogram.hist(residual, bins=40, weights=held.w, color="tab:blue")
    histogram.axvline(0, ls="--", color="grey")
    histogram.set(xlabel="Residual", ylabel="Rows", title="Residual distribution")
    return png(fig)
