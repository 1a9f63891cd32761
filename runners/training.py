"""Fitting and scoring one candidate (preprocessing + algorithm + parameters), shared by every runner.

Runs inside the executor's child process; reads the dataset the worker saved once, writes the model and
its definition, and returns the record.
"""
from __future__ import annotations

import time
from pathlib import Path

import joblib
import numpy as np

import algorithms
from algorithms.base import Task
from automl.artifacts import JobOutput, dump_model, public_uri, write_json
from automl.candidate import definition as candidate_definition
from automl.dataset import Dataset
from automl.features import DEFAULT_OPTIONS, Preprocessor
from automl.metrics import score_all
from automl.model import CandidateModel, StackModel

LATENCY_REPEATS = 5
SPEED_ROWS = 2000
# The algorithm's own soft deadline comes this much before the hard one, so it can stop and save in time.
SOFT_DEADLINE_SHARE = 0.15
SOFT_DEADLINE_MIN_S = 1.0


def definition(name: str, algorithm: str, params: dict, options: dict, dataset: Dataset, objective: str) -> dict:
    """A candidate's pipeline as saved beside its model: algorithm, parameters and preprocessing."""
    cls = algorithms.get(algorithm)
    return candidate_definition(
        name, algorithm, dataset.problem_type.value, objective,
        Hyperparameters=cls.default_params(task_for(dataset.problem_type, dataset.classes, 1)) | params,
        Preprocessing={"Style": cls.preprocessing, "Options": DEFAULT_OPTIONS | options,
                       "Columns": {c: kind.value for c, kind in dataset.kinds.items()}})


def task_for(problem_type, classes: list, threads: int, categorical: tuple[int, ...] = ()) -> Task:
    return Task(problem_type, len(classes), threads=threads, seed=0, categorical_features=categorical)


def soft_deadline(start: float, hard: float) -> float:
    margin = max(SOFT_DEADLINE_MIN_S, SOFT_DEADLINE_SHARE * (hard - start))
    return max(start, hard - margin)


def save_dataset(dataset: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(dataset, path)


def fit_model(cls: type, params: dict, problem_type, kinds: dict, classes: list, threads: int,
              fit: tuple, held: tuple | None, deadline: float | None, options: dict | None = None,
              progress=None) -> CandidateModel:
    """Preprocessing (with its `options`) fitted on the `fit` rows (X frame, y, w), then the algorithm on them,
    stopping early on the `held` rows when given: the one way every runner fits a model. Only the tuning
    mode's algorithms take `progress`."""
    X, y, w = fit
    preprocessor = Preprocessor(kinds, cls.preprocessing, options).fit(X)
    task = task_for(problem_type, classes, threads, preprocessor.categorical_features_)
    eval_set = None if held is None else (preprocessor.transform(held[0]), held[1], held[2])
    tuning = {} if progress is None else {"progress": progress}
    algorithm = cls(task, params).fit(preprocessor.transform(X), y, sample_weight=w, eval_set=eval_set,
                                      deadline=deadline, **tuning)
    return CandidateModel(problem_type, kinds, classes, preprocessor, algorithm)


def save(output: JobOutput, defn: dict, model) -> dict:
    name = defn["CandidateName"]
    dump_model(output.model(name), model)
    write_json(output.definition(name), defn)
    return {"model_uri": public_uri(output.model(name)), "definition_uri": public_uri(output.definition(name))}


def stack_model(output: JobOutput, problem_type, classes: list, layers: list[dict[str, str]],
                weights: dict[str, float]) -> StackModel:
    """The one way a stack is built: members given by location are saved relative to the job output folder,
    so the folder can be moved or shipped whole."""
    relative = [{name: output.relative(uri) for name, uri in layer.items()} for layer in layers]
    return StackModel(problem_type, classes, relative, weights).members_in(output.base)


def measure(model, dataset: Dataset, objective: str) -> tuple[dict, np.ndarray]:
    """Validation metrics, throughput and single-row latency of any saved model (candidate or ensemble)."""
    prediction = model.predict_raw(dataset.X_valid)
    metrics = score_all(dataset.problem_type, dataset.y_valid, prediction, dataset.w_valid, dataset.positive_index)
    return {"metrics": metrics, "objective_value": metrics[objective], **speed(model, dataset.X_valid)}, prediction


def speed(model, frame) -> dict:
    """Seconds per 1,000 rows in batch (on up to SPEED_ROWS rows) and the median seconds to answer one row,
    preprocessing included: what a real-time endpoint would see."""
    batch = frame.iloc[:SPEED_ROWS]
    began = time.perf_counter()
    model.predict_raw(batch)
    per_1k = 1000 * (time.perf_counter() - began) / max(1, len(batch))
    row = frame.iloc[:1]
    times = []
    for _ in range(LATENCY_REPEATS):
        began = time.perf_counter()
        model.predict_raw(row)
        times.append(time.perf_counter() - began)
    return {"predict_s_per_1k": per_1k, "inference_latency_s": float(np.median(times))}


def stack_speed(layers: list[dict[str, str]], weights: dict[str, float], speeds: dict[str, dict]) -> dict:
    """A stack's batch and single-row cost: the sum over the models it runs (every model of the layers below
    the deepest weighted one, and the weighted ones there), from their own measurements. A stacked
    candidate's measurement already includes the layers below it, which are counted once."""
    depth = max(i for i, layer in enumerate(layers) if set(layer) & set(weights))
    below = [n for layer in layers[:depth] for n in layer]
    answer = {}
    for key in ("predict_s_per_1k", "inference_latency_s"):
        shared = sum(speeds[n][key] for n in below)
        own = [speeds[n][key] - (shared if depth else 0.0) for n in layers[depth] if n in weights]
        answer[key] = float(shared + sum(max(0.0, v) for v in own))
    return answer
