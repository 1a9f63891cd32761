"""What a candidate was scored on: the rows no model of it saw in training, and its predictions of them.

A runner knows where these come from (out-of-fold predictions of a bag, the validation channel, the tuning
mode's validation rows); the reports only read them, so model insights agree with the metrics Describe shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.problem import ProblemType


def sample_positions(n: int, cap: int, seed: int = 0) -> np.ndarray:
    """At most `cap` of n positions, in order, drawn without replacement (the same draw for the same seed)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def sampled(source: str, kept: int, of: int) -> str:
    return source if kept == of else f"{source} (a seeded sample of {kept:,} of {of:,} rows)"


@dataclass(frozen=True)
class HeldOut:
    problem_type: ProblemType
    classes: list  # original labels in class-code order; empty for regression
    positive_index: int
    X: pd.DataFrame  # the original feature columns, in their kinds' dtypes
    y: np.ndarray  # class codes, or values
    w: np.ndarray | None
    prediction: np.ndarray  # probabilities (rows, classes) in class-code order, or values
    source: str  # how a reader should call these rows: "out-of-fold predictions", "the validation channel", ...

    def sample(self, rows: int, seed: int = 0) -> HeldOut:
        """At most `rows` of them, drawn without replacement (the same draw for the same seed)."""
        if len(self.y) <= rows:
            return self
        keep = sample_positions(len(self.y), rows, seed)
        return HeldOut(self.problem_type, self.classes, self.positive_index, self.X.iloc[keep].reset_index(drop=True),
                       self.y[keep], None if self.w is None else self.w[keep], self.prediction[keep], self.source)
