"""The plug-in contract every algorithm module fulfils.

An algorithm gets features already preprocessed for its `preprocessing` style ("tree": ordinal categories,
NaN kept; "linear": imputed, scaled, one-hot) and class codes 0..K-1 as targets. `__init__` only stores its
arguments; `fit` returns self and leaves fitted state in attributes ending in `_`. Third-party libraries are
imported inside the methods so that listing the registry stays cheap.

The tuning mode's algorithms also take `progress(step, loss)`: they call it as their training advances, with
`step` the share of their full resource spent (in percent: boosting rounds, epochs, or rows seen) and the
validation loss there (log loss, or RMSE for regression), so that a pruner can stop a weak trial early by
raising `Pruned` from it.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from automl.problem import ProblemType

MAX_BOOSTING_ROUNDS = 10000
EARLY_STOPPING_ROUNDS = 50
FULL_RESOURCE = 100  # `progress` steps run 1..FULL_RESOURCE

Progress = Callable[[int, float], None]


class Pruned(Exception):
    """Raised by a `progress` callback to end a trial the pruner judged hopeless."""


@dataclass(frozen=True)
class Task:
    problem_type: ProblemType
    n_classes: int  # 0 for regression
    threads: int = 1
    seed: int = 0
    categorical_features: tuple[int, ...] = ()  # column indices holding ordinal category codes

    @property
    def is_classification(self) -> bool:
        return self.problem_type.is_classification


@dataclass(frozen=True)
class ShapTree:
    """A fitted tree ensemble `shap.TreeExplainer` reads exactly, and what its SHAP values add up to: "margin"
    (log-odds for binary, per class for multiclass), "probability" (per class) or "value" (regression)."""

    model: object
    output: str
    data: Callable | None = None  # the encoded matrix as the explainer's library takes it, when not an array


class Algorithm(ABC):
    name: ClassVar[str]
    modes: ClassVar[tuple[str, ...]]
    problem_types: ClassVar[frozenset] = frozenset(ProblemType)
    preprocessing: ClassVar[str] = "tree"

    def __init__(self, task: Task, params: dict | None = None):
        self.task = task
        self.params = params

    @classmethod
    @abstractmethod
    def default_params(cls, task: Task) -> dict:
        """Strong out-of-the-box settings for this task."""

    @classmethod
    def portfolio(cls, task: Task) -> list[dict]:
        """Proven alternative configurations, tried after the defaults when time allows."""
        return []

    @classmethod
    def search_space(cls, task: Task) -> dict:
        """Optuna distributions by parameter name, for the tuning mode."""
        return {}

    @property
    def resolved_params(self) -> dict:
        return {**self.default_params(self.task), **(self.params or {})}

    @abstractmethod
    def fit(self, X, y, *, sample_weight=None, eval_set=None, deadline: float | None = None) -> Algorithm:
        """`eval_set` is (X, y, weight) for early stopping; `deadline` is a time.time() to stop growing by."""

    @abstractmethod
    def _predict_raw(self, X) -> np.ndarray:
        """Class probabilities (n, K) for classification, values (n,) for regression."""

    def predict_proba(self, X) -> np.ndarray:
        proba = np.asarray(self._predict_raw(X), dtype=float)
        if proba.ndim == 1:
            proba = np.column_stack([1 - proba, proba])
        return proba

    def predict(self, X) -> np.ndarray:
        if self.task.is_classification:
            return self.predict_proba(X).argmax(axis=1)
        return np.asarray(self._predict_raw(X), dtype=float)

    def shap_tree(self) -> ShapTree | None:
        """The model as exact tree SHAP sees it; None where only a model-agnostic explainer applies."""
        return None

    def describe_fit(self) -> dict:
        """Facts about the fitted model worth recording in the candidate definition (e.g. rounds used)."""
        return {}

    @classmethod
    def memory_bytes(cls, rows: int, columns: int, params: dict) -> int:
        """A rough peak for one fitted model (data copies and binning included), for the planner."""
        return 4 * 8 * rows * max(1, columns)

    @classmethod
    def refit_params(cls, facts: list[dict]) -> dict:
        """Parameters for a fit on all rows with no validation fold, from the bagged folds' `describe_fit`."""
        return {}

    @classmethod
    def final_fit(cls, fit: dict) -> tuple[float, dict]:
        """How tuning's final fit on more rows differs from the trial that found the pipeline, from the trial's
        `describe_fit`: the share of the trial's work it repeats per row (a booster grows its rounds again on
        every row: all of it) and the parameters it changes."""
        return 1.0, {}


class Boosting(Algorithm):
    """Boosters stop early on the validation fold; a refit on all rows grows the folds' mean round count."""

    @property
    def raw_output(self) -> str:
        """What a booster's raw score is: the margin of a class, or the value itself for regression."""
        return "margin" if self.task.is_classification else "value"

    DEFAULT_ROUNDS: ClassVar[int] = 300  # without a validation fold or a refit count

    def rounds(self, params: dict, validated: bool) -> tuple[int, bool]:
        """(rounds to grow, whether to stop early); pops the refit's fixed count from `params`."""
        fixed = params.pop("rounds", None)
        if fixed is not None:
            return int(fixed), False
        return (MAX_BOOSTING_ROUNDS, True) if validated else (self.DEFAULT_ROUNDS, False)

    @classmethod
    def refit_params(cls, facts: list[dict]) -> dict:
        return {"rounds": max(1, int(round(float(np.mean([f["rounds"] for f in facts])))))}


def past(deadline: float | None) -> bool:
    return deadline is not None and time.time() >= deadline


def validation_loss(task: Task, prediction: np.ndarray, y, weight=None) -> float:
    """The loss `progress` reports: log loss of class probabilities, or RMSE of values."""
    y = np.asarray(y)
    if task.is_classification:
        proba = np.clip(np.asarray(prediction, dtype=float), 1e-15, 1.0)
        if proba.ndim == 1:
            proba = np.column_stack([1 - proba, proba])
        losses = -np.log(proba[np.arange(len(y)), y.astype(int)])
    else:
        losses = (np.asarray(prediction, dtype=float) - y) ** 2
    mean = float(np.average(losses, weights=weight))
    return mean if task.is_classification else float(np.sqrt(mean))
