"""A candidate's model insights folder: predictions.csv (its held-out rows as scored), metrics.json (every number,
recomputable from predictions.csv), the PNGs and report.html, with notes on what a user could act on.

The rows are those the candidate was scored on (`HeldOut`), so the report agrees with Describe; the metrics use
every row, and only the scatter plots draw a sample of them.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from automl.artifacts import write_bytes
from automl.channels import join_uri
from automl.held_out import HeldOut
from automl.problem import ProblemType
from automl.reports import model_plots as plots
from automl.reports.model_metrics import insight_metrics
from automl.reports.page import Page
from automl.reports.strict_json import strict

POOR_CALIBRATION = 0.1  # expected calibration error above which probabilities should not be read as such
WEAK_AUC = 0.7
FEW_ROWS = 200
RARE_CLASS = 0.1
BIASED = 0.2  # mean residual, in residual standard deviations
SPREADING = 3.0  # highest-decile MAE over the median decile's


def write_insights(folder_uri: str, held: HeldOut, *, candidate: str, objective: str) -> dict:
    """Writes the folder; returns what metrics.json holds."""
    metrics = strict({"candidate": candidate, "objective": objective} | insight_metrics(held))
    write_bytes(join_uri(folder_uri, "predictions.csv"), predictions_frame(held).to_csv(index=False).encode())
    write_bytes(join_uri(folder_uri, "metrics.json"), json.dumps(metrics, indent=1, allow_nan=False).encode())
    images = draw(metrics, held)
    for name, data in images.items():
        write_bytes(join_uri(folder_uri, name), data)
    write_bytes(join_uri(folder_uri, "report.html"), page(metrics, images).html().encode())
    return metrics


def predictions_frame(held: HeldOut) -> pd.DataFrame:
    """The saved predictions: the truth as the data names it, the weight, each class's probability, the label."""
    columns = {}
    if held.problem_type is ProblemType.REGRESSION:
        columns["true_value"] = np.asarray(held.y, float)
    else:
        classes = np.asarray(held.classes, dtype=object)
        columns["true_label"] = classes[np.asarray(held.y, int)]
    if held.w is not None:
        columns["weight"] = np.asarray(held.w, float)
    if held.problem_type is ProblemType.REGRESSION:
        columns["predicted_value"] = np.asarray(held.prediction, float)
    else:
        proba = np.asarray(held.prediction, float)
        for i, c in enumerate(held.classes):
            columns[f"probability:{c}"] = proba[:, i]
        columns["predicted_label"] = classes[proba.argmax(axis=1)]
    return pd.DataFrame(columns)


def draw(metrics: dict, held: HeldOut) -> dict[str, bytes]:
    sample = held.sample(plots.SCATTER_ROWS)
    if held.problem_type is ProblemType.REGRESSION:
        return {"predicted_vs_actual.png": plots.predicted_vs_actual_png(metrics, sample),
                "residuals.png": plots.residuals_png(sample)}
    images = {"confusion_matrix.png": plots.confusion_png(metrics)}
    if metrics["roc"]:
        images["roc.png"] = plots.roc_png(metrics)
        images["pr.png"] = plots.pr_png(metrics)
    if metrics["gain_lift"]:
        images["gain_lift.png"] = plots.gain_lift_png(metrics)
    images["calibration.png"] = plots.calibration_png(metrics, sample)
    return images


def notes(metrics: dict) -> list[str]:
    """Findings worth acting on, most serious first."""
    found = []
    if metrics["rows"] < FEW_ROWS:
        found.append(f"Only {metrics['rows']} rows were scored: these metrics can move by several points on "
                     "other data; more rows (or cross-validation) give steadier numbers.")
    if metrics["problem_type"] == ProblemType.REGRESSION.value:
        return found + regression_notes(metrics)
    return found + classification_notes(metrics)


def classification_notes(metrics: dict) -> list[str]:
    found = []
    total = sum(c["support"] or 0 for c in metrics["per_class"])
    for c in metrics["per_class"]:
        if c["support"] and not c["predicted"]:
            found.append(f"Class {c['class']} is never predicted, though {c['support']:g} rows have it: the model "
                         "trades it away for the others. Weighting the rows by class, more examples of it, or an "
                         "objective that counts every class (BalancedAccuracy, F1macro) would help it.")
    rare = [c for c in metrics["per_class"] if total and (c["support"] or 0) / total < RARE_CLASS]
    if rare and metrics["objective"] == "Accuracy":
        found.append(f"{', '.join(c['class'] for c in rare)} {'is' if len(rare) == 1 else 'are'} under "
                     f"{RARE_CLASS:.0%} of the rows, so Accuracy mostly rewards the other classes; BalancedAccuracy "
                     "or F1 would weigh them fairly.")
    for curve in metrics["roc"]:
        if curve["auc"] is not None and curve["auc"] < WEAK_AUC and len(metrics["roc"]) == 1:
            found.append(f"AUC is {curve['auc']:.3f}: the scores separate the classes weakly; more informative "
                         "features matter more here than tuning.")
    cal = metrics["calibration"]
    if cal["expected_calibration_error"] is not None and cal["expected_calibration_error"] > POOR_CALIBRATION:
        found.append(f"The probabilities are poorly calibrated (expected calibration error "
                     f"{cal['expected_calibration_error']:.3f}): they rank rows well or badly, but are not the "
                     "observed rates. Recalibrate them (isotonic or Platt scaling) before using them as "
                     "probabilities or choosing a threshold from them.")
    return found


def regression_notes(metrics: dict) -> list[str]:
    found = []
    r2 = metrics["metrics"]["R2"]
    if r2 is not None and r2 < 0:
        found.append(f"R2 is {r2:.3f}: predicting the mean of the target would do better than this model.")
    residuals = metrics["residuals"]
    if residuals["std"] and abs(residuals["mean"]) > BIASED * residuals["std"]:
        direction = "under" if residuals["mean"] > 0 else "over"
        found.append(f"The model {direction}-predicts by {abs(residuals['mean']):.4g} on average "
                     f"({abs(residuals['mean']) / residuals['std']:.2f} residual standard deviations): a "
                     "systematic bias, often a shift between training and these rows.")
    errors = [d["mae"] for d in metrics["error_by_decile"]]
    if len(errors) > 2 and np.median(errors) > 0 and errors[-1] > SPREADING * np.median(errors):
        found.append(f"Errors grow with the prediction (MAE {errors[-1]:.4g} in the highest decile against "
                     f"{np.median(errors):.4g} typically): a log-transformed target, or a metric relative to "
                     "size, may suit this target better.")
    return found


def page(metrics: dict, images: dict[str, bytes]) -> Page:
    weighted = ", weighted" if metrics["weighted"] else ""
    report = Page(f"Model insights: {metrics['candidate']}",
                  f"{metrics['problem_type']}, scored on {metrics['source']}: {metrics['rows']:,} rows{weighted}.")
    found = notes(metrics)
    if found:
        report.heading("What to look at")
        for finding in found:
            report.note(finding)
    report.heading("Metrics")
    report.table([{"Metric": name, "Value": value, "Objective": "objective" if name == metrics["objective"] else ""}
                  for name, value in metrics["metrics"].items()])
    report.paragraph("Every number here is recomputable from predictions.csv; metrics.json holds them all.", "muted")
    if metrics["problem_type"] == ProblemType.REGRESSION.value:
        return regression_sections(report, metrics, images)
    return classification_sections(report, metrics, images)


def classification_sections(report: Page, metrics: dict, images: dict[str, bytes]) -> Page:
    report.heading("Per class")
    report.table([{"Class": c["class"], "Precision": c["precision"], "Recall": c["recall"], "F1": c["f1"],
                   "Support": c["support"], "Predicted": c["predicted"]} for c in metrics["per_class"]])
    report.heading("Confusion matrix")
    report.image(images["confusion_matrix.png"], "Rows are the true class, columns the predicted one; each cell "
                                                 "shows its rows and their share of the true class.")
    if "roc.png" in images:
        report.heading("ROC and precision-recall")
        report.image(images["roc.png"], "ROC curve: true against false positive rate over every threshold.")
        report.image(images["pr.png"], "Precision against recall over every threshold; AP is average precision.")
    if metrics["gain_lift"]:
        table = metrics["gain_lift"]
        report.heading("Gain and lift")
        report.paragraph(f"Rows sorted by the probability of {table['class']}, highest first, in ten equal parts; "
                         f"the base rate of {table['class']} is {table['base_rate']:.3f}.")
        report.table([{"Decile": d["decile"], "Lowest score": d["min_score"], "Rate": d["positive_rate"],
                       "Lift": d["lift"], "Cumulative gain": d["cumulative_gain"],
                       "Cumulative lift": d["cumulative_lift"]} for d in table["deciles"]])
        report.image(images["gain_lift.png"], "Cumulative gain and lift by decile of the score.")
    cal = metrics["calibration"]
    report.heading("Calibration")
    report.paragraph(f"Brier score {cal['brier']:.4f}; expected calibration error "
                     f"{cal['expected_calibration_error']:.4f} ({cal['of']}, {cal['bins']} equal-width bins).")
    report.image(images["calibration.png"], "Mean predicted probability against the observed share per bin.")
    return report


def regression_sections(report: Page, metrics: dict, images: dict[str, bytes]) -> Page:
    residuals = metrics["residuals"]
    report.heading("Residuals (actual - predicted)")
    report.table([{"Mean": residuals["mean"], "Std": residuals["std"],
                   **{f"q{q}": v for q, v in residuals["quantiles"].items()}}])
    report.paragraph(f"Correlation of predicted and actual: {metrics['correlation']:.4f}.")
    report.image(images["predicted_vs_actual.png"], "Each row's prediction against its actual value.")
    report.image(images["residuals.png"], "Residuals against the prediction, and their distribution.")
    report.heading("Error by decile of the prediction")
    report.table([{"Decile": d["decile"], "Rows": d["rows"], "Predicted from": d["min_predicted"],
                   "to": d["max_predicted"], "Mean predicted": d["mean_predicted"], "Mean actual": d["mean_actual"],
                   "Bias": d["bias"], "MAE": d["mae"], "RMSE": d["rmse"]} for d in metrics["error_by_decile"]])
    return report
