"""Greedy ensemble selection (Caruana et al., 2004) over the finished candidates' validation predictions:
repeatedly add (with replacement) the member that most improves the job's objective on the average so far.
The weights are the selection counts; the ensemble is saved and scored as one more candidate."""
from __future__ import annotations

import time
from pathlib import Path

import joblib
import numpy as np

from automl.artifacts import JobOutput, load_model
from automl.metrics import METRICS
from automl.model import EnsembleModel
from runners.training import measure, save, soft_deadline, validation_predictions

SELECTION_ROUNDS = 25


def select_weights(predictions: list[np.ndarray], score, deadline: float | None = None) -> np.ndarray:
    """`score(prediction) -> float`, larger is better. Returns weights summing to 1: the selection counts at
    the round that scored best (so the ensemble never scores below its best member), stopping at the
    deadline (at least one round always runs)."""
    counts = np.zeros(len(predictions))
    best_counts, best_score = None, -np.inf
    total = None
    for step in range(SELECTION_ROUNDS):
        if step and deadline is not None and time.time() >= deadline:
            break
        trials = [p if total is None else (total * step + p) / (step + 1) for p in predictions]
        scores = np.nan_to_num([score(t) for t in trials], nan=-np.inf)
        pick = int(np.argmax(scores))
        counts[pick] += 1
        total = trials[pick]
        if scores[pick] > best_score:
            best_counts, best_score = counts.copy(), scores[pick]
    return best_counts / best_counts.sum()


def fit_ensemble(name: str, members: list[dict], dataset_path: Path, output: JobOutput, objective: str,
                 hard_deadline: float) -> dict:
    """Runs in the executor's child: choose weights, load the members, save and measure the ensemble."""
    start = time.time()
    dataset = joblib.load(dataset_path)
    metric = METRICS[objective]
    predictions = [np.load(validation_predictions(dataset_path, m["name"])) for m in members]
    weights = select_weights(predictions, lambda p: -metric.sort_key(
        metric.fn(dataset.y_valid, p, dataset.w_valid, dataset.positive_index)), soft_deadline(start, hard_deadline))
    chosen = [(m, w) for m, w in zip(members, weights) if w > 0]
    model = EnsembleModel(dataset.problem_type, dataset.classes, [load_model(m["model_uri"]) for m, _ in chosen],
                          [float(w) for _, w in chosen])
    fit_s = time.time() - start
    measured, _ = measure(model, dataset, objective)
    defn = {"CandidateName": name, "Algorithm": "weighted-ensemble", "ProblemType": dataset.problem_type.value,
            "ObjectiveMetric": objective, "Members": {m["name"]: float(w) for m, w in chosen},
            "Selection": f"greedy ensemble selection, {SELECTION_ROUNDS} rounds, on the validation set"}
    return measured | save(output, defn, model) | {"fit_s": fit_s, "cut_short": False}
