"""SHAP values of a saved model, always over its original columns, within a deadline.

Tree candidates (a model, or a bag whose every fold is one) get exact tree SHAP on each fold's encoded matrix;
an encoded column's values sum into the original column it came from (SHAP is additive, so this stays exact).
Everything else (stacks, weighted ensembles, linear and neural candidates) gets shap's permutation explainer on
the original columns, masked through an exact float coding of them (`automl.reports.codes`), with the rows and
background sized to what the deadline allows. `shap` is imported inside the functions: it takes ~1.3 s.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.columns import coerce
from automl.model import BaggedModel, CandidateModel
from automl.problem import ProblemType
from automl.reports.codes import ColumnCodes

DEFAULT_ROWS = 1000
MIN_ROWS = 10  # fewer rows than this say nothing about a model: the caller reports insights without SHAP
BACKGROUND_ROWS = 50
MIN_BACKGROUND_ROWS = 10
PERMUTATIONS = 2  # forward-and-backward pairs per row (shap's default is 10); each pair already sums exactly
CHUNK_ROWS = 10
SAFETY = 0.8  # share of the time left that the next chunk's estimate may take


class ExplainTimeout(Exception):
    """The deadline leaves too little time to explain MIN_ROWS rows; the message says what it would cost."""


@dataclass
class Explanation:
    """`values[i, j]` (`[i, j, k]` per class for multiclass) is column j's share of row i's output; with
    `base_values` they add up to that output (`predicted()`), in the units `output` names."""

    columns: list[str]
    values: np.ndarray
    base_values: float | np.ndarray  # (classes,) for multiclass
    output: str  # "margin", "probability" or "value"
    method: str  # "tree-shap" or "permutation-shap"
    labels: list  # the explained outputs: the positive class (binary), every class (multiclass), none (regression)
    explains: str  # the output in words, for reports: bags explain the mean of their folds' margins
    frame: pd.DataFrame  # the explained rows' original columns, in their kinds' dtypes
    seconds: float

    @property
    def rows(self) -> int:
        return len(self.values)

    def predicted(self) -> np.ndarray:
        return self.base_values + self.values.sum(axis=1)

    def importance(self) -> pd.Series:
        """Mean |SHAP| per column (summed over classes), largest first: Clarify's global SHAP values."""
        magnitude = np.abs(self.values).mean(axis=0)
        if magnitude.ndim == 2:
            magnitude = magnitude.sum(axis=1)
        return pd.Series(magnitude, index=self.columns).sort_values(ascending=False, kind="stable")


def explain(model, X: pd.DataFrame, *, deadline: float, background: pd.DataFrame | None = None,
            max_rows: int = DEFAULT_ROWS) -> Explanation:
    """SHAP values of the first `max_rows` rows of X (fewer when the deadline, a time.time(), allows fewer for a
    model-agnostic explainer). `background` (default: X) is what a masked column is replaced by there."""
    start = time.time()
    if start >= deadline:
        raise ExplainTimeout("the deadline had passed before explaining began")
    frame = coerce(X.iloc[:max_rows], model.kinds).reset_index(drop=True)
    trees = _trees(model)
    if trees is not None:
        return _tree_shap(model, trees, frame, start)
    return _permutation_shap(model, frame, coerce(X if background is None else background, model.kinds),
                             deadline, start)


def _trees(model) -> list | None:
    """(fold, ShapTree) of every fold of a tree candidate or bag; None when any fold is not a tree ensemble."""
    folds = model.folds if isinstance(model, BaggedModel) else [model] if isinstance(model, CandidateModel) else []
    trees = [(fold, fold.algorithm.shap_tree()) for fold in folds]
    return trees if trees and all(tree is not None for _, tree in trees) else None


def _labels(model) -> list:
    if model.problem_type is ProblemType.MULTICLASS:
        return list(model.classes)
    return [model.classes[1]] if model.problem_type is ProblemType.BINARY else []


def _tree_shap(model, trees: list, frame: pd.DataFrame, start: float) -> Explanation:
    import shap

    values, bases = [], []
    for fold, tree in trees:
        encoded = fold.preprocessor.transform(frame)
        encoded = encoded.toarray() if hasattr(encoded, "toarray") else encoded
        explainer = shap.TreeExplainer(tree.model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lightgbm's notice that binary outputs changed shape in shap 0.45
            phi = np.asarray(explainer.shap_values(tree.data(encoded) if tree.data else encoded,
                                                   check_additivity=False))
        base = np.asarray(explainer.expected_value, dtype=float)
        if model.problem_type is ProblemType.BINARY and phi.ndim == 3:  # per-class probabilities (a forest)
            phi, base = phi[:, :, 1], base[1]
        values.append(_to_columns(phi, fold.preprocessor.source_columns(), list(model.kinds)))
        bases.append(base)
    output = trees[0][1].output
    return Explanation(list(model.kinds), np.mean(values, axis=0), _base(np.mean(bases, axis=0)), output,
                       "tree-shap", _labels(model), _tree_words(model, output, len(trees)), frame,
                       time.time() - start)


def _to_columns(phi: np.ndarray, sources: list[str], columns: list[str]) -> np.ndarray:
    """Encoded columns' values summed into their original column: (rows, columns[, classes])."""
    position = {c: j for j, c in enumerate(columns)}
    onto = np.zeros((len(sources), len(columns)))
    onto[np.arange(len(sources)), [position[s] for s in sources]] = 1.0
    return np.moveaxis(np.tensordot(phi, onto, axes=([1], [0])), -1, 1)


def _base(base: np.ndarray) -> float | np.ndarray:
    return float(base) if base.ndim == 0 else base


def _tree_words(model, output: str, folds: int) -> str:
    labels = _labels(model)
    if output == "value":
        words = "the predicted value"
    elif model.problem_type is ProblemType.MULTICLASS:
        words = "each class's raw score (softmax margin)" if output == "margin" else "each class's probability"
    else:
        words = (f"the log-odds of {labels[0]!r}" if output == "margin" else f"the probability of {labels[0]!r}")
    if folds == 1:
        return words
    words = f"the mean over the bag's {folds} folds of {words}"
    if output == "margin":
        words += " (the bag answers the mean of the folds' probabilities, not the probability of this mean margin)"
    return words


def _model_output(model):
    """The explained output of a frame: the positive class's probability, every class's, or the value."""
    if model.problem_type is ProblemType.BINARY:
        return lambda frame: model.predict_raw(frame)[:, 1]
    return model.predict_raw


def _seconds(function, argument) -> float:
    start = time.time()
    function(argument)
    return time.time() - start


def _permutation_shap(model, frame: pd.DataFrame, background: pd.DataFrame, deadline: float,
                      start: float) -> Explanation:
    import shap

    columns = list(model.kinds)
    background = background.sample(min(len(background), BACKGROUND_ROWS), random_state=0)
    codes = ColumnCodes.of([frame, background], model.kinds)
    output = _model_output(model)

    def predict(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(output(codes.decode(matrix)), dtype=float)

    masks = 2 * len(columns) + 1  # one permutation: every column switched on, then off again
    back = codes.encode(background)
    per_row = PERMUTATIONS * _seconds(predict, np.repeat(back, masks, axis=0))
    if MIN_ROWS * per_row > SAFETY * (deadline - time.time()):
        back = back[:max(MIN_BACKGROUND_ROWS, math.floor(len(back) * SAFETY * (deadline - time.time())
                                                          / (MIN_ROWS * per_row)))]
        per_row = PERMUTATIONS * _seconds(predict, np.repeat(back, masks, axis=0))
    left = deadline - time.time()
    if MIN_ROWS * per_row > SAFETY * left:
        raise ExplainTimeout(f"explaining {MIN_ROWS} rows takes ~{MIN_ROWS * per_row:.1f} s of model calls "
                             f"({PERMUTATIONS} permutations of {masks} masks over {len(back)} background rows a "
                             f"row) but {max(left, 0.0):.1f} s were left")
    explainer = shap.explainers.Permutation(predict, shap.maskers.Independent(back, max_samples=len(back)), seed=0)
    rows = codes.encode(frame)
    parts, done = [], 0
    while done < len(rows):
        count = min(len(rows) - done, CHUNK_ROWS, math.floor(SAFETY * (deadline - time.time()) / per_row))
        if count < 1:
            break
        began = time.time()
        parts.append(explainer(rows[done:done + count], max_evals=PERMUTATIONS * masks, batch_size=masks,
                               silent=True))
        per_row, done = (time.time() - began) / count, done + count
    if done < MIN_ROWS and done < len(rows):
        raise ExplainTimeout(f"only {done} of {len(rows)} rows were explained before the deadline "
                             f"(~{per_row:.2f} s a row)")
    values = np.concatenate([p.values for p in parts])
    base = np.asarray(parts[0].base_values, dtype=float)[0]
    labels = _labels(model)
    words = ("the predicted value" if not labels else f"the probability of {labels[0]!r}" if len(labels) == 1
             else "each class's probability")
    return Explanation(columns, values, _base(base), "value" if not labels else "probability", "permutation-shap",
                       labels, words, frame.iloc[:done], time.time() - start)


def top_contributions(model, frame: pd.DataFrame, k: int = 3, *, deadline: float,
                      background: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per row, its k largest contributions by magnitude as one `explanation` column holding a list of
    {"feature", "value", "shap"} (for multiclass, towards the class with the highest output): a list keeps the
    answer one column for any k, like `probabilities`. Raises ExplainTimeout unless every row is explained."""
    explanation = explain(model, frame, deadline=deadline, background=background, max_rows=len(frame))
    if explanation.rows < len(frame):
        raise ExplainTimeout(f"only {explanation.rows} of {len(frame)} rows were explained before the deadline")
    values = explanation.values
    if values.ndim == 3:
        values = values[np.arange(len(values)), :, explanation.predicted().argmax(axis=1)]
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    columns, cells = explanation.columns, explanation.frame
    answer = [[{"feature": columns[j], "value": _plain(cells.iat[i, j]), "shap": float(values[i, j])}
               for j in row] for i, row in enumerate(order)]
    return pd.DataFrame({"explanation": answer}, index=frame.index)


def _plain(value):
    """A cell as JSON holds it: missing as null, datetimes as ISO text, numpy scalars as Python ones."""
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value
