"""Problem types and modes (values are the API's strings), and Autopilot's inference of the problem type."""
from __future__ import annotations

from enum import Enum

import numpy as np
import pandas as pd


class ProblemType(str, Enum):
    BINARY = "BinaryClassification"
    MULTICLASS = "MulticlassClassification"
    REGRESSION = "Regression"

    @property
    def is_classification(self) -> bool:
        return self is not ProblemType.REGRESSION


class Mode(str, Enum):
    AUTO = "AUTO"
    ENSEMBLING = "ENSEMBLING"
    HYPERPARAMETER_TUNING = "HYPERPARAMETER_TUNING"
    FORECASTING = "FORECASTING"  # not an AutoMLMode: the runner of TimeSeriesForecastingJobConfig jobs


DEFAULT_OBJECTIVE = {
    ProblemType.REGRESSION: "MSE",
    ProblemType.BINARY: "F1",
    ProblemType.MULTICLASS: "Accuracy",
}

# An integer-valued numeric target with at most this many distinct values (and few relative to the rows)
# is read as class labels, as Autopilot and AutoGluon do; anything else numeric is a regression target.
MAX_INTEGER_CLASSES = 20
MAX_CLASS_RATIO = 0.1


def infer_problem_type(target: pd.Series) -> ProblemType:
    values = target.dropna()
    distinct = values.nunique()
    if distinct == 2:
        return ProblemType.BINARY
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and not pd.api.types.is_bool_dtype(values):
        integral = bool(np.all(np.mod(numeric.to_numpy(dtype=float), 1) == 0))
        if integral and distinct <= min(MAX_INTEGER_CLASSES, max(3, MAX_CLASS_RATIO * len(values))):
            return ProblemType.MULTICLASS
        return ProblemType.REGRESSION
    return ProblemType.MULTICLASS


_TRUE_LABELS = ("1", "1.0", "true", "yes", "y", "t", "positive", "pos")


def positive_class(labels: list, counts: list[int]):
    """The class binary metrics (F1, Precision, Recall, AUC) treat as positive.

    A label that reads as 1/true/yes is positive; otherwise the minority class is, as Autopilot encodes the
    least frequent label as 1. Ties go to the label that sorts last, so the choice is deterministic.
    """
    for label in labels:
        if str(label).strip().lower() in _TRUE_LABELS:
            return label
    fewest = min(counts)
    return max((label for label, count in zip(labels, counts, strict=True) if count == fewest), key=str)
