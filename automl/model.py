"""A saved candidate: its fitted preprocessing and algorithm, answering in Autopilot's inference keys.

Classification answers `predicted_label`, `probability` (of that label), `probabilities` and `labels`
(every class, in one fixed order); regression answers `predicted_label`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from automl.columns import ColumnKind, coerce
from automl.errors import field_error
from automl.problem import ProblemType


@dataclass
class CandidateModel:
    problem_type: ProblemType
    kinds: dict[str, ColumnKind]
    classes: list
    preprocessor: object
    algorithm: object

    def _features(self, frame: pd.DataFrame):
        missing = [c for c in self.kinds if c not in frame.columns]
        if missing:
            raise field_error("input", "lacks columns the model was trained on: " + ", ".join(missing[:20]))
        return self.preprocessor.transform(coerce(frame, self.kinds))

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities in class-code order for classification, values for regression."""
        X = self._features(frame)
        if self.problem_type.is_classification:
            return self.algorithm.predict_proba(X)
        return self.algorithm.predict(X)

    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        return inference_answer(self.problem_type, self.classes, self.predict_raw(frame), frame.index)


@dataclass
class EnsembleModel:
    """A weighted average of saved candidates' predictions (weights from ensemble selection)."""

    problem_type: ProblemType
    classes: list
    members: list[CandidateModel]
    weights: list[float]

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        return sum(w * m.predict_raw(frame) for w, m in zip(self.weights, self.members))

    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        return inference_answer(self.problem_type, self.classes, self.predict_raw(frame), frame.index)


def inference_answer(problem_type: ProblemType, classes: list, raw: np.ndarray, index) -> pd.DataFrame:
    if not problem_type.is_classification:
        return pd.DataFrame({"predicted_label": raw}, index=index)
    labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
    best = raw.argmax(axis=1)
    return pd.DataFrame({
        "predicted_label": [labels[i] for i in best],
        "probability": raw[np.arange(len(raw)), best],
        "probabilities": [list(map(float, row)) for row in raw],
        "labels": [labels] * len(raw),
    }, index=index)
