"""The first runner: each requested algorithm once with its defaults, scored on the validation set, then a
weighted ensemble of them by greedy ensemble selection.

It is the baseline the ensembling and tuning runners grow from, and it serves every mode until they land.
"""
from __future__ import annotations

import time

import algorithms
from automl.problem import Mode
from runners.base import Runner, RunContext
from runners.ensemble import fit_ensemble
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
        finished = []
        for defn in self.definitions(ctx):
            blocked = self._blocked(ctx, len(finished))
            if blocked:
                return blocked
            cls = algorithms.get(defn["Algorithm"])
            args = (defn, cls, ctx.dataset_path, ctx.output, ctx.threads())
            ended, record = self._train(ctx, executor, defn["CandidateName"], defn["Algorithm"], defn, fit_candidate,
                                        args)
            finished.append(record)
            if ended:
                return ended
        done = [r for r in finished if r["status"] == "Completed"]
        if len(done) < 2:
            return "Completed"
        blocked = self._blocked(ctx, len(finished))
        if blocked:
            return blocked
        name = f"{ctx.plan.name}-weighted-ensemble"
        ended, _ = self._train(ctx, executor, name, "weighted-ensemble", {"CandidateName": name}, fit_ensemble,
                               (name, done, ctx.dataset_path, ctx.output, ctx.plan.objective))
        return ended or "Completed"

    @staticmethod
    def _blocked(ctx: RunContext, trained: int) -> str | None:
        if ctx.should_stop():
            return "Stopped"
        if ctx.budget.remaining_s() <= MIN_CANDIDATE_S:
            return "MaxAutoMLJobRuntimeReached"
        if ctx.budget.max_candidates is not None and trained >= ctx.budget.max_candidates:
            return "MaxCandidatesReached"
        return None

    @staticmethod
    def _train(ctx: RunContext, executor, name: str, algorithm: str, defn: dict, fn, args) -> tuple[str | None, dict]:
        """Run one candidate to its end and record it; returns (why the job must end, or None; the record)."""
        started = time.time()
        record = {"name": name, "algorithm": algorithm, "status": "InProgress", "creation_time": started,
                  "definition": defn}
        ctx.record(record)
        hard = ctx.budget.candidate_deadline(started)
        outcome = executor.run(fn, (*args, hard), hard)
        record |= {"end_time": time.time()}
        job_limit = hard >= ctx.budget.deadline
        if outcome.status == "Completed":
            record |= outcome.result | {"status": "Completed"}
            ctx.record(record)
            return ("MaxAutoMLJobRuntimeReached" if outcome.result["cut_short"] and job_limit else None), record
        if outcome.status == "Stopped":
            ctx.record(record | {"status": "Stopped", "failure_reason": outcome.error})
            return "Stopped", record | {"status": "Stopped"}
        if outcome.status == "TimedOut":
            limit = "MaxAutoMLJobRuntimeInSeconds" if job_limit else "MaxRuntimePerTrainingJobInSeconds"
            record |= {"status": "Stopped" if job_limit else "Failed", "failure_reason": f"{name}: ran past {limit}"}
            ctx.record(record)
            return ("MaxAutoMLJobRuntimeReached" if job_limit else None), record
        record |= {"status": "Failed", "failure_reason": f"{name}: {outcome.error}"}
        ctx.record(record)
        return None, record
