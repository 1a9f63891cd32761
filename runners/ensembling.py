"""The ENSEMBLING mode: bagged candidates of every algorithm, a stack layer over their out-of-fold predictions,
weighted ensembles by greedy selection, and a refit of the best ensemble's members on all rows.

Candidates, in the order they train:
- `<job>-<algorithm>-L1`: each algorithm bagged over k folds (or fewer, as the planner affords);
- `<job>-<algorithm>-L2`: the same algorithms again on the columns plus the L1 out-of-fold predictions, when
  every fold was fitted, a validation channel can judge them and the time is left;
- `<job>-WeightedEnsemble-L2` (over L1) and `<job>-WeightedEnsemble-L3` (over L1 and L2);
- `<job>-<algorithm>-FULL` and `<job>-WeightedEnsemble-L2-FULL`: the L2 ensemble's members refit on all rows,
  one model each, for lower latency.

A resumed job (its worker died) keeps the candidates the dead worker finished, bags only while their
out-of-fold predictions are still in the job's scratch folder, and trains the rest in the same order.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

import algorithms
from automl.artifacts import exists, load_model
from automl.candidate import Candidate, CandidateStatus, RunEnd, definition
from automl.held_out import HeldOut, sample_positions, sampled
from runners.bagging import FitFolds, FitFull, SaveFullEnsemble, Scratch, first_layer, fold_count, next_layer
from runners.base import RunContext, Runner
from runners.ensemble import StackEnsemble
from runners.executors import Outcome, OutcomeStatus, executor_for
from runners.launch import MIN_CANDIDATE_S, blocked, conclude, execute, failed, hard_deadline, start, train
from runners.planner import CANDIDATE_OVERHEAD_S, Planner, finish_reserve_s
from runners.training import task_for

STACK_MIN_MODELS = 2  # a stack layer needs at least this many L1 bags to learn from
# A refit starts only when this many times its expected cost is left: 1.5x when it replaces a hold-out model
# (it sees a fifth more rows), 3x when it is only the low-latency alternative to a full bag.
REFIT_SAFETY = {True: 1.5, False: 3.0}
CAP_GRACE_S = 0.5  # past the planned end of training, a candidate is ended to keep the ensembles' time


class EnsemblingRunner(Runner):
    secondary_status = "TrainingModels"

    def definitions(self, ctx: RunContext) -> list[dict]:
        k = fold_count(ctx.plan.validation_fraction)
        task = task_for(ctx.dataset.problem_type, ctx.dataset.classes, 1)
        return [self._definition(ctx, algorithm, 1, algorithms.get(algorithm).default_params(task), k)
                for algorithm in ctx.plan.algorithms]

    @staticmethod
    def _definition(ctx: RunContext, algorithm: str, level: int, params: dict, folds: int) -> dict:
        cls = algorithms.get(algorithm)
        return definition(f"{ctx.plan.name}-{algorithm}-L{level}", algorithm, ctx.dataset.problem_type.value,
                          ctx.plan.objective, Level=level, Hyperparameters=params,
                          Bagging={"Folds": folds, "Stratified": ctx.dataset.problem_type.is_classification},
                          Preprocessing={"Style": cls.preprocessing,
                                         "Columns": {n: k.value for n, k in ctx.dataset.kinds.items()}})

    def run(self, ctx: RunContext) -> RunEnd:
        self._job = _Job(ctx, self.definitions(ctx))
        return self._job.run()

    def held_out(self, ctx: RunContext, record: Candidate, max_rows: int) -> HeldOut | None:
        """The rows the candidate's metrics came from: out-of-fold predictions of the scored folds, or its
        predictions of the validation channel; a refit without a validation channel shows its source's."""
        job = getattr(self, "_job", None)
        if job is None:
            return None
        data, by_name = job.layer1, ctx.recorded()
        rows, of = _held_rows(job, max_rows)
        if data.X_score is not None:
            source = sampled("the validation channel", len(rows), of)
            return HeldOut(data.problem_type, data.classes, data.positive_index,
                           data.X_score.iloc[rows].reset_index(drop=True), data.y_score[rows],
                           None if data.w_score is None else data.w_score[rows],
                           _validation_prediction(job, record, by_name, rows), source)
        while record.definition.get("RefitOf") in by_name:
            record = by_name[record.definition["RefitOf"]]
        source = "out-of-fold predictions" if len(data.scored_folds) == job.k else "hold-out fold predictions"
        return HeldOut(data.problem_type, data.classes, data.positive_index, data.X.iloc[rows].reset_index(drop=True),
                       data.y[rows], None if data.w is None else data.w[rows],
                       _blend(record, lambda name: np.load(job.scratch.oof(name))[rows]),
                       sampled(source, len(rows), of))

    def release(self) -> None:
        self._job = None

    def held_out_predictions(self, ctx: RunContext, records: list[Candidate], max_rows: int) -> dict[str, np.ndarray]:
        job = getattr(self, "_job", None)
        if job is None:
            return {}
        by_name, (rows, _) = ctx.recorded(), _held_rows(job, max_rows)
        found = {r.name: _saved_prediction(job, r, by_name, rows) for r in records if r.completed}
        return {name: p for name, p in found.items() if p is not None}


def _held_rows(job: _Job, max_rows: int) -> tuple[np.ndarray, int]:
    """The held-out rows kept for reports (positions in the validation channel, or rows of the layer's data
    among its scored folds), and how many there were."""
    data = job.layer1
    if data.X_score is not None:
        return sample_positions(len(data.y_score), max_rows), len(data.y_score)
    scored = data.scored_rows
    return scored[sample_positions(len(scored), max_rows)], len(scored)


def _saved_prediction(job: _Job, record: Candidate, by_name: dict[str, Candidate],
                      rows: np.ndarray) -> np.ndarray | None:
    """A candidate's held-out prediction of `rows` from the scratch folder alone, or None when a model would
    have to run (a refit scored on the validation channel)."""
    data = job.layer1
    while data.X_score is None and record.definition.get("RefitOf") in by_name:
        record = by_name[record.definition["RefitOf"]]
    names = list(_weights(record)) if record.algorithm == "weighted-ensemble" else [record.name]
    paths = {n: job.scratch.score(n) if data.X_score is not None else job.scratch.oof(n) for n in names}
    if not all(p.exists() for p in paths.values()):
        return None
    return _blend(record, lambda name: np.load(paths[name])[rows])


def _weights(record: Candidate) -> dict[str, float]:
    """A weighted ensemble's members and weights (a refit ensemble's are in its definition)."""
    return record.weights or record.definition["Members"]


def _blend(record: Candidate, prediction) -> np.ndarray:
    """A weighted ensemble's prediction is its members' weighted sum; any other candidate's is its own."""
    if record.algorithm == "weighted-ensemble":
        return sum(w * prediction(name) for name, w in _weights(record).items())
    return prediction(record.name)


def _validation_prediction(job: _Job, record: Candidate, by_name: dict[str, Candidate],
                           rows: np.ndarray) -> np.ndarray:
    """A bag's validation-channel prediction was saved when it was scored; a refit was scored by predicting
    the channel, which is done again from its model (on `rows` only)."""
    def prediction(name: str) -> np.ndarray:
        saved = job.scratch.score(name)
        if saved.exists():
            return np.load(saved)[rows]
        return load_model(by_name[name].model_uri).predict_raw(job.layer1.X_score.iloc[rows])
    return _blend(record, prediction)


class _Job:
    """One run of the mode: the state shared by its stages."""

    def __init__(self, ctx: RunContext, definitions: list[dict]):
        self.ctx = ctx
        self.definitions = definitions
        self.k = fold_count(ctx.plan.validation_fraction)
        self.scratch = Scratch(ctx.dataset_path.parent / "bags")
        self.layer1 = first_layer(ctx.dataset, self.k)
        self.planner = Planner(ctx.budget, self.k, ensembles=2 if ctx.dataset.validation_given else 1)
        self.executor = executor_for(ctx.plan, ctx.should_stop)
        self.executor.warm()
        self.records: list[Candidate] = []  # every candidate started, in order
        self.short_of_time = False
        self.finished = {name: r for name, r in ctx.recorded().items()
                         if r.status is not CandidateStatus.IN_PROGRESS and not r.orphaned}  # a dead worker's
        self.probed = self._resumed_folds()

    def _resumed_folds(self) -> bool:
        """A kept L1 bag fixes the folds every candidate fits, as the dead worker's probe did."""
        for defn in self.definitions:
            record = self._kept(defn["CandidateName"], bag=True, keep=False)
            if record is not None and record.completed:
                self.layer1.scored_folds = list(range(record.definition["Bagging"]["FoldsFitted"]))
                self.scratch.save(self.scratch.layer(1), self.layer1)
                return True
        return False

    def _kept(self, name: str, bag: bool = False, keep: bool = True) -> Candidate | None:
        """The dead worker's finished candidate of that name, added to this run's (`keep`) as it is; a completed
        one only while its model, and for a bag its saved predictions, are still there."""
        record = self.finished.get(name)
        if record is None:
            return None
        if record.completed:
            saved = [self.scratch.oof(name)] + ([self.scratch.score(name)] if self.layer1.X_score is not None else [])
            if not exists(record.model_uri) or (bag and not all(p.exists() for p in saved)):
                return None
        if keep:
            self.records.append(record)
        return record

    def run(self) -> RunEnd:
        ended = self._layer_one()
        if ended:
            return ended
        bags1 = self._done(level=1)
        layers = [{r.name: r.model_uri for r in bags1}]
        if self._can_stack(bags1):
            ended = self._layer_two(bags1)
            if ended:
                return ended
            bags2 = self._done(level=2)
            if bags2:
                layers.append({r.name: r.bag_uri for r in bags2})
        self.planner.ensembles = 0
        ended, ensemble = self._ensemble("WeightedEnsemble-L2", layers[:1], [r.name for r in bags1])
        if not ended and len(layers) > 1:
            ended, _ = self._ensemble("WeightedEnsemble-L3", layers, [n for layer in layers for n in layer])
        if not ended and ensemble is not None:
            ended = self._refit(ensemble)
        return ended or (RunEnd.MAX_RUNTIME if self.short_of_time else RunEnd.COMPLETED)

    def _done(self, level: int) -> list[Candidate]:
        return [r for r in self.records if r.completed and r.definition.get("Level") == level
                and r.algorithm != "weighted-ensemble"]

    def _can_stack(self, bags1: list[Candidate]) -> bool:
        """A stack layer needs every fold's out-of-fold predictions, and rows no L1 label shaped to be judged
        on: a layer-2 model's out-of-fold score is optimistic (a row's label shaped its neighbours' L1 inputs;
        on credit_g an L2 linear model gained 0.056 AUC out of fold and lost 0.006 on the test split), so only
        a validation channel can say whether stacking helps."""
        return (len(bags1) >= STACK_MIN_MODELS and self.layer1.scored_folds == list(range(self.k))
                and self.layer1.X_score is not None)

    def _halt(self) -> tuple[bool, RunEnd | None]:
        """Whether no further candidate may start, and why the job must end: None when only the job's time is
        out, so the runner still finishes what it has."""
        why = blocked(self.ctx, len(self.records))
        if why is RunEnd.MAX_RUNTIME:
            self.short_of_time = True
            return True, None
        return why is not None, why

    def _layer_one(self) -> RunEnd | None:
        queue = list(self.definitions)
        rows, columns = len(self.layer1.y), len(self.layer1.kinds)
        probed = self.probed
        while queue:
            defn = queue.pop(0)
            if self._kept(defn["CandidateName"], bag=True):
                continue
            halt, why = self._halt()
            if halt:
                return why
            window = self.planner.window_s() if probed else self.planner.probe_cap() - time.time()
            if window < MIN_CANDIDATE_S:
                self.short_of_time = True  # a fit in what is left would be killed, or cut to nothing
                return None
            cls = algorithms.get(defn["Algorithm"])
            params, refusal = self.planner.memory_verdict(cls, rows, columns, defn["Hyperparameters"], self.k)
            defn = defn | {"Hyperparameters": params}
            record = start(self.ctx, defn["CandidateName"], defn["Algorithm"], defn)
            if refusal:
                self.records.append(failed(self.ctx, record, refusal))
                continue
            names = [defn["Algorithm"]] + [d["Algorithm"] for d in queue]
            soft_end = self.planner.soft_end(defn["Algorithm"], names, record.creation_time)
            if not probed:
                soft_end = self.planner.probe_end(soft_end, record.creation_time)
                defn, record, ended = self._probe(defn, cls, record, soft_end, names)
                if ended:
                    return ended
                if record.status in (CandidateStatus.FAILED, CandidateStatus.STOPPED):
                    continue  # the next algorithm probes
                probed = True
                if record.completed:
                    continue  # a hold-out: the probe's one fold is the whole candidate
                soft_end = self.planner.soft_end(defn["Algorithm"], names, record.creation_time)
                folds = self.layer1.scored_folds[1:]
            else:
                folds = self.layer1.scored_folds
            ended = self._bag(defn, cls, record, folds, soft_end)
            if ended:
                return ended
        return None

    def _probe(self, defn: dict, cls, record: Candidate, soft_end: float, names: list[str]):
        """Fold 0 of the first algorithm, saved as a hold-out candidate: its cost fixes the folds every
        candidate fits. When that is one, the probe is the candidate (Completed); else it stays InProgress."""
        self.layer1.scored_folds = [0]
        self.scratch.save(self.scratch.layer(1), self.layer1)
        cap = self.planner.probe_cap()
        defn = defn | {"Bagging": defn["Bagging"] | {"FoldsFitted": 1}}
        record = replace(record, definition=defn)
        submitted = time.time()
        outcome, hard = execute(self.ctx, self.executor, record,
                                FitFolds(defn, cls, self.scratch, (0,), soft_end, self.ctx.output, self.ctx.threads()),
                                cap)
        if outcome.status is not OutcomeStatus.COMPLETED:
            ended, record = conclude(self.ctx, record, outcome, hard, cap)
            self.records.append(record)
            return defn, record, ended
        probe_s = outcome.result["fold_facts"][0]["fit_s"]
        side_by_side = self.executor.workers() or 1  # as `_fit_bag` runs a bag's folds
        task_s = max(0.0, time.time() - submitted - probe_s) if side_by_side > 1 else 0.0
        m = min(self.planner.affordable_folds(defn["Algorithm"], probe_s, names, task_s, side_by_side),
                self.planner.folds_within(self.ctx.budget.max_runtime_per_candidate_s, probe_s + task_s))
        self.layer1.scored_folds = list(range(m))
        self.scratch.save(self.scratch.layer(1), self.layer1)
        if m == 1:
            _, record = conclude(self.ctx, record, outcome, hard, cap)
            self.records.append(record)
            return defn, record, None
        defn = defn | {"FoldFacts": outcome.result["fold_facts"], "Bagging": defn["Bagging"] | {"FoldsFitted": m}}
        return defn, replace(record, definition=defn), None

    def _bag(self, defn: dict, cls, record: Candidate, folds: list[int], soft_end: float) -> RunEnd | None:
        defn = defn | {"Bagging": defn["Bagging"] | {"FoldsFitted": len(self.layer1.scored_folds)}}
        ended, record = self._fit_bag(defn, cls, replace(record, definition=defn), folds, soft_end)
        self.records.append(record)
        return ended

    def _fit_bag(self, defn: dict, cls, record: Candidate, folds: list[int], soft_end: float):
        cap = self.planner.training_end() + CAP_GRACE_S
        if (self.executor.workers() or 1) > 1 and len(folds) > 1:
            return conclude(self.ctx, record, *self._side_by_side(defn, cls, record, folds, soft_end, cap), cap)
        return train(self.ctx, self.executor, record, FitFolds(defn, cls, self.scratch, tuple(folds), soft_end,
                                                               self.ctx.output, self.ctx.threads()), cap)

    def _side_by_side(self, defn: dict, cls, record: Candidate, folds: list[int], soft_end: float,
                      cap: float) -> tuple[Outcome, float]:
        """On a cluster, each fold of the bag is a task of its own, all at once; then one task assembles them."""
        hard = hard_deadline(self.ctx, record, cap)
        fits = [self.executor.submit(FitFolds(defn, cls, self.scratch, (fold,), soft_end, self.ctx.output,
                                              self.ctx.threads(), assemble=False), deadline=hard) for fold in folds]
        outcomes = [f.result() for f in fits]
        failed = next((o for o in outcomes if o.status is not OutcomeStatus.COMPLETED), None)
        if failed is not None:
            return failed, hard
        facts = defn.get("FoldFacts", []) + [fact for o in outcomes for fact in o.result["fold_facts"]]
        assembled = self.executor.submit(FitFolds(defn | {"FoldFacts": facts}, cls, self.scratch, (), soft_end,
                                                  self.ctx.output, self.ctx.threads()), deadline=hard).result()
        if assembled.status is OutcomeStatus.COMPLETED:  # the bag took as long as its slowest fold, not their sum
            assembled = replace(assembled, result=assembled.result | {"fit_s": time.time() - record.creation_time})
        return assembled, hard

    def _layer_two(self, bags1: list[Candidate]) -> RunEnd | None:
        """Only algorithms whose L1 bag is expected to fit again in the time left, cheapest first."""
        oof = {r.name: np.load(self.scratch.oof(r.name)) for r in bags1}
        score = ({r.name: np.load(self.scratch.score(r.name)) for r in bags1}
                 if self.layer1.X_score is not None else {})
        layer2 = next_layer(self.layer1, oof, score)
        self.scratch.save(self.scratch.layer(2), layer2)
        ranked = sorted(bags1, key=lambda r: r.fit_s)
        for i, base in enumerate(ranked):
            halt, why = self._halt()
            if halt:
                return why
            if base.fit_s * 1.2 > self.planner.window_s():
                self.short_of_time = True
                continue
            algorithm = base.algorithm
            if self._kept(f"{self.ctx.plan.name}-{algorithm}-L2", bag=True):
                continue
            cls = algorithms.get(algorithm)
            defn = EnsemblingRunner._definition(self.ctx, algorithm, 2, base.definition["Hyperparameters"], self.k)
            defn["Bagging"]["FoldsFitted"] = self.k
            defn["StackedOn"] = [{r.name: r.model_uri for r in bags1}]
            defn["StackedOnSpeed"] = {"predict_s_per_1k": sum(r.predict_s_per_1k for r in bags1),
                                      "inference_latency_s": sum(r.inference_latency_s for r in bags1)}
            record = start(self.ctx, defn["CandidateName"], algorithm, defn)
            soft_end = self.planner.soft_end(algorithm, [r.algorithm for r in ranked[i:]], record.creation_time)
            ended, record = self._fit_bag(defn, cls, record, list(range(self.k)), soft_end)
            self.records.append(record)
            if ended:
                return ended
        return None

    def _ensemble(self, label: str, layers: list[dict[str, str]], members: list[str]):
        if len(members) < 2:
            return None, None
        halt, why = self._halt()
        if halt:
            return why, None
        name = f"{self.ctx.plan.name}-{label}"
        kept = self._kept(name)
        if kept is not None:
            return None, kept if kept.completed else None
        record = start(self.ctx, name, "weighted-ensemble", definition(
            name, "weighted-ensemble", self.ctx.dataset.problem_type.value, self.ctx.plan.objective,
            Level=len(layers) + 1))
        ended, record = train(self.ctx, self.executor, record,
                              StackEnsemble(name, layers, members, self._speeds(), self.scratch, self.ctx.output,
                                            self.ctx.plan.objective), self.planner.training_end())
        self.records.append(record)
        return ended, record if record.completed else None

    def _refit(self, ensemble: Candidate) -> RunEnd | None:
        """Each L1 member of the L2 ensemble once on all rows, then the same weights over the refits."""
        by_name = {r.name: r for r in self.records}
        members = [by_name[n] for n in ensemble.weights]
        expected = sum(CANDIDATE_OVERHEAD_S + np.mean([f["fit_s"] for f in r.fold_facts]) * len(self.layer1.y) /
                       max(1, len(self.layer1.y) - len(self.layer1.folds[0])) for r in members)
        holdout = len(self.layer1.scored_folds) < self.k
        if REFIT_SAFETY[holdout] * expected > self.ctx.budget.remaining_s() - finish_reserve_s(
                self.ctx.budget.max_job_runtime_s):
            self.short_of_time = True
            return None
        refits = {}
        for member in members:
            kept = self._kept(f"{self.ctx.plan.name}-{member.algorithm}-FULL")
            if kept is not None:
                if not kept.completed:
                    return None
                refits[member.name] = kept
                continue
            halt, why = self._halt()
            if halt:
                return why
            cls = algorithms.get(member.algorithm)
            defn = member.definition | {
                "CandidateName": f"{self.ctx.plan.name}-{member.algorithm}-FULL", "Level": 1,
                "Hyperparameters": member.definition["Hyperparameters"] | cls.refit_params(member.fold_facts),
                "RefitOf": member.name, "Bagging": None}
            defn.pop("FoldFacts", None)
            record = start(self.ctx, defn["CandidateName"], member.algorithm, defn)
            ended, record = train(self.ctx, self.executor, record,
                                  FitFull(defn, cls, self.scratch, self.ctx.output, self.ctx.threads()),
                                  self.planner.training_end())
            record = self._scored_as(record, member)
            self.records.append(record)
            if ended:
                return ended
            if not record.completed:
                return None
            refits[member.name] = record
        name = f"{self.ctx.plan.name}-WeightedEnsemble-L2-FULL"
        if self._kept(name):
            return None
        weights = {refits[n].name: w for n, w in ensemble.weights.items()}
        defn = definition(name, "weighted-ensemble", self.ctx.dataset.problem_type.value, self.ctx.plan.objective,
                          Level=2, Members=weights, RefitOf=ensemble.name)
        record = start(self.ctx, name, "weighted-ensemble", defn)
        ended, record = train(self.ctx, self.executor, record,
                              SaveFullEnsemble(defn, {r.name: r.model_uri for r in refits.values()}, weights,
                                               self._speeds(), self.scratch, self.ctx.output),
                              self.planner.training_end())
        self.records.append(self._scored_as(record, ensemble))
        return ended

    def _speeds(self) -> dict[str, dict]:
        return {r.name: {"predict_s_per_1k": r.predict_s_per_1k, "inference_latency_s": r.inference_latency_s}
                for r in self.records if r.completed}

    def _scored_as(self, record: Candidate, source: Candidate) -> Candidate:
        """A refit has no unseen rows unless the user gave a validation channel: it reports its source's score,
        says so, and is preferred on that tie only where the source saw fewer rows (a hold-out fold)."""
        if not record.completed or record.objective_value is not None:
            return record
        holdout = len(self.layer1.scored_folds) < self.k
        record = replace(record, metrics=source.metrics, objective_value=source.objective_value,
                         score_source=f"estimated: the {'hold-out' if holdout else 'out-of-fold'} score of "
                                      f"{source.name}",
                         tie_rank=-1 if holdout else 1)
        self.ctx.record(record)
        return record
