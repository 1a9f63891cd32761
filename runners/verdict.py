"""Whether a candidate whose training a deadline cut short is any better than a constant predictor.

A booster stopped after a round or two predicts the majority class everywhere, yet its AUC can look fine
(breast cancer, xgboost after 1 round per fold: AUC 0.952, Accuracy 0.6257, exactly the majority-class rate).
Such a candidate must not pass as a normal one: it ends Failed, so it is never the best nor an ensemble member.
The constant predictor (the class prior, or the mean) is scored with `score_all` on the same rows, so the
comparison is honest for every metric.
"""
from __future__ import annotations

import numpy as np

from automl.budget import Budget
from automl.metrics import METRICS, score_all
from automl.problem import ProblemType

TOLERANCE = 1e-9  # a score must beat the constant's by more than this


def constant_prediction(problem_type: ProblemType, y: np.ndarray, w: np.ndarray | None, classes: int) -> np.ndarray:
    """The class prior on every row (probabilities), or the mean (values), weighted like the scoring."""
    y = np.asarray(y)
    if problem_type.is_classification:
        prior = np.bincount(y.astype(int), weights=w, minlength=classes).astype(float)
        return np.tile(prior / prior.sum(), (len(y), 1))
    return np.full(len(y), np.average(y.astype(float), weights=w))


def constant_verdict(problem_type: ProblemType, y, prediction, w, positive_index: int, objective: str) -> str | None:
    """Why the prediction is no better than a constant predictor on the objective or on a label metric
    (Accuracy; R2 for regression), or None when it beats the constant on both."""
    classes = np.asarray(prediction).shape[1] if problem_type.is_classification else 0
    own = score_all(problem_type, y, prediction, w, positive_index)
    constant = score_all(problem_type, y, constant_prediction(problem_type, y, w, classes), w, positive_index)
    label = "Accuracy" if problem_type.is_classification else "R2"
    for name in dict.fromkeys((label, objective)):
        metric = METRICS[name]
        margin = TOLERANCE if metric.maximize else -TOLERANCE
        if not metric.better(own[name], constant[name] + margin):
            what = {"Accuracy": "the majority-class rate", "R2": "the mean's"}.get(name, "the constant's")
            return f"no better than a constant predictor ({name} {own[name]:.4g}, {what} {constant[name]:.4g})"
    return None


def cut_short_failure(budget: Budget, created: float, result: dict) -> str | None:
    """The failure reason of a finished candidate a deadline cut short to no better than a constant, or None."""
    verdict = result.get("constant_verdict")
    if not verdict:
        return None
    limit = ("MaxRuntimePerTrainingJobInSeconds" if created + budget.max_runtime_per_candidate_s < budget.deadline
             else "MaxAutoMLJobRuntimeInSeconds")
    rounds = [f["rounds"] for f in result.get("fold_facts", []) if "rounds" in f]
    grown = ""
    if rounds and len(set(rounds)) == 1:
        grown = f" after {rounds[0]} boosting round{'s' * (rounds[0] != 1)} per fold"
    elif rounds:
        grown = f" after {', '.join(map(str, rounds[:-1]))} and {rounds[-1]} boosting rounds in its folds"
    return f"cut short by {limit}{grown}: {verdict}"
