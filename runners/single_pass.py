"""The first runner: each requested algorithm once with its defaults, scored on the validation set.

It is the baseline the ensembling and tuning runners grow from, and it serves every mode until they land.
"""
from __future__ import annotations

import time

import algorithms
from automl.problem import Mode
from runners.base import Runner, RunContext
from runners.executors import LocalProcessExecutor
from runners.training import definition, fit_candidate

MIN_CANDIDATE_S = 1.0  # no candidate starts with less of the job's time left than this


class SinglePassRunner(Runner):
    def __init__(self, mode: Mode):
        self.secondary_status = "ModelTuning" if mode is Mode.HYPERPARAMETER_TUNING else "TrainingModels"

    def definitions(self, ctx: RunContext) -> list[dict]:
        names = ctx.plan.algorithms
        return [definition(f"{ctx.plan.name}-{algorithm}-{i:03d}", algorithm, {}, ctx.dataset, ctx.plan.objective)
                for i, algorithm in enumerate(names, start=1)]

    def run(self, ctx: RunContext) -> str:
        executor = LocalProcessExecutor(ctx.should_stop, preload=("runners.training",))
        trained = 0
        for defn in self.definitions(ctx):
            if ctx.should_stop():
                return "Stopped"
            if ctx.budget.remaining_s() <= MIN_CANDIDATE_S:
                return "MaxAutoMLJobRuntimeReached"
            if ctx.budget.max_candidates is not None and trained >= ctx.budget.max_candidates:
                return "MaxCandidatesReached"
            started = time.time()
            record = {"name": defn["CandidateName"], "algorithm": defn["Algorithm"], "status": "InProgress",
                      "creation_time": started, "definition": defn}
            ctx.record(record)
            hard = ctx.budget.candidate_deadline(started)
            cls = algorithms.get(defn["Algorithm"])
            outcome = executor.run(fit_candidate, (defn, cls, ctx.dataset_path, ctx.output, ctx.threads(), hard),
                                   hard)
            trained += 1
            record |= {"end_time": time.time()}
            if outcome.status == "Completed":
                ctx.record(record | outcome.result | {"status": "Completed"})
                if outcome.result["cut_short"] and hard >= ctx.budget.deadline:
                    return "MaxAutoMLJobRuntimeReached"
                continue
            if outcome.status == "Stopped":
                ctx.record(record | {"status": "Stopped", "failure_reason": outcome.error})
                return "Stopped"
            if outcome.status == "TimedOut":
                job_limit = hard >= ctx.budget.deadline
                limit = ("MaxAutoMLJobRuntimeInSeconds" if job_limit else "MaxRuntimePerTrainingJobInSeconds")
                ctx.record(record | {"status": "Stopped" if job_limit else "Failed",
                                     "failure_reason": f"{defn['CandidateName']}: ran past {limit}"})
                if job_limit:
                    return "MaxAutoMLJobRuntimeReached"
                continue
            ctx.record(record | {"status": "Failed", "failure_reason": f"{defn['CandidateName']}: {outcome.error}"})
        return "Completed"
