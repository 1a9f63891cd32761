"""Train/validation split: the validation channel when given, else a seeded ValidationFraction hold-out,
stratified for classification (falling back to a plain shuffle when a class is too small to stratify);
and the k folds that bagging holds out in turn."""
from __future__ import annotations

import numpy as np

SEED = 0


def holdout_indices(y: np.ndarray, fraction: float, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split  # here: the API imports this module, the CLI the API

    index = np.arange(len(y))
    stratify = None
    if classification:
        _, counts = np.unique(y, return_counts=True)
        n_valid = int(np.ceil(fraction * len(y)))
        if counts.min() >= 2 and n_valid >= len(counts):
            stratify = y
    train, valid = train_test_split(index, test_size=fraction, random_state=SEED, stratify=stratify)
    return np.sort(train), np.sort(valid)


def fold_indices(y: np.ndarray, k: int, classification: bool) -> list[np.ndarray]:
    """The held-out rows of each of k folds (seeded; stratified when every class has at least k rows)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if classification and np.unique(y, return_counts=True)[1].min() >= k:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED)
    else:
        splitter = KFold(n_splits=k, shuffle=True, random_state=SEED)
    return [np.sort(held) for _, held in splitter.split(np.zeros(len(y)), y)]
