"""Metric values against scikit-learn, directions, defaults and the positive-class rule."""
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from automl.errors import ValidationException
from automl.metrics import METRICS, TIME_SERIES_METRICS, candidate_metrics, objective_metric, score_all
from automl.problem import DEFAULT_OBJECTIVE, ProblemType, infer_problem_type, positive_class

rng = np.random.default_rng(0)


def test_every_tabular_metric_of_the_api_is_defined():
    from automl.contract import service_model

    api = set(service_model().shape_for("AutoMLMetricEnum").enum)
    assert set(METRICS) == api - set(TIME_SERIES_METRICS)
    assert set(TIME_SERIES_METRICS) <= api
    assert {DEFAULT_OBJECTIVE[p] for p in ProblemType} == {"MSE", "F1", "Accuracy"}
    assert DEFAULT_OBJECTIVE[ProblemType.BINARY] == "F1"
    assert [m.name for m in candidate_metrics(ProblemType.MULTICLASS)] == [
        "Accuracy", "BalancedAccuracy", "F1macro", "PrecisionMacro", "RecallMacro", "LogLoss"]
    assert not METRICS["MSE"].maximize and METRICS["R2"].maximize and METRICS["AUC"].maximize


def test_binary_metrics_use_the_positive_class():
    y = rng.integers(0, 2, 300)
    p1 = np.clip(y * 0.6 + rng.random(300) * 0.5, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    for positive in (0, 1):
        scores = score_all(ProblemType.BINARY, y, proba, None, positive)
        labels = (p1 >= 0.5).astype(int)
        assert scores["F1"] == pytest.approx(skm.f1_score(y, labels, pos_label=positive))
        assert scores["Precision"] == pytest.approx(skm.precision_score(y, labels, pos_label=positive))
        assert scores["Recall"] == pytest.approx(skm.recall_score(y, labels, pos_label=positive))
        assert scores["AUC"] == pytest.approx(skm.roc_auc_score(y == positive, proba[:, positive]))
    assert scores["LogLoss"] == pytest.approx(skm.log_loss(y, proba))


def test_multiclass_and_regression_values_with_weights():
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    w = rng.random(200)
    scores = score_all(ProblemType.MULTICLASS, y, proba, w)
    assert scores["F1macro"] == pytest.approx(skm.f1_score(y, proba.argmax(1), average="macro", sample_weight=w))
    assert scores["BalancedAccuracy"] == pytest.approx(skm.balanced_accuracy_score(y, proba.argmax(1),
                                                                                  sample_weight=w))
    t, p = rng.normal(size=100), rng.normal(size=100)
    scores = score_all(ProblemType.REGRESSION, t, p)
    assert scores["RMSE"] == pytest.approx(np.sqrt(skm.mean_squared_error(t, p)))
    assert scores["R2"] == pytest.approx(skm.r2_score(t, p))
    assert scores["MAE"] == pytest.approx(skm.mean_absolute_error(t, p))


def test_positive_class_rule():
    assert positive_class(["no", "yes"], [900, 100]) == "yes"
    assert positive_class([0, 1], [100, 900]) == 1
    assert positive_class(["benign", "malignant"], [357, 212]) == "malignant"
    assert positive_class(["a", "b"], [5, 5]) == "b"


def test_objective_checked_against_problem_type():
    with pytest.raises(ValidationException, match="AutoMLJobObjective.MetricName: is not valid for ProblemType "
                                                  "MulticlassClassification"):
        objective_metric("AUC", ProblemType.MULTICLASS)


def test_problem_type_inference():
    assert infer_problem_type(pd.Series(["a", "b", "a"] * 200)) is ProblemType.BINARY
    assert infer_problem_type(pd.Series([1, 2, 3, 4] * 200)) is ProblemType.MULTICLASS
    assert infer_problem_type(pd.Series(["x", "y", "z"] * 200)) is ProblemType.MULTICLASS
    assert infer_problem_type(pd.Series(np.linspace(0, 1, 600))) is ProblemType.REGRESSION
    assert infer_problem_type(pd.Series(range(600))) is ProblemType.REGRESSION
