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

    def prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame's columns in their kinds' dtypes (parsing dates is the slow part: models sharing columns
        do it once and pass the result on)."""
        missing = [c for c in self.kinds if c not in frame.columns]
        if missing:
            raise field_error("input", "lacks columns the model was trained on: " + ", ".join(missing[:20]))
        return coerce(frame, self.kinds)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities in class-code order for classification, values for regression."""
        return self.predict_prepared(self.prepared(frame))

    def predict_prepared(self, prepared: pd.DataFrame) -> np.ndarray:
        """predict_raw of a frame `prepared` already made (folds of one bag share it: coercing is half the cost
        of a one-row prediction)."""
        X = self.preprocessor.transform(prepared)
        if self.problem_type.is_classification:
            return self.algorithm.predict_proba(X)
        return self.algorithm.predict(X)

    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        return inference_answer(self.problem_type, self.classes, self.predict_raw(frame), frame.index)


@dataclass
class BaggedModel:
    """The fold models of one bagged candidate; the answer is their average."""

    problem_type: ProblemType
    classes: list
    folds: list[CandidateModel]

    @property
    def kinds(self) -> dict[str, ColumnKind]:
        return self.folds[0].kinds

    def prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.folds[0].prepared(frame)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        frame = self.prepared(frame)
        return sum(m.predict_prepared(frame) for m in self.folds) / len(self.folds)

    def infer(self, frame: pd.DataFrame) -> pd.DataFrame:
        return inference_answer(self.problem_type, self.classes, self.predict_raw(frame), frame.index)


def stack_features(problem_type: ProblemType, predictions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns a stack layer adds for the next one: each model's positive-class probability (binary),
    every class probability (multiclass) or value (regression)."""
    columns = {}
    for name, p in predictions.items():
        if problem_type is ProblemType.MULTICLASS:
            columns |= {f"__stack:{name}:{j}": p[:, j] for j in range(p.shape[1])}
        else:
            columns[f"__stack:{name}"] = p[:, 1] if p.ndim == 2 else p
    return columns


@dataclass
class StackModel:
    """Layers of saved candidates (by model file) and the weights of the ones that answer.

    Each layer after the first sees the frame plus every model of the layer before (`stack_features`). Only the
    layers up to the deepest weighted model run. Members are loaded from their own candidate's artifact on
    first use, so a stack of many models stores each of them once. Their paths are relative to the job's output
    folder (`root_`, set by whoever builds or loads the stack): the folder can be moved or shipped whole.
    """

    problem_type: ProblemType
    classes: list
    layers: list[dict[str, str]]  # candidate name -> model file relative to the job output folder, per layer
    weights: dict[str, float]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("loaded_", "root_")}

    def members_in(self, job_output: str) -> StackModel:
        self.root_ = job_output
        self.__dict__.pop("loaded_", None)
        return self

    def _model(self, name: str, path: str):
        from automl.artifacts import load_model
        from automl.channels import join_uri

        self.__dict__.setdefault("loaded_", {})
        if name not in self.loaded_:
            self.loaded_[name] = load_model(join_uri(self.root_, path))
        return self.loaded_[name]

    @property
    def kinds(self) -> dict[str, ColumnKind]:
        """The columns of the first layer's models: the frame every layer starts from."""
        return self._model(*next(iter(self.layers[0].items()))).kinds

    @property
    def depth(self) -> int:
        """How many layers run: up to the deepest one holding a weighted model (1: a plain weighted average of
        the first layer's models)."""
        return max(i for i, layer in enumerate(self.layers, start=1) if set(layer) & set(self.weights))

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        depth = self.depth
        first = next(iter(self.layers[0].items()))
        total, features = 0.0, self._model(*first).prepared(frame)
        for level, layer in enumerate(self.layers[:depth], start=1):
            names = list(layer) if level < depth else [n for n in layer if n in self.weights]
            predictions = {n: self._model(n, layer[n]).predict_raw(features) for n in names}
            total = total + sum(self.weights.get(n, 0.0) * p for n, p in predictions.items())
            if level < depth:
                features = features.assign(**stack_features(self.problem_type, predictions))
        return total

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
