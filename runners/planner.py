"""The time and memory planner of the ensembling mode.

The job's time, less what writing the outputs and the ensembles need, is shared among the algorithms still to
train in proportion to their expected cost; time one finishes early flows to the next. The first algorithm's
first fold measures what one fold costs here, which fixes how many of the k folds every candidate fits (all of
them when the budget allows; one, a hold-out, when it is tight). Stacking and the refit run only when what
they are expected to cost is left.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from automl.budget import Budget
from runners.memory import training_limit_bytes

# Expected cost of one fit relative to lightgbm's, measured on the shared datasets (2 cores).
RELATIVE_COST = {"lightgbm": 1.0, "linear-learner": 0.3, "catboost": 2.0, "xgboost": 1.2, "extra-trees": 0.8,
                 "randomforest": 1.0, "nn-torch": 2.0, "fastai": 2.0}
CANDIDATE_OVERHEAD_S = 0.5  # a child process, loading the layer, scoring, timing and saving: not fitting
PROBE_MIN_S = 3.0  # the first candidate's fitting time when its cost-weighted share is shorter
FOLD_SAFETY = 0.8  # plan the folds to fill this much of the time: costs vary between folds and algorithms
PER_CANDIDATE_SHARE = 0.6  # of MaxRuntimePerTrainingJobInSeconds, for fitting (the rest saves and scores)
MEMORY_SHARE = 0.6  # of the memory a candidate may use (runners.memory), what one bag's fold models may take


def finish_reserve_s(max_runtime_s: float) -> float:
    """Time kept after training for the leaderboard, the best candidate's copy and Describe."""
    return min(30.0, max(1.5, 0.03 * max_runtime_s))


def ensemble_reserve_s(max_runtime_s: float) -> float:
    return min(60.0, max(1.5, 0.03 * max_runtime_s))


@dataclass
class Planner:
    budget: Budget
    folds: int
    ensembles: int = 1  # weighted ensembles still to build after training

    def training_end(self) -> float:
        """When training must stop for the ensembles and outputs to be done by the job's deadline."""
        runtime = self.budget.max_job_runtime_s
        return self.budget.deadline - finish_reserve_s(runtime) - self.ensembles * ensemble_reserve_s(runtime)

    def window_s(self, now: float | None = None) -> float:
        return self.training_end() - (time.time() if now is None else now)

    def soft_end(self, algorithm: str, still_to_train: list[str], started: float) -> float:
        """The time this algorithm's folds should be done by: its cost-weighted share of what is left, and
        early enough within MaxRuntimePerTrainingJobInSeconds (counted from `started`) to save its model."""
        now = time.time()
        window = max(0.0, self.window_s(now))
        total = sum(RELATIVE_COST.get(a, 1.0) for a in still_to_train) or 1.0
        # Each candidate's fixed cost comes off the window first, so that it does not eat a short share's
        # fitting time (8 algorithms in a 20 s job: lightgbm grew 2 rounds in its 1.3 s).
        fitting = max(0.0, window - CANDIDATE_OVERHEAD_S * len(still_to_train))
        share = min(window, CANDIDATE_OVERHEAD_S + fitting * RELATIVE_COST.get(algorithm, 1.0) / total)
        return min(now + share, started + PER_CANDIDATE_SHARE * self.budget.max_runtime_per_candidate_s)

    def probe_cap(self) -> float:
        """The end no work of the first candidate outlives: until one finishes there is nothing to ensemble, so
        it may use the ensembles' time, not the outputs'."""
        return self.budget.deadline - finish_reserve_s(self.budget.max_job_runtime_s)

    def probe_end(self, soft_end: float, started: float) -> float:
        """The first candidate's soft end: its share, but at least PROBE_MIN_S (half of what is left before
        `probe_cap` when less): a job with no finished candidate has nothing to show, and a booster cut to a
        sliver of a tight budget predicts no better than a constant."""
        now = time.time()
        floor = now + min(PROBE_MIN_S, max(0.0, self.probe_cap() - now) / 2)
        limit = started + PER_CANDIDATE_SHARE * self.budget.max_runtime_per_candidate_s
        return max(soft_end, min(floor, limit))

    @staticmethod
    def folds_within(limit_s: float, probe_fold_s: float) -> int:
        """The most folds one candidate can fit within its own limit, at the probe's cost per fold."""
        return int(max(1, PER_CANDIDATE_SHARE * limit_s // max(probe_fold_s, 1e-9)))

    def affordable_folds(self, probe: str, probe_fold_s: float, still_to_train: list[str], task_s: float = 0.0,
                         side_by_side: int = 1) -> int:
        """How many folds every candidate can fit, from the probe's first fold (itself already done). Here a
        bag's folds are one task; on a cluster that runs `side_by_side` tasks at once each fold is a task, and
        each bag one more to assemble it, and a task costs `task_s` besides its fitting (a fresh process on the
        worker: 3 s on an idle 2-core machine, 10 s on a busy one, where a fold of linear-learner fits in 1 s)."""
        fits = [probe_fold_s / RELATIVE_COST.get(probe, 1.0) * RELATIVE_COST.get(a, 1.0) for a in still_to_train]
        window = FOLD_SAFETY * self.window_s() + probe_fold_s  # the probe's first fold counts as done

        def cost(m: int) -> float:
            if side_by_side > 1:
                return sum(math.ceil(m / side_by_side) * (fit + task_s) + task_s for fit in fits)
            return m * sum(fits)
        return next((m for m in range(self.folds, 1, -1) if cost(m) <= window), 1)

    @staticmethod
    def memory_verdict(cls, rows: int, columns: int, params: dict, folds: int) -> tuple[dict, str | None]:
        """(params, None) when the bag fits in memory, fewer trees when that makes it fit, else a reason."""
        limit = MEMORY_SHARE * training_limit_bytes()
        need = folds * cls.memory_bytes(rows, columns, params)
        if need <= limit:
            return params, None
        if "n_estimators" in params:
            trees = int(params["n_estimators"] * limit / need)
            if trees >= 50:
                return params | {"n_estimators": trees}, None
        return params, (f"needs about {need / 1024 ** 3:.1f} GiB for its {folds} fold models; "
                        f"{limit / 1024 ** 3:.1f} GiB may be used (AUTOML_MAX_MEMORY and the memory free now)")
