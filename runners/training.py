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
from automl.dataset import Dataset
from automl.metrics import score_all
from automl.model import CandidateModel
from runners.preprocessing import Preprocessor

LATENCY_REPEATS = 5
SPEED_ROWS = 2000
# The algorithm's own soft deadline comes this much before the hard one, so it can stop and save in time.
SOFT_DEADLINE_SHARE = 0.15
SOFT_DEADLINE_MIN_S = 1.0


def definition(name: str, algorithm: str, params: dict, dataset: Dataset, objective: str) -> dict:
    cls = algorithms.get(algorithm)
    return {
        "CandidateName": name,
        "Algorithm": algorithm,
        "ProblemType": dataset.problem_type.value,
        "ObjectiveMetric": objective,
        "Hyperparameters": cls.default_params(task_for(dataset.problem_type, dataset.classes, 1)) | params,
        "Preprocessing": {"Style": cls.preprocessing,
                          "Columns": {name: kind.value for name, kind in dataset.kinds.items()}},
    }


def task_for(problem_type, classes: list, threads: int, categorical: tuple[int, ...] = ()) -> Task:
    return Task(problem_type, len(classes), threads=threads, seed=0, categorical_features=categorical)


def soft_deadline(start: float, hard: float) -> float:
    margin = max(SOFT_DEADLINE_MIN_S, SOFT_DEADLINE_SHARE * (hard - start))
    return max(start, hard - margin)


def save_dataset(dataset: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(dataset, path)


def fit_model(cls: type, params: dict, problem_type, kinds: dict, classes: list, threads: int,
              fit: tuple, held: tuple | None, deadline: float | None) -> CandidateModel:
    """Preprocessing fitted on the `fit` rows (X frame, y, w), then the algorithm on them, stopping early on
    the `held` rows when given: the one way every runner fits a model."""
    X, y, w = fit
    preprocessor = Preprocessor(kinds, cls.preprocessing).fit(X)
    task = task_for(problem_type, classes, threads, preprocessor.categorical_features_)
    eval_set = None if held is None else (preprocessor.transform(held[0]), held[1], held[2])
    algorithm = cls(task, params).fit(preprocessor.transform(X), y, sample_weight=w, eval_set=eval_set,
                                      deadline=deadline)
    return CandidateModel(problem_type, kinds, classes, preprocessor, algorithm)


def fit_candidate(defn: dict, cls: type, dataset_path: Path, output: JobOutput, threads: int,
                  hard_deadline: float) -> dict:
    """`cls` is the algorithm class resolved by the runner (pickled by reference into the child)."""
    start = time.time()
    dataset = joblib.load(dataset_path)
    soft = soft_deadline(start, hard_deadline)
    model = fit_model(cls, defn["Hyperparameters"], dataset.problem_type, dataset.kinds, dataset.classes, threads,
                      (dataset.X_train, dataset.y_train, dataset.w_train),
                      (dataset.X_valid, dataset.y_valid, dataset.w_valid), soft)
    algorithm = model.algorithm
    fit_s = time.time() - start
    cut_short = time.time() >= soft
    measured, prediction = measure(model, dataset, defn["ObjectiveMetric"])
    name = defn["CandidateName"]
    np.save(validation_predictions(dataset_path, name), prediction)
    return measured | save(output, defn | {"Fit": algorithm.describe_fit()}, model) | {
        "fit_s": fit_s, "cut_short": cut_short}


def save(output: JobOutput, defn: dict, model) -> dict:
    name = defn["CandidateName"]
    dump_model(output.model(name), model)
    write_json(output.definition(name), defn)
    return {"model_uri": public_uri(output.model(name)), "definition_uri": public_uri(output.definition(name))}


def validation_predictions(dataset_path: Path, candidate: str) -> Path:
    """Where a candidate's validation predictions wait for ensemble selection, beside the saved dataset."""
    folder = dataset_path.parent / "validation"
    folder.mkdir(exist_ok=True)
    return folder / f"{candidate}.npy"


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
