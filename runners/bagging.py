"""k-fold bagging of one candidate, inside the executor's child process.

Each fold model is fitted (preprocessing included) on the other folds' rows, stops early on its own held-out
fold, and predicts that fold: the out-of-fold (OOF) predictions. A row's OOF prediction therefore never comes
from a model that saw the row. The bag (average of its fold models) is scored on the OOF rows, or on the
user's validation channel when there is one, as Autopilot does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from automl.artifacts import JobOutput, dump_model, public_uri
from automl.columns import ColumnKind
from automl.dataset import Dataset
from automl.metrics import score_all
from automl.model import BaggedModel, stack_features
from automl.problem import ProblemType
from automl.split import fold_indices
from runners.training import fit_model, save, soft_deadline, speed, stack_model, stack_speed
from runners.verdict import constant_verdict

MIN_FOLDS, MAX_FOLDS = 2, 10


@dataclass
class LayerData:
    """The rows one stack layer bags (saved once per layer in the job's scratch folder)."""

    level: int
    problem_type: ProblemType
    kinds: dict[str, ColumnKind]
    classes: list
    positive_index: int
    X: pd.DataFrame
    y: np.ndarray
    w: np.ndarray | None
    folds: list[np.ndarray]
    X_score: pd.DataFrame | None = None  # the user's validation channel, when given
    y_score: np.ndarray | None = None
    w_score: np.ndarray | None = None
    scored_folds: list[int] = field(default_factory=list)  # folds every candidate of this job fits

    def scoring(self, oof: np.ndarray, score_prediction: np.ndarray | None):
        """(y, w, prediction) the candidate is scored and ensembles are selected on."""
        if self.X_score is not None:
            return self.y_score, self.w_score, score_prediction
        rows = self.scored_rows
        return self.y[rows], None if self.w is None else self.w[rows], oof[rows]

    @property
    def scored_rows(self) -> np.ndarray:
        return np.sort(np.concatenate([self.folds[i] for i in self.scored_folds]))


DEFAULT_FOLDS = 5


def fold_count(validation_fraction: float) -> int:
    """ValidationFraction 0.2 (the default) holds out a fifth of the rows in each of 5 folds; with a validation
    channel (no fraction) the training channel is bagged in the default 5 folds."""
    if not validation_fraction:
        return DEFAULT_FOLDS
    return int(min(MAX_FOLDS, max(MIN_FOLDS, round(1 / validation_fraction))))


def first_layer(dataset: Dataset, k: int) -> LayerData:
    """Without a validation channel the hold-out rejoins the training rows: every row is bagged and scored
    out of fold. With one, the training channel is bagged and the validation channel scores."""
    if dataset.validation_given:
        X, y, w = dataset.X_train, dataset.y_train, dataset.w_train
        score = dict(X_score=dataset.X_valid, y_score=dataset.y_valid, w_score=dataset.w_valid)
    else:
        X = pd.concat([dataset.X_train, dataset.X_valid], ignore_index=True)
        y = np.concatenate([dataset.y_train, dataset.y_valid])
        w = None if dataset.w_train is None else np.concatenate([dataset.w_train, dataset.w_valid])
        score = {}
    folds = fold_indices(y, k, dataset.problem_type.is_classification)
    return LayerData(1, dataset.problem_type, dict(dataset.kinds), dataset.classes, dataset.positive_index,
                     X.reset_index(drop=True), y, w, folds, **score)


def next_layer(data: LayerData, oof: dict[str, np.ndarray], score: dict[str, np.ndarray]) -> LayerData:
    """The next layer sees the original columns plus the previous layer's out-of-fold predictions (on the
    validation channel: the bags' predictions), with the same folds so no row leaks into its own fold."""
    added = stack_features(data.problem_type, oof)
    X_score = None
    if data.X_score is not None:
        X_score = data.X_score.assign(**stack_features(data.problem_type, score))
    kinds = data.kinds | {c: ColumnKind.NUMERIC for c in added}
    return LayerData(data.level + 1, data.problem_type, kinds, data.classes, data.positive_index,
                     data.X.assign(**added), data.y, data.w, data.folds, X_score, data.y_score, data.w_score,
                     list(data.scored_folds))


@dataclass(frozen=True)
class Scratch:
    """Where a job's fold models and predictions wait between child processes."""

    root: Path

    def layer(self, level: int) -> Path:
        return self.root / f"layer{level}.joblib"

    def fold_model(self, candidate: str, fold: int) -> Path:
        return self.root / "folds" / candidate / f"{fold}.joblib"

    def oof(self, candidate: str) -> Path:
        return self.root / "oof" / f"{candidate}.npy"

    def score(self, candidate: str) -> Path:
        return self.root / "score" / f"{candidate}.npy"

    def save(self, path: Path, value) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".npy":
            np.save(path, value)
        else:
            joblib.dump(value, path)


def fit_folds(defn: dict, cls: type, scratch: Scratch, folds: list[int], soft_end: float, output: JobOutput,
              threads: int, hard_deadline: float, assemble: bool = True) -> dict:
    """Fit the given folds (each gets an equal share of the time to `soft_end`), then combine every scored fold
    of the layer (fitted by this call or an earlier one) into the saved bagged candidate. Without `assemble`
    the folds are only fitted and saved (a cluster fits a bag's folds side by side; one more call, with no
    folds of its own and every fold's facts in the definition, assembles the bag)."""
    start = time.time()
    data: LayerData = joblib.load(scratch.layer(defn["Level"]))
    soft_end = min(soft_end, soft_deadline(start, hard_deadline))
    name, facts = defn["CandidateName"], []
    for left, fold in zip(range(len(folds), 0, -1), folds, strict=True):
        deadline = time.time() + max(0.0, soft_end - time.time()) / left
        model, fact = _fit_fold(defn, cls, data, fold, threads, deadline)
        facts.append(fact)
        scratch.save(scratch.fold_model(name, fold), model)
    if not assemble:
        return {"fit_s": time.time() - start, "fold_facts": facts}
    facts = defn.get("FoldFacts", []) + facts
    cut_short = any(f["cut_short"] for f in facts)  # the probe's fold counts too
    result = {"fit_s": time.time() - start, "cut_short": cut_short, "fold_facts": facts}
    return result | _assemble(defn | {"FoldFacts": facts}, data, scratch, output, cut_short)


@dataclass(frozen=True)
class FitFolds:
    """The executor's task for `fit_folds`."""

    definition: dict
    algorithm: type
    scratch: Scratch
    folds: tuple[int, ...]
    soft_end: float
    output: JobOutput
    threads: int
    assemble: bool = True

    def run(self, deadline: float) -> dict:
        return fit_folds(self.definition, self.algorithm, self.scratch, list(self.folds), self.soft_end,
                         self.output, self.threads, deadline, self.assemble)


def _rows(data: LayerData, rows: np.ndarray) -> tuple:
    return data.X.iloc[rows], data.y[rows], None if data.w is None else data.w[rows]


def _fit_fold(defn: dict, cls: type, data: LayerData, fold: int, threads: int, deadline: float):
    began = time.time()
    held = data.folds[fold]
    kept = np.setdiff1d(np.arange(len(data.y)), held, assume_unique=True)
    model = fit_model(cls, defn["Hyperparameters"], data.problem_type, data.kinds, data.classes, threads,
                      _rows(data, kept), _rows(data, held), deadline)
    return model, {"fold": fold, "fit_s": time.time() - began, "cut_short": time.time() >= deadline,
                   **model.algorithm.describe_fit()}


def _assemble(defn: dict, data: LayerData, scratch: Scratch, output: JobOutput, cut_short: bool) -> dict:
    name = defn["CandidateName"]
    models = [joblib.load(scratch.fold_model(name, f)) for f in data.scored_folds]
    oof = None
    for fold, model in zip(data.scored_folds, models, strict=True):
        piece = model.predict_raw(data.X.iloc[data.folds[fold]])
        if oof is None:
            oof = np.full((len(data.y), *piece.shape[1:]), np.nan)
        oof[data.folds[fold]] = piece
    scratch.save(scratch.oof(name), oof)
    bag = BaggedModel(data.problem_type, data.classes, models)
    score_prediction = None
    if data.X_score is not None:
        score_prediction = bag.predict_raw(data.X_score)
        scratch.save(scratch.score(name), score_prediction)
    y, w, prediction = data.scoring(oof, score_prediction)
    metrics = score_all(data.problem_type, y, prediction, w, data.positive_index)
    verdict = (constant_verdict(data.problem_type, y, prediction, w, data.positive_index, defn["ObjectiveMetric"])
               if cut_short else None)
    frame = data.X_score if data.X_score is not None else data.X
    measured = speed(bag, frame)
    model, stacked = bag, {}
    if data.level > 1:
        # A stacked bag needs the layers below to make its input columns: the candidate is the whole stack,
        # and its speed adds theirs (measured when they were trained) to its own.
        dump_model(output.bag(name), bag)
        layers = [*defn["StackedOn"], {name: public_uri(output.bag(name))}]
        model = stack_model(output, data.problem_type, data.classes, layers, {name: 1.0})
        stacked = {"bag_uri": public_uri(output.bag(name))}
        measured = {k: v + defn["StackedOnSpeed"][k] for k, v in measured.items()}
    return {"metrics": metrics, "objective_value": metrics[defn["ObjectiveMetric"]], **measured, **stacked,
            "constant_verdict": verdict} | save(output, defn, model)


def fit_full(defn: dict, cls: type, scratch: Scratch, output: JobOutput, threads: int, hard_deadline: float) -> dict:
    """The refit variant: one model on every bagged row, grown as long as its folds grew on average (the
    runner puts `cls.refit_params` of the fold facts into the hyperparameters). Scored on the validation
    channel when there is one; otherwise it has no unseen rows and the runner reports its bag's score."""
    start = time.time()
    data: LayerData = joblib.load(scratch.layer(1))
    model = fit_model(cls, defn["Hyperparameters"], data.problem_type, data.kinds, data.classes, threads,
                      (data.X, data.y, data.w), None, soft_deadline(start, hard_deadline))
    result = {"fit_s": time.time() - start, **_validation_metrics(model, data, defn["ObjectiveMetric"])}
    frame = data.X_score if data.X_score is not None else data.X
    return result | speed(model, frame) | save(output, defn | {"Fit": model.algorithm.describe_fit()}, model)


@dataclass(frozen=True)
class FitFull:
    """The executor's task for `fit_full`."""

    definition: dict
    algorithm: type
    scratch: Scratch
    output: JobOutput
    threads: int

    def run(self, deadline: float) -> dict:
        return fit_full(self.definition, self.algorithm, self.scratch, self.output, self.threads, deadline)


def _validation_metrics(model, data: LayerData, objective: str) -> dict:
    if data.X_score is None:
        return {}
    metrics = score_all(data.problem_type, data.y_score, model.predict_raw(data.X_score), data.w_score,
                        data.positive_index)
    return {"metrics": metrics, "objective_value": metrics[objective]}


@dataclass(frozen=True)
class SaveFullEnsemble:
    """The executor's task: the refit members under the bagged ensemble's weights."""

    definition: dict
    members: dict[str, str]
    weights: dict[str, float]
    speeds: dict[str, dict]
    scratch: Scratch
    output: JobOutput

    def run(self, deadline: float) -> dict:
        data: LayerData = joblib.load(self.scratch.layer(1))
        model = stack_model(self.output, data.problem_type, data.classes, [self.members], self.weights)
        return {"fit_s": 0.0, **_validation_metrics(model, data, self.definition["ObjectiveMetric"]),
                **stack_speed([self.members], self.weights, self.speeds)} | save(self.output, self.definition, model)
