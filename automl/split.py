"""Train/validation split: the validation channel when given, else a seeded ValidationFraction hold-out,
stratified for classification (falling back to a plain shuffle when a class is too small to stratify)."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

SEED = 0


def holdout_indices(y: np.ndarray, fraction: float, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(len(y))
    stratify = None
    if classification:
        _, counts = np.unique(y, return_counts=True)
        n_valid = int(np.ceil(fraction * len(y)))
        if counts.min() >= 2 and n_valid >= len(counts):
            stratify = y
    train, valid = train_test_split(index, test_size=fraction, random_state=SEED, stratify=stratify)
    return np.sort(train), np.sort(valid)
