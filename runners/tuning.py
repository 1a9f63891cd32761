"""The HYPERPARAMETER_TUNING mode: optuna searches candidate pipelines (algorithm, preprocessing options and
hyperparameters); every trial is a candidate, trained in its own process under the per-candidate limit.

Trials run side by side on the job's cores (one thread each), are sampled by multivariate TPE with a
constant liar and pruned by Hyperband on each algorithm's fidelity (rounds, epochs, rows). Data above
TUNING_ROWS training (VALIDATION_ROWS validation) rows is tuned on a seeded subsample; the best pipeline is
then trained on every training row as the final candidate, or on as many as the time left affords (a network
for a few epochs, not the trial's count, with its learning rate annealed: `Algorithm.final_fit`). The study
lives in storage beside the job, so a resumed worker or a joining one continues it without repeating finished
trials.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import joblib
import numpy as np

import algorithms
from algorithms.base import FULL_RESOURCE, Pruned
from automl.artifacts import JobOutput, load_model, read_bytes
from automl.candidate import PRUNED, Candidate, CandidateStatus, RunEnd
from automl.dataset import Dataset
from automl.held_out import HeldOut, sample_positions, sampled
from automl.metrics import METRICS
from runners import memory
from runners import study as studies
from runners.base import RunContext, Runner
from runners.executors import OutcomeStatus, executor_for
from runners.launch import blocked, conclude, execute, failed, start
from runners.planner import MEMORY_SHARE
from runners.preprocessing import pipeline_space
from runners.training import definition, fit_model, measure, save, soft_deadline, task_for

log = logging.getLogger(__name__)

TUNING_ROWS = 100_000
VALIDATION_ROWS = 50_000
SAMPLE_SEED = 0
# At most this share of the job's budget is kept for the final fit on more rows: on a 1 GB table a quarter let
# the best pipeline see 4% of the rows, and trials past the first dozen gained less than more rows do.
REFIT_RESERVE_SHARE = 0.4
REFIT_MIN_GAIN = 2  # a final fit on part of the rows is worth it from this many times the trials' rows
REFIT_TIME_SHARE = 0.8  # of the time a partial final fit has: the rest covers loading and scoring
# Two trials whose scores differ by less than this many standard errors of their paired difference on the
# validation rows (bootstrap, TIE_RESAMPLES resamples) are tied; of tied trials the final fit takes the one it
# can give REFIT_MIN_GAIN times more rows.
TIE_SPREAD = 2.0
TIE_RESAMPLES = 100
TIE_RIVALS = 3  # the best-scored trials of the others that are checked for a tie
OTHERS_POLL_S = 0.5
# Once a final fit is planned, no trial starts with less time than this before it: the trial could not finish.
MIN_TRIAL_S = 10.0
# A trial is asked, then named with its worker in a second write: a trial found RUNNING without a worker this
# soon after it started is in that gap (a live worker's), not a dead worker's.
UNNAMED_GRACE_S = 60.0
RECORDED_END = {CandidateStatus.COMPLETED: "COMPLETE", CandidateStatus.STOPPED: "PRUNED",
                CandidateStatus.FAILED: "FAIL"}  # candidate status -> trial state


@dataclass(frozen=True)
class TrialSpec:
    """What a training process needs to run one trial and report its progress to the study."""

    name: str
    number: int
    trial_id: int
    storage: str
    study: str
    algorithm: str
    params: dict
    options: dict
    objective: str


@dataclass(frozen=True)
class RunTrial:
    """The executor's task: fit the pipeline on the (tuning) training rows, stopping early on the validation
    rows and reporting to the pruner; a pruned trial returns where it stopped instead of a model. `algorithm`
    is the class resolved by the runner (pickled by reference)."""

    spec: TrialSpec
    algorithm: type
    dataset_path: Path
    output: JobOutput
    threads: int

    def run(self, deadline: float) -> dict:
        began, spec = time.time(), self.spec
        dataset = joblib.load(self.dataset_path)
        defn = definition(spec.name, spec.algorithm, spec.params, spec.options, dataset, spec.objective) | {
            "Trial": spec.number}
        try:
            return _fit_and_save(self.algorithm, spec.params, spec.options, defn, dataset, self.output, self.threads,
                                 began, deadline, studies.Rungs(spec.storage, spec.study, spec.trial_id))
        except Pruned as pruned:
            return {"pruned": str(pruned), "fit_s": time.time() - began}


@dataclass(frozen=True)
class Refit:
    """The executor's task: the best pipeline on those training rows (None: every one) of the saved full
    dataset, scored on the same validation rows the trials were scored on."""

    definition: dict
    algorithm: type
    full_path: Path
    train_rows: np.ndarray | None
    valid_rows: np.ndarray
    output: JobOutput
    threads: int

    def run(self, deadline: float) -> dict:
        began, defn = time.time(), self.definition
        dataset = _subset(joblib.load(self.full_path), self.train_rows, self.valid_rows)
        return _fit_and_save(self.algorithm, defn["Hyperparameters"], defn["Preprocessing"]["Options"], defn,
                             dataset, self.output, self.threads, began, deadline)


def _fit_and_save(cls: type, params: dict, options: dict, defn: dict, dataset: Dataset, output: JobOutput,
                  threads: int, began: float, hard_deadline: float, progress=None) -> dict:
    """What a trial and the final fit share: the pipeline fitted on the training rows (stopping early on the
    validation rows), scored on those, and saved with its definition."""
    model = fit_model(cls, params, dataset.problem_type, dataset.kinds, dataset.classes, threads,
                      (dataset.X_train, dataset.y_train, dataset.w_train),
                      (dataset.X_valid, dataset.y_valid, dataset.w_valid), soft_deadline(began, hard_deadline),
                      options, progress)
    fit_s, fit = time.time() - began, model.algorithm.describe_fit()
    measured, _ = measure(model, dataset, defn["ObjectiveMetric"])
    return measured | save(output, defn | {"Fit": fit}, model) | {
        "fit_s": fit_s, "rows": len(dataset.y_train), "fold_facts": [{"fit_s": fit_s} | fit]}


def _subset(dataset: Dataset, train_rows: np.ndarray | None, valid_rows: np.ndarray) -> Dataset:
    """The dataset on those rows; `train_rows` None keeps every training row (without copying them)."""
    def take(values, rows):
        return None if values is None else values[rows]
    dataset = replace(dataset, X_valid=dataset.X_valid.iloc[valid_rows], y_valid=dataset.y_valid[valid_rows],
                      w_valid=take(dataset.w_valid, valid_rows))
    if train_rows is None:
        return dataset
    return replace(dataset, X_train=dataset.X_train.iloc[train_rows], y_train=dataset.y_train[train_rows],
                   w_train=take(dataset.w_train, train_rows))


def sample_rows(n: int, cap: int) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, cap, replace=False))


class TuningRunner(Runner):
    secondary_status = "ModelTuning"

    @classmethod
    def prepare(cls, plan, home: Path):
        """The study's storage is fixed and its tables made once, when the job is created: workers starting
        together would race to make them."""
        plan = replace(plan, study_storage=studies.storage_url(home, plan.name))
        studies.create_storage(plan.study_storage)
        return plan

    def definitions(self, ctx: RunContext) -> list[dict]:
        """One pipeline per algorithm: its defaults and the space the search explores around them."""
        task = task_for(ctx.dataset.problem_type, ctx.dataset.classes, 1)
        out = []
        for algorithm in ctx.plan.algorithms:
            cls = algorithms.get(algorithm)
            defn = definition(f"{ctx.plan.name}-{algorithm}-pipeline", algorithm, {}, {}, ctx.dataset,
                              ctx.plan.objective)
            defn["HyperparameterRanges"] = {k: studies.describe_distribution(d)
                                            for k, d in cls.search_space(task).items()}
            defn["Preprocessing"]["OptionRanges"] = {k: studies.describe_distribution(d) for k, d in
                                                     pipeline_space(cls.preprocessing, ctx.dataset.kinds).items()}
            defn["Tuning"] = {"Sampler": "TPE (multivariate, grouped, constant liar)",
                              "Pruner": f"Hyperband (steps {studies.MIN_RESOURCE}..{FULL_RESOURCE}, "
                                        f"reduction factor {studies.REDUCTION_FACTOR})",
                              "Fidelity": FIDELITY[cls.preprocessing],
                              "MaxTrials": ctx.plan.max_candidates}
            out.append(defn)
        return out

    def run(self, ctx: RunContext) -> RunEnd:
        search = _Search(ctx)
        reason = search.tune()
        if reason is RunEnd.STOPPED:
            return reason
        search.wait_for_others()
        if search.subsampled:  # the trials kept time for this even when the job's limit ended them
            ended = search.refit_best()
            if ended:
                return ended
        return reason

    def held_out(self, ctx: RunContext, record: Candidate, max_rows: int) -> HeldOut | None:
        """Every candidate of the mode is scored on the same validation rows (a sample of at most
        VALIDATION_ROWS); its model predicts them again."""
        data = ctx.dataset
        scored = sample_rows(len(data.y_valid), VALIDATION_ROWS)
        rows = scored[sample_positions(len(scored), max_rows)]
        X = data.X_valid.iloc[rows].reset_index(drop=True)
        return HeldOut(data.problem_type, data.classes, data.positive_index, X, data.y_valid[rows],
                       None if data.w_valid is None else data.w_valid[rows],
                       load_model(record.model_uri).predict_raw(X),
                       sampled("the validation channel" if data.validation_given else "the validation rows",
                               len(rows), len(scored)))

    def join(self, ctx: RunContext) -> RunEnd:
        """Another worker's share of the same study: trials only; the job's own worker ends the job."""
        return _Search(ctx).tune()


FIDELITY = {"tree": "boosting rounds", "neural": "epochs", "linear": "training rows"}


class _Search:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.plan = ctx.plan
        self.study = studies.open_study(self.plan.study_storage, self.plan.name,
                                        "maximize" if METRICS[self.plan.objective].maximize else "minimize")
        self.lock = threading.Lock()
        self.worker = studies.worker_id()
        self.executor = executor_for(self.plan, ctx.should_stop)
        self.task = task_for(ctx.dataset.problem_type, ctx.dataset.classes, 1)
        train_rows = sample_rows(len(ctx.dataset.y_train), TUNING_ROWS)
        self.valid_rows = sample_rows(len(ctx.dataset.y_valid), VALIDATION_ROWS)
        self.subsampled = len(train_rows) < len(ctx.dataset.y_train) or len(self.valid_rows) < len(
            ctx.dataset.y_valid)
        self.rows, self.sample = len(ctx.dataset.y_train), len(train_rows)
        # The final fit runs alone once the trials end, on the job's share of the cores as it is now, before the
        # trials take them (counted while they run, one free core halved the rows a final fit was planned for).
        self.final_threads = max(1, ctx.threads())
        self.kept_s = 1.0  # time kept for the final fit, once planned (later trials do not take it back)
        self.data_path = ctx.dataset_path
        if self.subsampled:
            self.data_path = ctx.dataset_path.parent / f"tuning-{os.getpid()}.joblib"
            # From here on this process needs only the sample (the refit reads every row from the saved
            # dataset), so the full frame is let go: the refit's process is then the only one holding it.
            ctx.dataset = _subset(ctx.dataset, train_rows, self.valid_rows)
            memory.release()
            joblib.dump(ctx.dataset, self.data_path)

    def tune(self) -> RunEnd:
        self._fail_dead_trials()
        self._seed_trials()
        self.executor.warm()
        slots = self.executor.workers() or max(1, self.ctx.threads())
        with ThreadPoolExecutor(slots) as pool:
            reasons = list(pool.map(lambda _: self._trials(), range(slots)))
        for reason in (RunEnd.STOPPED, RunEnd.MAX_RUNTIME, RunEnd.MAX_CANDIDATES):
            if reason in reasons:
                return reason
        return RunEnd.COMPLETED

    def _seed_trials(self) -> None:
        """A new study's first trials are each algorithm's defaults, then its portfolio (configurations proven on
        other data), round-robin: the search starts from known good pipelines instead of random ones (on a 1 GB
        table a random xgboost trial was often far worse than the defaults)."""
        if self.study.get_trials(deepcopy=False):
            return
        queues = []
        for algorithm in self.plan.algorithms:
            cls = algorithms.get(algorithm)
            space = cls.search_space(self.task)
            queues.append([{"algorithm": algorithm} | {f"{algorithm}:{k}": v for k, v in params.items()
                                                       if k in space and studies.within(space[k], v)}
                           for params in (cls.default_params(self.task), *cls.portfolio(self.task))])
        for params in (p for level in itertools.zip_longest(*queues) for p in level if p is not None):
            self.study.enqueue_trial(params, skip_if_exists=True)

    def _need_s(self) -> float:
        """Time to keep for the final fit when trials subsample: its pipeline's trial scaled to every row, at most
        a share of the budget (then the final fit takes the rows that share affords). When that share affords too
        few rows to matter, no final fit is planned and the trials keep the time."""
        if not self.subsampled:
            return self.kept_s
        reserve = REFIT_RESERVE_SHARE * self.ctx.budget.max_job_runtime_s
        fit_s = self._refit_source(reserve)[1]
        if fit_s is not None:
            every_row_s = self._seconds_per_row(fit_s) * self.rows
            need = every_row_s if every_row_s <= reserve else (reserve if self._refit_rows(reserve, fit_s) else 1.0)
            self.kept_s = max(self.kept_s, need)
        return self.kept_s

    def _ranked(self, recorded: dict[str, Candidate]) -> list[tuple[str, float | None]]:
        """The completed trials' candidates, best first, and the seconds of each one's fit that a final fit
        repeats per row (`Algorithm.final_fit`)."""
        with self.lock:
            done = self.study.get_trials(deepcopy=False, states=(_state("COMPLETE"),))
            maximize = self.study.direction.name == "MAXIMIZE"
        ranked = []
        for trial in sorted(done, key=lambda t: t.value, reverse=maximize):
            record = recorded.get(trial.user_attrs.get("candidate"))
            if record is not None:
                ranked.append((record.name, _final_work_s(record)))
        return ranked

    def _refit_source(self, seconds: float) -> tuple[str | None, float | None]:
        """The trial whose pipeline the final fit trains on more rows, and the seconds it took to fit: the best
        one that a fit of `seconds` trains on enough more rows to matter (REFIT_MIN_GAIN), whichever worker ran
        it. A booster fits rows many times faster than an mlp: where the best trial (an mlp) could not be fitted
        on enough rows, the best xgboost trial can."""
        return self._first_refittable(self._ranked(self.ctx.recorded()), seconds)

    def _first_refittable(self, ranked: list[tuple[str, float | None]],
                          seconds: float) -> tuple[str | None, float | None]:
        for name, fit_s in ranked:
            if fit_s is None or self._refit_rows(seconds, fit_s):
                return name, fit_s
        return ranked[0] if ranked else (None, None)

    def _final_source(self, seconds: float) -> tuple[str | None, float | None]:
        """The refit source, unless another trial is tied with it on the validation rows and a fit of `seconds`
        trains it on REFIT_MIN_GAIN times more rows: within the validation's noise, rows decide (on a 1 GB table
        an mlp best by a hair was refit on 236k rows where an xgboost could have had millions)."""
        recorded = self.ctx.recorded()
        ranked = self._ranked(recorded)
        source, fit_s = self._first_refittable(ranked, seconds)
        rows = 0 if fit_s is None else self._refit_rows(seconds, fit_s)
        if not rows:
            return source, fit_s
        rivals = [(name, rival_s) for name, rival_s in ranked if name != source and rival_s is not None
                  and self._refit_rows(seconds, rival_s) >= REFIT_MIN_GAIN * rows][:TIE_RIVALS]
        if not rivals:
            return source, fit_s
        best = self._validation_prediction(recorded[source])
        for name, rival_s in rivals:
            if self._tied(best, self._validation_prediction(recorded[name])):
                log.info("%s: %s is tied with %s on the validation rows and its final fit sees %d rows, not %d",
                         self.plan.name, name, source, self._refit_rows(seconds, rival_s), rows)
                return name, rival_s
        return source, fit_s

    def _validation_prediction(self, record: Candidate) -> np.ndarray:
        return load_model(record.model_uri).predict_raw(self.ctx.dataset.X_valid)

    def _tied(self, best: np.ndarray, rival: np.ndarray) -> bool:
        """Whether the best trial's lead over the rival on the validation rows is within TIE_SPREAD standard
        errors of their paired difference (both scored on the same bootstrap resamples)."""
        data, metric = self.ctx.dataset, METRICS[self.plan.objective]

        def lead(rows) -> float:
            y, w = data.y_valid[rows], None if data.w_valid is None else data.w_valid[rows]
            ahead = metric.fn(y, best[rows], w, data.positive_index) - metric.fn(y, rival[rows], w,
                                                                                 data.positive_index)
            return ahead if metric.maximize else -ahead

        n = len(data.y_valid)
        rng = np.random.default_rng(SAMPLE_SEED)
        try:
            spread = np.std([lead(rng.integers(0, n, n)) for _ in range(TIE_RESAMPLES)])
            return bool(lead(np.arange(n)) <= TIE_SPREAD * spread)
        except ValueError:  # a resample of a small validation channel can miss a class: no tie is shown
            return False

    def _seconds_per_row(self, fit_s: float) -> float:
        """A trial's fit time per training row on the job's threads (training time grows about linearly with
        rows, and the final fit has every thread where a trial had one)."""
        return fit_s / self.sample / self.final_threads

    def _refit_rows(self, seconds: float, fit_s: float) -> int:
        """Training rows for a final fit in `seconds` of a pipeline whose trial took `fit_s`: every row when
        they fit, else as many as fit, or 0 when that is under REFIT_MIN_GAIN times the trials' sample."""
        if seconds >= self._seconds_per_row(fit_s) * self.rows:
            return self.rows
        rows = int(REFIT_TIME_SHARE * seconds / self._seconds_per_row(fit_s))
        return rows if rows >= REFIT_MIN_GAIN * self.sample else 0

    def _trials(self) -> RunEnd:
        while True:
            need = self._need_s()
            why = blocked(self.ctx, 0, need + MIN_TRIAL_S if need > 1.0 else need)
            if why:
                return why
            with self.lock:
                trial = self.study.ask()
                trial.set_user_attr("worker", self.worker)
                if self.plan.max_candidates is not None and trial.number >= self.plan.max_candidates:
                    trial.set_user_attr("refused", "beyond MaxCandidates")
                    self.study.tell(trial, state=_state("FAIL"))
                    return RunEnd.MAX_CANDIDATES
                spec = self._spec(trial)
            self._run(trial, spec)

    def _spec(self, trial) -> TrialSpec:
        algorithm = trial.suggest_categorical("algorithm", list(self.plan.algorithms))
        cls = algorithms.get(algorithm)
        params = {k: studies.suggest(trial, f"{algorithm}:{k}", d) for k, d in cls.search_space(self.task).items()}
        options = {k: studies.suggest(trial, f"{algorithm}:pre:{k}", d)
                   for k, d in pipeline_space(cls.preprocessing, self.ctx.dataset.kinds).items()}
        name = f"{self.plan.name}-trial-{trial.number:03d}-{algorithm}"
        trial.set_user_attr("candidate", name)
        return TrialSpec(name, trial.number, trial._trial_id, self.plan.study_storage, self.plan.name, algorithm,
                         params, options, self.plan.objective)

    def _run(self, trial, spec: TrialSpec) -> None:
        defn = definition(spec.name, spec.algorithm, spec.params, spec.options, self.ctx.dataset, spec.objective)
        record = start(self.ctx, spec.name, spec.algorithm, defn | {"Trial": spec.number})
        cap = self.ctx.budget.deadline - self._need_s()  # the end of tuning: the rest is the refit's
        outcome, hard = execute(self.ctx, self.executor, record,
                                RunTrial(spec, algorithms.get(spec.algorithm), self.data_path, self.ctx.output, 1), cap)
        if outcome.status is OutcomeStatus.COMPLETED and "pruned" in outcome.result:
            record = record.finished(CandidateStatus.STOPPED, time.time(), {"fit_s": outcome.result["fit_s"]},
                                     f"{spec.name}: {PRUNED} at {outcome.result['pruned']}")
            self.ctx.record(record)
            with self.lock:
                self._tell(trial, state=_state("PRUNED"))
            return
        _, record = conclude(self.ctx, record, outcome, hard, cap)
        with self.lock:
            if record.completed:
                self._tell(trial, record.objective_value)
            else:
                self._tell(trial, state=_state("FAIL"))

    def _tell(self, trial, value=None, state=None) -> None:
        """The trial's end, unless another worker already ended it (it took this worker for dead): one trial's
        race must not end the job."""
        self.study.tell(trial, value, state=state, skip_if_finished=True)

    def _fail_dead_trials(self) -> None:
        """Trials left RUNNING by a worker that died (kill -9, a lost machine) end as Failed candidates, unless
        the worker had already recorded the candidate's end and died before telling the study: then the study
        learns that end, and the finished candidate is kept as it is."""
        recorded = None
        for frozen in self.study.get_trials(deepcopy=False, states=(_state("RUNNING"),)):
            worker = frozen.user_attrs.get("worker")
            if studies.worker_alive(worker) or (worker is None and _started_within(frozen, UNNAMED_GRACE_S)):
                continue
            recorded = self.ctx.recorded() if recorded is None else recorded
            # Every trial number is a candidate, even one whose worker died before naming it.
            algorithm = frozen.params.get("algorithm", "")
            name = frozen.user_attrs.get("candidate") or "-".join(
                filter(None, (f"{self.plan.name}-trial-{frozen.number:03d}", algorithm)))
            known = recorded.get(name)
            if known is not None and known.status in RECORDED_END:
                value = known.objective_value if known.completed else None
                self.study.tell(frozen.number, value, state=_state(RECORDED_END[known.status]), skip_if_finished=True)
                continue
            self.study.tell(frozen.number, state=_state("FAIL"), skip_if_finished=True)
            started = frozen.datetime_start.timestamp() if frozen.datetime_start else time.time()
            self.ctx.record(Candidate(name, algorithm, CandidateStatus.IN_PROGRESS, started).abandoned(time.time()))

    def _rows_in_memory(self, algorithm: str, params: dict) -> int:
        """Training rows whose final fit stays within the memory a candidate may use (AUTOML_MAX_MEMORY): its
        process holds the saved dataset whole, then the model's copies of the rows it fits."""
        limit = MEMORY_SHARE * memory.training_limit_bytes() - self.ctx.dataset_path.stat().st_size
        per_row = algorithms.get(algorithm).memory_bytes(self.rows, len(self.ctx.dataset.kinds), params) / self.rows
        return max(0, min(self.rows, int(limit / per_row)))

    def wait_for_others(self) -> None:
        """Trials of joined workers still running end (or the job's time does) before the job concludes; those
        of a worker found dead meanwhile are failed, not waited for: also when no time is left to wait, else they
        would stay RUNNING (their candidates InProgress) after the job ends."""
        self._fail_dead_trials()
        while self.study.get_trials(deepcopy=False, states=(_state("RUNNING"),)):
            if self.ctx.budget.remaining_s() <= 0 or self.ctx.should_stop():
                return
            time.sleep(OTHERS_POLL_S)
            self._fail_dead_trials()

    def refit_best(self) -> RunEnd | None:
        """The final source's pipeline (`_final_source`) trained on every training row, or on as many as the time
        left affords: the final candidate (it is the job's best only if it scores better than the trials on the
        same rows)."""
        if blocked(self.ctx, 0) in (RunEnd.STOPPED, RunEnd.MAX_RUNTIME):
            return None
        source, fit_s = self._final_source(self.ctx.budget.remaining_s())
        if source is None:
            return None
        rows = self.rows if fit_s is None else self._refit_rows(self.ctx.budget.remaining_s(), fit_s)
        if not rows:
            return None  # too few rows would fit in time; the best trial (fitted on the sample) stays the answer
        pipeline = json.loads(read_bytes(self.ctx.output.definition(source)))  # exactly what the trial fitted
        algorithm = pipeline["Algorithm"]
        params = pipeline["Hyperparameters"] | algorithms.get(algorithm).final_fit(pipeline.get("Fit", {}))[1]
        fitting = self._rows_in_memory(algorithm, params)
        if fitting < rows and fitting < REFIT_MIN_GAIN * self.sample:
            record = start(self.ctx, f"{self.plan.name}-{algorithm}-full", algorithm, {"RefitOf": source})
            failed(self.ctx, record, f"skipped: a final fit on more than the trials' {self.sample} rows needs more "
                                     f"memory than {memory.SETTING} allows ({fitting} rows would fit)")
            return None
        rows = min(rows, fitting)
        name = f"{self.plan.name}-{algorithm}-" + ("full" if rows == self.rows else f"{rows}-rows")
        defn = definition(name, algorithm, params, pipeline["Preprocessing"]["Options"], self.ctx.dataset,
                          self.plan.objective) | {"RefitOf": source, "TrainingRows": f"{rows} of {self.rows}"}
        record = start(self.ctx, name, algorithm, defn)
        train_rows = None if rows == self.rows else sample_rows(self.rows, rows)
        task = Refit(defn, algorithms.get(algorithm), self.ctx.dataset_path, train_rows, self.valid_rows,
                     self.ctx.output, max(1, self.ctx.threads()))
        ended, _ = conclude(self.ctx, record, *execute(self.ctx, self.executor, record, task))
        return ended


def _final_work_s(record: Candidate) -> float | None:
    """The seconds of a trial's fit that a final fit repeats per row: all of them, unless the algorithm says
    otherwise from the trial's fit (a network needs fewer epochs on more rows)."""
    if record.fit_s is None or not record.fold_facts:
        return record.fit_s
    return record.fit_s * algorithms.get(record.algorithm).final_fit(record.fold_facts[0])[0]


def _started_within(frozen, seconds: float) -> bool:
    return frozen.datetime_start is not None and time.time() - frozen.datetime_start.timestamp() < seconds


def _state(name: str):
    from optuna.trial import TrialState

    return TrialState[name]
