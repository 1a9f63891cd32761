"""A candidate's insight numbers from its held-out rows: the documented metrics (the very `score_all` values
Describe shows), then the tables and curves behind them.

Every number is computed on all rows, weights honoured wherever scikit-learn takes them; only the curves' points
are thinned (to at most CURVE_POINTS, always keeping both ends) so metrics.json stays small.
"""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from automl.held_out import HeldOut
from automl.metrics import score_all
from automl.problem import ProblemType

CURVE_POINTS = 200
DECILES = 10
CALIBRATION_BINS = 10
RESIDUAL_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


def insight_metrics(held: HeldOut) -> dict:
    """The documented metrics ("metrics") and the problem type's diagnostics, as plain numbers and lists."""
    scores = score_all(held.problem_type, held.y, held.prediction, held.w, held.positive_index)
    base = {"problem_type": held.problem_type.value, "rows": len(held.y), "weighted": held.w is not None,
            "source": held.source, "metrics": scores}
    if held.problem_type is ProblemType.REGRESSION:
        return base | regression_diagnostics(held)
    return base | classification_diagnostics(held)


def thin(*curves: np.ndarray) -> list[list]:
    """At most CURVE_POINTS evenly spaced points of parallel arrays, the first and last kept."""
    n = len(curves[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, CURVE_POINTS)).round().astype(int)) if n else np.arange(0)
    return [c[keep].tolist() for c in curves]


def decile_of(values: np.ndarray, w: np.ndarray | None, descending: bool) -> np.ndarray:
    """Each row's decile (0..9) of `values`, the deciles holding equal weight (equal rows when unweighted); ties
    are split by row order so every decile is filled."""
    order = np.argsort(-values if descending else values, kind="stable")
    weight = np.ones(len(values)) if w is None else np.asarray(w, float)
    before = np.cumsum(weight[order]) - weight[order]
    group = np.empty(len(values), int)
    group[order] = np.minimum(DECILES - 1, (DECILES * before / weight.sum()).astype(int))
    return group


def classification_diagnostics(held: HeldOut) -> dict:
    y, proba, w = np.asarray(held.y), np.asarray(held.prediction, float), held.w
    k = proba.shape[1]
    labels = [str(c) for c in held.classes]
    predicted = proba.argmax(axis=1)
    codes = np.arange(k)
    matrix = skm.confusion_matrix(y, predicted, labels=codes, sample_weight=w)
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, predicted, labels=codes,
                                                                         sample_weight=w, zero_division=0)
    predicted_count = np.bincount(predicted, weights=w, minlength=k)
    per_class = [{"class": labels[i], "precision": precision[i], "recall": recall[i], "f1": f1[i],
                  "support": support[i], "predicted": predicted_count[i]} for i in codes]
    scored = [held.positive_index] if k == 2 else list(codes)
    roc, pr = [], []
    for i in scored:
        truth = (y == i).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, thresholds = skm.roc_curve(truth, proba[:, i], sample_weight=w)
        precision_c, recall_c, _ = skm.precision_recall_curve(truth, proba[:, i], sample_weight=w)
        fpr, tpr, thresholds = thin(fpr, tpr, thresholds)
        roc.append({"class": labels[i], "auc": skm.roc_auc_score(truth, proba[:, i], sample_weight=w),
                    "fpr": fpr, "tpr": tpr, "thresholds": thresholds})
        precision_c, recall_c = thin(precision_c, recall_c)
        pr.append({"class": labels[i], "average_precision": skm.average_precision_score(truth, proba[:, i],
                                                                                         sample_weight=w),
                   "precision": precision_c, "recall": recall_c})
    return {"confusion_matrix": {"labels": labels, "matrix": matrix.tolist()}, "per_class": per_class,
            "roc": roc, "precision_recall": pr,
            "gain_lift": gain_lift(held) if k == 2 else None, "calibration": calibration(held)}


def gain_lift(held: HeldOut) -> dict:
    """By decile of the positive-class score, highest first: the share of all positives each decile and those
    above it capture (gain), and how many times the base rate that is (lift)."""
    pos = held.positive_index
    truth = (np.asarray(held.y) == pos).astype(float)
    score = np.asarray(held.prediction, float)[:, pos]
    w = np.ones(len(truth)) if held.w is None else np.asarray(held.w, float)
    group = decile_of(score, held.w, descending=True)
    weight = np.bincount(group, weights=w, minlength=DECILES)
    positives = np.bincount(group, weights=w * truth, minlength=DECILES)
    base_rate = positives.sum() / weight.sum()
    rows = []
    for d in range(DECILES):
        cum_weight, cum_pos = weight[:d + 1].sum(), positives[:d + 1].sum()
        in_group = group == d
        rows.append({"decile": d + 1, "rows": weight[d], "positives": positives[d],
                     "min_score": score[in_group].min() if in_group.any() else None,
                     "positive_rate": positives[d] / weight[d] if weight[d] else None,
                     "cumulative_population": cum_weight / weight.sum(),
                     "cumulative_gain": cum_pos / positives.sum() if positives.sum() else None,
                     "lift": positives[d] / weight[d] / base_rate if weight[d] and base_rate else None,
                     "cumulative_lift": cum_pos / cum_weight / base_rate if base_rate else None})
    return {"class": str(held.classes[pos]), "base_rate": base_rate, "deciles": rows}


def calibration(held: HeldOut) -> dict:
    """Binary: the positive class's probability against how often it is true, in CALIBRATION_BINS uniform bins
    (scikit-learn's calibration_curve, with the weights it lacks). Multiclass: the top class's probability against
    how often the top class is right. The Brier score is scikit-learn's for the problem type."""
    y, proba = np.asarray(held.y), np.asarray(held.prediction, float)
    if proba.shape[1] == 2:
        pos = held.positive_index
        what, score, truth = f"probability of {held.classes[pos]}", proba[:, pos], (y == pos).astype(float)
        brier = skm.brier_score_loss(truth, score, sample_weight=held.w)
    else:
        what, score, truth = "probability of the predicted class", proba.max(axis=1), \
            (proba.argmax(axis=1) == y).astype(float)
        brier = skm.brier_score_loss(y, proba, sample_weight=held.w, labels=np.arange(proba.shape[1]))
    w = np.ones(len(y)) if held.w is None else np.asarray(held.w, float)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], score)
    total = np.bincount(bins, weights=w, minlength=CALIBRATION_BINS)
    mean_score = np.bincount(bins, weights=w * score, minlength=CALIBRATION_BINS)
    true_share = np.bincount(bins, weights=w * truth, minlength=CALIBRATION_BINS)
    filled = total > 0
    prob_pred, prob_true = mean_score[filled] / total[filled], true_share[filled] / total[filled]
    ece = float(np.sum(total[filled] * np.abs(prob_true - prob_pred)) / total.sum())
    return {"of": what, "bins": CALIBRATION_BINS, "prob_pred": prob_pred.tolist(), "prob_true": prob_true.tolist(),
            "weight": total[filled].tolist(), "brier": brier, "expected_calibration_error": ece}


def regression_diagnostics(held: HeldOut) -> dict:
    y, predicted = np.asarray(held.y, float), np.asarray(held.prediction, float)
    w = np.ones(len(y)) if held.w is None else np.asarray(held.w, float)
    residual = y - predicted
    mean = np.average(residual, weights=w)
    quantiles = np.quantile(residual, RESIDUAL_QUANTILES, weights=w, method="inverted_cdf")
    summary = {"mean": mean, "std": np.sqrt(np.average((residual - mean) ** 2, weights=w)),
               "quantiles": {f"{q:g}": v for q, v in zip(RESIDUAL_QUANTILES, quantiles, strict=True)}}
    covariance = np.cov(predicted, y, aweights=w)
    denominator = np.sqrt(covariance[0, 0] * covariance[1, 1])
    correlation = covariance[0, 1] / denominator if denominator > 0 else float("nan")
    group = decile_of(predicted, held.w, descending=False)
    by_decile = []
    for d in range(DECILES):
        part = group == d
        if not part.any():
            continue
        pw, pr = w[part], residual[part]
        by_decile.append({"decile": d + 1, "rows": int(part.sum()), "weight": pw.sum(),
                          "min_predicted": predicted[part].min(), "max_predicted": predicted[part].max(),
                          "mean_predicted": np.average(predicted[part], weights=pw),
                          "mean_actual": np.average(y[part], weights=pw), "bias": np.average(pr, weights=pw),
                          "mae": np.average(np.abs(pr), weights=pw), "rmse": np.sqrt(np.average(pr ** 2, weights=pw))})
    return {"residuals": summary, "correlation": correlation, "error_by_decile": by_decile}
