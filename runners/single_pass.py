"""The first runner: each requested algorithm once with its defaults, scored on the validation set, then a
weighted ensemble of them by greedy ensemble selection.

It is the baseline the ensembling and tuning runners grow from, and it serves every mode until they land.
"""
from __future__ import annotations

import algorithms
from automl.problem import Mode
from runners.base import Runner, RunContext
from runners.ensemble import fit_ensemble
from runners.executors import LocalProcessExecutor
from runners.launch import blocked, start, train
from runners.training import definition, fit_candidate


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
            why = blocked(ctx, len(finished))
            if why:
                return why
            cls = algorithms.get(defn["Algorithm"])
            args = (defn, cls, ctx.dataset_path, ctx.output, ctx.threads())
            record = start(ctx, defn["CandidateName"], defn["Algorithm"], defn)
            ended, record = train(ctx, executor, record, fit_candidate, args)
            finished.append(record)
            if ended:
                return ended
            if record["status"] == "Completed" and record["cut_short"] and ctx.budget.remaining_s() <= 1.0:
                return "MaxAutoMLJobRuntimeReached"
        done = [r for r in finished if r["status"] == "Completed"]
        if len(done) < 2:
            return "Completed"
        why = blocked(ctx, len(finished))
        if why:
            return why
        name = f"{ctx.plan.name}-weighted-ensemble"
        record = start(ctx, name, "weighted-ensemble", {"CandidateName": name})
        ended, _ = train(ctx, executor, record, fit_ensemble,
                         (name, done, ctx.dataset_path, ctx.output, ctx.plan.objective))
        return ended or "Completed"
