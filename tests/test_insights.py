"""Model insights: every number in metrics.json recomputed by scikit-learn from predictions.csv read back, on
realistic out-of-fold predictions of scikit-learn's bundled datasets; weights honoured; real PNGs; escaped names."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from automl.held_out import HeldOut
from automl.metrics import score_all
from automl.problem import ProblemType
from automl.reports.insights import write_insights

CLASSIFIER_PNGS = {"roc.png", "pr.png", "confusion_matrix.png", "gain_lift.png", "calibration.png"}


def out_of_fold(data, model, method: str) -> np.ndarray:
    return cross_val_predict(make_pipeline(StandardScaler(), model), data.data, data.target, cv=5, method=method)


@pytest.fixture(scope="module")
def binary() -> HeldOut:
    data = load_breast_cancer()
    proba = out_of_fold(data, LogisticRegression(C=0.05, max_iter=500), "predict_proba")
    return HeldOut(ProblemType.BINARY, list(data.target_names), 1, pd.DataFrame(data.data), data.target, None, proba,
                   "out-of-fold predictions")


@pytest.fixture(scope="module")
def multiclass() -> HeldOut:
    """Iris, with class names a report must escape and a plot must not read as math."""
    data = load_iris()
    proba = out_of_fold(data, LogisticRegression(C=0.1, max_iter=500), "predict_proba")
    return HeldOut(ProblemType.MULTICLASS, ["<b>x</b>", "a$b", "virginica"], 1, pd.DataFrame(data.data),
                   data.target, None, proba, "the validation channel")


@pytest.fixture(scope="module")
def regression() -> HeldOut:
    data = load_diabetes()
    return HeldOut(ProblemType.REGRESSION, [], 1, pd.DataFrame(data.data), data.target.astype(float), None,
                   out_of_fold(data, Ridge(alpha=1.0), "predict"), "out-of-fold predictions")


def written(folder: Path, held: HeldOut, objective: str) -> tuple[dict, pd.DataFrame, str]:
    returned = write_insights(str(folder), held, candidate="job-xgboost", objective=objective)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == returned
    return metrics, pd.read_csv(folder / "predictions.csv"), (folder / "report.html").read_text()


def read_back(frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(classes, true codes, probabilities, predicted codes, weights) as predictions.csv states them."""
    columns = [c for c in frame.columns if c.startswith("probability:")]
    classes = [c.removeprefix("probability:") for c in columns]
    code = {c: i for i, c in enumerate(classes)}
    y = frame["true_label"].astype(str).map(code).to_numpy()
    predicted = frame["predicted_label"].astype(str).map(code).to_numpy()
    weight = frame["weight"].to_numpy() if "weight" in frame else None
    return classes, y, frame[columns].to_numpy(), predicted, weight


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_images(folder: Path, names: set[str]) -> None:
    assert names <= {p.name for p in folder.glob("*.png")}
    for name in names:
        width, height = png_size(folder / name)
        assert 600 <= width <= 1000 and 300 <= height <= 1000, (name, width, height)


def test_binary_metrics_agree_with_sklearn_on_the_saved_predictions(tmp_path, binary):
    metrics, frame, report = written(tmp_path, binary, "F1")
    classes, y, proba, predicted, weight = read_back(frame)
    assert classes == ["malignant", "benign"] and weight is None and len(frame) == 569
    assert (predicted == proba.argmax(axis=1)).all()
    truth, score = (y == 1).astype(int), proba[:, 1]
    m = metrics["metrics"]
    assert set(m) == {"Accuracy", "BalancedAccuracy", "AUC", "F1", "Precision", "Recall", "LogLoss"}
    assert m["Accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert m["BalancedAccuracy"] == pytest.approx(skm.balanced_accuracy_score(y, predicted))
    assert m["F1"] == pytest.approx(skm.f1_score(truth, predicted))
    assert m["Precision"] == pytest.approx(skm.precision_score(truth, predicted))
    assert m["Recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert m["AUC"] == pytest.approx(skm.roc_auc_score(truth, score)) == metrics["roc"][0]["auc"]
    assert m["LogLoss"] == pytest.approx(skm.log_loss(y, proba))
    assert 0.9 < m["Accuracy"] < 1 and m["AUC"] > 0.95  # a realistic model, not a perfect one
    assert metrics["confusion_matrix"] == {"labels": classes, "matrix": skm.confusion_matrix(y, predicted).tolist()}
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, predicted)
    for i, row in enumerate(metrics["per_class"]):
        assert (row["class"], row["support"]) == (classes[i], support[i])
        assert [row["precision"], row["recall"], row["f1"]] == pytest.approx([precision[i], recall[i], f1[i]])
    assert metrics["precision_recall"][0]["average_precision"] == pytest.approx(
        skm.average_precision_score(truth, score))
    fpr, tpr, _ = skm.roc_curve(truth, score)
    roc = metrics["roc"][0]
    assert len(roc["fpr"]) <= 200 and (roc["fpr"][0], roc["tpr"][-1]) == (fpr[0], tpr[-1])
    assert set(zip(roc["fpr"], roc["tpr"], strict=True)) <= set(zip(fpr.tolist(), tpr.tolist(), strict=True))

    cal = metrics["calibration"]
    prob_true, prob_pred = calibration_curve(truth, score, n_bins=10)
    assert cal["prob_true"] == pytest.approx(prob_true) and cal["prob_pred"] == pytest.approx(prob_pred)
    assert cal["brier"] == pytest.approx(skm.brier_score_loss(truth, score))

    deciles = metrics["gain_lift"]["deciles"]
    order = np.argsort(-score, kind="stable")
    top = truth[order[:57]].sum()  # 569 rows: the first decile holds rows 0..56
    assert (deciles[0]["rows"], deciles[0]["positives"]) == (57, top)
    assert deciles[0]["lift"] == pytest.approx(top / 57 / truth.mean())
    assert deciles[-1]["cumulative_gain"] == pytest.approx(1.0) and deciles[-1]["cumulative_lift"] == pytest.approx(1)
    assert sum(d["rows"] for d in deciles) == 569

    assert_images(tmp_path, CLASSIFIER_PNGS)
    assert "out-of-fold predictions" in report and "569 rows" in report and report.count("data:image/png") == 5


def test_weights_are_honoured_as_repeated_rows(tmp_path, binary):
    """Integer weights must give exactly the numbers of the rows repeated that often."""
    w = np.random.default_rng(1).integers(1, 4, len(binary.y)).astype(float)
    weighted = HeldOut(binary.problem_type, binary.classes, 1, binary.X, binary.y, w, binary.prediction, "rows")
    repeat = np.repeat(np.arange(len(w)), w.astype(int))
    repeated = HeldOut(binary.problem_type, binary.classes, 1, binary.X.iloc[repeat], binary.y[repeat], None,
                       binary.prediction[repeat], "rows")
    a, frame, _ = written(tmp_path / "weighted", weighted, "F1")
    b, _, _ = written(tmp_path / "repeated", repeated, "F1")
    assert frame["weight"].tolist() == w.tolist()
    plain = score_all(binary.problem_type, binary.y, binary.prediction, None, 1)
    assert a["metrics"]["LogLoss"] != pytest.approx(plain["LogLoss"])
    assert a["metrics"] == pytest.approx(b["metrics"])
    assert a["confusion_matrix"]["matrix"] == b["confusion_matrix"]["matrix"]
    assert [r["support"] for r in a["per_class"]] == [r["support"] for r in b["per_class"]]
    assert a["calibration"]["prob_true"] == pytest.approx(b["calibration"]["prob_true"])
    assert a["calibration"]["brier"] == pytest.approx(b["calibration"]["brier"])
    assert a["roc"][0]["auc"] == pytest.approx(b["roc"][0]["auc"])
    assert a["precision_recall"][0]["average_precision"] == pytest.approx(b["precision_recall"][0]["average_precision"])
    assert a["gain_lift"]["base_rate"] == pytest.approx(b["gain_lift"]["base_rate"])
    _, y, proba, predicted, weight = read_back(frame)
    assert a["metrics"]["F1"] == pytest.approx(skm.f1_score(y, predicted, sample_weight=weight))
    assert a["metrics"]["AUC"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1], sample_weight=weight))


def test_multiclass_metrics_per_class_curves_and_escaped_names(tmp_path, multiclass):
    metrics, frame, report = written(tmp_path, multiclass, "Accuracy")
    classes, y, proba, predicted, _ = read_back(frame)
    assert classes == ["<b>x</b>", "a$b", "virginica"]
    m = metrics["metrics"]
    assert set(m) == {"Accuracy", "BalancedAccuracy", "F1macro", "PrecisionMacro", "RecallMacro", "LogLoss"}
    assert m["Accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert m["F1macro"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert m["RecallMacro"] == pytest.approx(skm.recall_score(y, predicted, average="macro"))
    assert m["LogLoss"] == pytest.approx(skm.log_loss(y, proba))
    assert metrics["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, predicted).tolist()
    _, _, f1, _ = skm.precision_recall_fscore_support(y, predicted)
    assert [r["f1"] for r in metrics["per_class"]] == pytest.approx(f1)
    assert [c["class"] for c in metrics["roc"]] == classes
    for i, curve in enumerate(metrics["roc"]):
        assert curve["auc"] == pytest.approx(skm.roc_auc_score(y == i, proba[:, i]))
        assert metrics["precision_recall"][i]["average_precision"] == pytest.approx(
            skm.average_precision_score(y == i, proba[:, i]))
    assert metrics["gain_lift"] is None
    assert metrics["calibration"]["brier"] == pytest.approx(skm.brier_score_loss(y, proba, labels=[0, 1, 2]))
    prob_true, _ = calibration_curve(predicted == y, proba.max(axis=1), n_bins=10)
    assert metrics["calibration"]["prob_true"] == pytest.approx(prob_true)
    assert_images(tmp_path, CLASSIFIER_PNGS - {"gain_lift.png"})
    assert "&lt;b&gt;x&lt;/b&gt;" in report and "<b>x</b>" not in report


def test_regression_metrics_residuals_and_deciles(tmp_path, regression):
    metrics, frame, report = written(tmp_path, regression, "MSE")
    assert list(frame.columns) == ["true_value", "predicted_value"] and len(frame) == 442
    y, p = frame["true_value"].to_numpy(), frame["predicted_value"].to_numpy()
    m = metrics["metrics"]
    assert m["MSE"] == pytest.approx(skm.mean_squared_error(y, p))
    assert m["RMSE"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["MAE"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["R2"] == pytest.approx(skm.r2_score(y, p)) and 0.3 < m["R2"] < 0.7
    assert metrics["correlation"] == pytest.approx(np.corrcoef(p, y)[0, 1])
    residual = y - p
    assert metrics["residuals"]["mean"] == pytest.approx(residual.mean())
    assert metrics["residuals"]["std"] == pytest.approx(residual.std())
    median = np.quantile(residual, 0.5, method="inverted_cdf")
    assert metrics["residuals"]["quantiles"]["0.5"] == pytest.approx(median)
    assert metrics["residuals"]["quantiles"]["1"] == pytest.approx(residual.max())
    deciles = metrics["error_by_decile"]
    assert [d["rows"] for d in deciles] == np.bincount(10 * np.arange(442) // 442).tolist()  # equal parts
    lowest = np.argsort(p, kind="stable")[:45]
    assert deciles[0]["mae"] == pytest.approx(np.abs(residual[lowest]).mean())
    assert deciles[0]["max_predicted"] == pytest.approx(p[lowest].max())
    assert sum(d["mae"] * d["rows"] for d in deciles) / 442 == pytest.approx(m["MAE"])
    assert_images(tmp_path, {"predicted_vs_actual.png", "residuals.png"})
    assert report.count("data:image/png") == 2 and "442 rows" in report


def test_notes_name_a_class_never_predicted_and_poor_calibration(tmp_path, multiclass, binary):
    proba = multiclass.prediction.copy()
    proba[:, 2] = 0.0
    proba /= proba.sum(axis=1, keepdims=True)
    silent = HeldOut(multiclass.problem_type, multiclass.classes, 1, multiclass.X, multiclass.y, None, proba, "rows")
    _, _, report = written(tmp_path / "silent", silent, "Accuracy")
    assert "Class virginica is never predicted" in report
    squashed = 0.5 + 0.1 * (binary.prediction - 0.5)
    timid = HeldOut(binary.problem_type, binary.classes, 1, binary.X, binary.y, None, squashed, "rows")
    metrics, _, report = written(tmp_path / "timid", timid, "AUC")
    assert metrics["calibration"]["expected_calibration_error"] > 0.3
    assert "poorly calibrated" in report and "never predicted" not in report


def test_30k_weighted_rows_keep_every_row_in_the_metrics_and_thin_the_curves(tmp_path):
    """Timing belongs to benchmarks/reports.py; here: metrics on all rows, curves cut to at most 200 points."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30_000)
    p = np.clip(0.35 * y + rng.uniform(0, 0.65, len(y)), 0, 1)
    held = HeldOut(ProblemType.BINARY, ["no", "yes"], 1, pd.DataFrame({"x": p}), y, rng.uniform(0.5, 2, len(y)),
                   np.column_stack([1 - p, p]), "out-of-fold predictions")
    metrics = write_insights(str(tmp_path / "big"), held, candidate="c", objective="F1")
    assert metrics["rows"] == 30_000 and len(metrics["roc"][0]["fpr"]) <= 200
