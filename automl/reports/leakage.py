"""How well each feature alone predicts the target on rows it was not fitted on: the leakage check.

A one-feature lookup table (a category's, or a quantile bin's, majority class or mean target) is fitted on one
half of the rows and scored on the other: a copy of the target scores ~1, while an id column, which memorises
the fitted half, scores no better than a constant on the unseen half. It is a depth-limited decision tree
without sklearn's per-column fitting cost: one `bincount` per feature.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.columns import ColumnKind

MAX_ROWS = 20_000
SEED = 0


def single_feature_scores(sample: pd.DataFrame, kinds: dict[str, ColumnKind], target: str,
                          classification: bool) -> dict[str, float]:
    """Held-out balanced accuracy (classification) or R2 (regression) of each feature alone."""
    labelled = sample[sample[target].notna()]
    if classification:
        y, classes = pd.factorize(labelled[target].astype(str))
        if len(classes) < 2:
            return {}
    else:
        y = pd.to_numeric(labelled[target], errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(y)
        labelled, y = labelled[keep], y[keep]
        if len(y) < 4 or np.var(y) == 0:
            return {}
    order = np.random.default_rng(SEED).permutation(len(y))[:MAX_ROWS]
    labelled, y = labelled.iloc[order], y[order]
    half = len(y) // 2
    fit, test = np.arange(half), np.arange(half, len(y))
    scores = {}
    for name, kind in kinds.items():
        values = labelled[name]
        codes = _codes(values, kind, len(y))
        if codes is None:
            continue
        if classification:
            score = _balanced_accuracy(codes, y, fit, test, len(classes))
        else:
            score = _r2(codes, y, fit, test)
            if kind is ColumnKind.NUMERIC:
                score = max(score, _linear_r2(values, y))
        scores[name] = float(score)
    return scores


def _codes(values: pd.Series, kind: ColumnKind, rows: int) -> np.ndarray | None:
    """Integer codes of a column: categories as themselves, numbers in quantile bins; missing as one more."""
    if kind is ColumnKind.NUMERIC:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        bins = min(64, max(8, rows // 100))
        finite = numbers[np.isfinite(numbers)]
        if not len(finite):
            return None
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        codes = np.searchsorted(edges, numbers, side="right")
        codes[~np.isfinite(numbers)] = len(edges) + 1
        return codes
    if kind is ColumnKind.DATETIME:
        return None
    codes, _ = pd.factorize(values.astype("string"), use_na_sentinel=True)
    return np.where(codes < 0, codes.max() + 1, codes)


def _balanced_accuracy(codes: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray, classes: int) -> float:
    groups = int(codes.max()) + 1
    table = np.bincount(codes[fit] * classes + y[fit], minlength=groups * classes).reshape(groups, classes)
    # Each group's most over-represented class, relative to its prior: the decision balanced accuracy rewards.
    priors = np.maximum(np.bincount(y[fit], minlength=classes), 1)
    lift = table / priors
    majority = np.where(table.sum(axis=1) > 0, lift.argmax(axis=1), priors.argmax())
    predicted, truth = majority[codes[test]], y[test]
    recalls = [np.mean(predicted[truth == c] == c) for c in range(classes) if np.any(truth == c)]
    return float(np.mean(recalls))


def _r2(codes: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray) -> float:
    groups = int(codes.max()) + 1
    counts = np.bincount(codes[fit], minlength=groups)
    sums = np.bincount(codes[fit], weights=y[fit], minlength=groups)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), y[fit].mean())
    truth = y[test]
    total = np.sum((truth - truth.mean()) ** 2)
    return float(1 - np.sum((truth - means[codes[test]]) ** 2) / total) if total > 0 else 0.0


def _linear_r2(values: pd.Series, target: np.ndarray) -> float:
    """A linear copy of a regression target scores exactly 1 here, whatever its bins lose."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(x)
    if keep.sum() < 3 or np.std(x[keep]) == 0:
        return 0.0
    return float(np.corrcoef(x[keep], target[keep])[0, 1] ** 2)
