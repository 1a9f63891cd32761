"""Every tabular metric of the API: a `Metric` record per API name (direction, what it is computed from).

Classification metrics take the probability matrix (columns = classes in encoded order); label metrics
threshold it by argmax, which for binary is the 0.5 cut on the positive class.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from automl.errors import field_error
from automl.problem import ProblemType

BIN, MULTI, REG = ProblemType.BINARY, ProblemType.MULTICLASS, ProblemType.REGRESSION


@dataclass(frozen=True)
class Metric:
    name: str
    problem_types: frozenset
    maximize: bool
    fn: Callable  # fn(y_true, prediction, weight, positive_index) -> float

    @property
    def objective_type(self) -> str:
        return "Maximize" if self.maximize else "Minimize"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximize else a < b

    def sort_key(self, value: float) -> float:
        """Smaller is better, for sorting; a missing value sorts last."""
        if value is None or not np.isfinite(value):
            return float("inf")
        return -value if self.maximize else value


def _sk(name: str):
    """A scikit-learn metric, imported at the first score: the CLI and the API read this module for the metric
    names and defaults, and importing scikit-learn costs each command a second."""
    from sklearn import metrics

    return getattr(metrics, name)


def _labels(proba):
    return np.asarray(proba).argmax(axis=1)


def _binary(name: str):
    return lambda y, p, w, pos: _sk(name)((np.asarray(y) == pos).astype(int), (_labels(p) == pos).astype(int),
                                   sample_weight=w, zero_division=0)


def _macro(name: str):
    return lambda y, p, w, pos: _sk(name)(y, _labels(p), average="macro", sample_weight=w, zero_division=0,
                                   labels=np.arange(np.asarray(p).shape[1]))


def _auc(y, p, w, pos):
    y_pos = (np.asarray(y) == pos).astype(int)
    if len(np.unique(y_pos)) < 2:
        return float("nan")
    return _sk("roc_auc_score")(y_pos, np.asarray(p)[:, pos], sample_weight=w)


def _log_loss(y, p, w, pos):
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    return _sk("log_loss")(y, p / p.sum(axis=1, keepdims=True), sample_weight=w, labels=np.arange(p.shape[1]))


_METRICS = [
    Metric("Accuracy", frozenset({BIN, MULTI}), True,
           lambda y, p, w, pos: _sk("accuracy_score")(y, _labels(p), sample_weight=w)),
    Metric("BalancedAccuracy", frozenset({BIN, MULTI}), True,
           lambda y, p, w, pos: _sk("balanced_accuracy_score")(y, _labels(p), sample_weight=w)),
    Metric("AUC", frozenset({BIN}), True, _auc),
    Metric("F1", frozenset({BIN}), True, _binary("f1_score")),
    Metric("Precision", frozenset({BIN}), True, _binary("precision_score")),
    Metric("Recall", frozenset({BIN}), True, _binary("recall_score")),
    Metric("F1macro", frozenset({MULTI}), True, _macro("f1_score")),
    Metric("PrecisionMacro", frozenset({MULTI}), True, _macro("precision_score")),
    Metric("RecallMacro", frozenset({MULTI}), True, _macro("recall_score")),
    Metric("MAE", frozenset({REG}), False, lambda y, p, w, pos: _sk("mean_absolute_error")(y, p, sample_weight=w)),
    Metric("MSE", frozenset({REG}), False, lambda y, p, w, pos: _sk("mean_squared_error")(y, p, sample_weight=w)),
    Metric("RMSE", frozenset({REG}), False,
           lambda y, p, w, pos: float(np.sqrt(_sk("mean_squared_error")(y, p, sample_weight=w)))),
    Metric("R2", frozenset({REG}), True, lambda y, p, w, pos: _sk("r2_score")(y, p, sample_weight=w)),
]
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
# Reported for every candidate besides the problem type's own metrics (CandidateMetrics), never an objective.
LOG_LOSS = Metric("LogLoss", frozenset({BIN, MULTI}), False, _log_loss)
TIME_SERIES_METRICS = ("MAPE", "MASE", "WAPE", "AverageWeightedQuantileLoss")


def metrics_for(problem_type: ProblemType) -> list[Metric]:
    return [m for m in _METRICS if problem_type in m.problem_types]


def candidate_metrics(problem_type: ProblemType) -> list[Metric]:
    """The fixed set every candidate reports: the problem type's metrics, plus LogLoss for classification."""
    extra = [LOG_LOSS] if problem_type.is_classification else []
    return metrics_for(problem_type) + extra


def objective_metric(name: str, problem_type: ProblemType, path: str = "AutoMLJobObjective.MetricName") -> Metric:
    metric = METRICS.get(name)
    if metric is None or problem_type not in metric.problem_types:
        valid = ", ".join(m.name for m in metrics_for(problem_type))
        raise field_error(path, f"is not valid for ProblemType {problem_type.value}; valid metrics: {valid}", name)
    return metric


def score_all(problem_type: ProblemType, y_true, prediction, weight=None, positive_index: int = 1) -> dict:
    """Every candidate metric of the problem type; a metric that cannot be computed is NaN, never an error."""
    scores = {}
    for metric in candidate_metrics(problem_type):
        try:
            scores[metric.name] = float(metric.fn(y_true, prediction, weight, positive_index))
        except ValueError:
            scores[metric.name] = float("nan")
    return scores
