"""Greedy ensemble selection (Caruana et al., 2004) over the finished candidates' held-out predictions:
repeatedly add (with replacement) the member that most improves the job's objective on the average so far.
The weights are the selection counts; the ensemble is saved and scored as one more candidate."""
from __future__ import annotations

import time
from dataclasses import dataclass

import joblib
import numpy as np

from automl.artifacts import JobOutput
from automl.candidate import definition
from automl.metrics import METRICS, score_all
from runners.bagging import LayerData, Scratch
from runners.training import save, soft_deadline, stack_model, stack_speed

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


def _objective_score(objective: str, problem_type, positive_index: int, y, w):
    metric = METRICS[objective]
    return lambda p: -metric.sort_key(metric.fn(y, p, w, positive_index))


@dataclass(frozen=True)
class StackEnsemble:
    """The executor's task for `fit_stack_ensemble`."""

    name: str
    layers: list[dict[str, str]]
    members: list[str]
    speeds: dict[str, dict]
    scratch: Scratch
    output: JobOutput
    objective: str

    def run(self, deadline: float) -> dict:
        return fit_stack_ensemble(self.name, self.layers, self.members, self.speeds, self.scratch, self.output,
                                  self.objective, deadline)


def fit_stack_ensemble(name: str, layers: list[dict[str, str]], members: list[str], speeds: dict[str, dict],
                       scratch: Scratch, output: JobOutput, objective: str, hard_deadline: float) -> dict:
    """Greedy ensemble selection over bagged candidates of any layer, on their out-of-fold predictions (or on
    the validation channel's), for the job's objective. Its speed is summed from its members' (loading and
    timing every member again would cost the job seconds it does not have)."""
    start = time.time()
    data: LayerData = joblib.load(scratch.layer(1))
    scored = [data.scoring(np.load(scratch.oof(m)), np.load(scratch.score(m)) if data.X_score is not None
                           else None) for m in members]
    y, w, _ = scored[0]
    weights = select_weights([p for _, _, p in scored],
                             _objective_score(objective, data.problem_type, data.positive_index, y, w),
                             soft_deadline(start, hard_deadline))
    chosen = {m: float(v) for m, v in zip(members, weights, strict=True) if v > 0}
    prediction = sum(v * p for (_, _, p), v in zip(scored, weights, strict=True) if v > 0)
    metrics = score_all(data.problem_type, y, prediction, w, data.positive_index)
    source = "the validation channel" if data.X_score is not None else "out-of-fold predictions"
    defn = definition(name, "weighted-ensemble", data.problem_type.value, objective, Level=len(layers) + 1,
                      Members=chosen, Selection=f"greedy ensemble selection, {SELECTION_ROUNDS} rounds, on {source}")
    model = stack_model(output, data.problem_type, data.classes, layers, chosen)
    return {"metrics": metrics, "objective_value": metrics[objective], **stack_speed(layers, chosen, speeds),
            "fit_s": time.time() - start, "weights": chosen} | save(output, defn, model)
