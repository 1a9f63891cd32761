"""What the detached process that runs one job does (the scheduler starts it as `automl.worker_boot`).

It heartbeats, watches for StopAutoMLJob, moves the status through SageMaker's stages, hands the data to
the mode's runner and writes the outputs. Any error ends the job Failed with a reason a user can act on.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from automl import artifacts, endpoints, scheduler
from automl.artifacts import JobOutput, copy_model, dump_model, read_bytes, write_bytes, write_json
from automl.budget import Budget
from automl.candidate import Candidate, CandidateStatus, RunEnd
from automl.channels import read_frame
from automl.dataset import load_dataset
from automl.endpoints import Endpoint
from automl.errors import AutoMLError, field_error
from automl.forecast_metrics import FORECAST_METRIC_NAMES, FORECAST_METRICS
from automl.forecast_plan import ForecastPlan, load_plan
from automl.leaderboard import rank, to_csv
from automl.metrics import METRICS
from automl.problem import Mode
from automl.processes import busy_cores
from automl.reports import job_reports
from automl.responses import saved_describe
from automl.series import build_series
from automl.serving import load_served
from automl.spec import JobPlan
from automl.store import RUNNING, TERMINAL, JobStatus, Store
from automl.summary import definitions_markdown
from runners import runner_for
from runners.base import RunContext, Runner
from runners.training import save_dataset

HEARTBEAT_S = 1.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

log = logging.getLogger("automl.worker")

ENDINGS = {  # why the runner ended -> the job's (status, secondary status)
    RunEnd.COMPLETED: (JobStatus.COMPLETED, RunEnd.COMPLETED.value),
    RunEnd.MAX_CANDIDATES: (JobStatus.COMPLETED, RunEnd.MAX_CANDIDATES.value),
    RunEnd.MAX_RUNTIME: (JobStatus.COMPLETED, RunEnd.MAX_RUNTIME.value),
    RunEnd.STOPPED: (JobStatus.STOPPED, RunEnd.STOPPED.value),
}


class Watch:
    """Heartbeats from a thread and mirrors the job's stop flag into an Event the runner polls cheaply."""

    def __init__(self, store: Store, name: str):
        self.store, self.name = store, name
        self.stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(5)

    def _beat(self) -> None:
        self.store.heartbeat(self.name)
        if self.store.job(self.name).stop_requested:
            self.stop.set()

    def _loop(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            self._beat()


def stage(store: Store, name: str, status: JobStatus, secondary: str, **fields) -> bool:
    """A status change of the job, logged; a job ends only once its background reports are written."""
    if status in TERMINAL:
        job_reports.settle()
    moved = store.transition(name, status, secondary, **fields)
    if moved:
        log.info("%s: %s/%s", name, status.value, secondary)
    return moved


def run_job(store: Store, name: str, watch: Watch) -> None:
    job = store.job(name)
    plan = load_plan(job.plan)
    budget = job_budget(job, plan)
    if isinstance(plan, ForecastPlan):
        return run_forecast(store, plan, budget, watch)
    log.info("%s: worker %d started; mode %s, MaxAutoMLJobRuntimeInSeconds %d (%.1f s left), "
             "MaxRuntimePerTrainingJobInSeconds %d, MaxCandidates %s", name, os.getpid(), plan.mode.value,
             plan.max_job_runtime_s, budget.remaining_s(), plan.max_runtime_per_candidate_s, plan.max_candidates)
    stage(store, name, JobStatus.IN_PROGRESS, "AnalyzingData")
    dataset = load_dataset(plan, job_reports.explore(store, plan, read_frame(plan.training)))
    if plan.problem_type is None:
        plan = plan.with_problem(dataset.problem_type)
        store.update_job(name, plan=plan.to_json())
    log.info("%s: %d training and %d validation rows (%s), %d features, %s, objective %s; %d rows excluded",
             name, len(dataset.y_train), len(dataset.y_valid),
             "validation channel" if dataset.validation_given else "split off the training channel",
             len(dataset.kinds), dataset.problem_type.value, plan.objective, dataset.excluded_rows)
    if watch.stop.is_set():
        return finish(store, plan, RunEnd.STOPPED)
    stage(store, name, JobStatus.IN_PROGRESS, "FeatureEngineering")
    runner = runner_for(plan.mode)()
    dataset_path = scratch_dir(store, name) / "dataset.joblib"
    save_dataset(dataset, dataset_path)
    ctx = run_context(store, plan, dataset, dataset_path, training_budget(budget), watch.stop.is_set)
    del dataset  # the runner holds it (and may trade it for a sample)
    if plan.definitions_only:
        definitions = runner.definitions(ctx)
        write_json(ctx.output.candidate_definitions, definitions)
        write_bytes(ctx.output.candidate_summary,
                    definitions_markdown(plan.name, plan.mode.value, definitions).encode())
        job_reports.candidate_notebook(store, plan, store.job(name).request, definitions)
        stage(store, name, JobStatus.COMPLETED, "CandidateDefinitionsGenerated")
        return write_json(ctx.output.describe, saved_describe(store.job(name), []))
    stage(store, name, JobStatus.IN_PROGRESS, runner.secondary_status)
    job_reports.preload()
    reason = runner.run(ctx)
    finish(store, plan, RunEnd.STOPPED if watch.stop.is_set() else reason, Reports(runner, ctx, budget))


def run_forecast(store: Store, plan: ForecastPlan, budget: Budget, watch: Watch) -> None:
    """A forecasting job: the series built from the training channel, then the forecasting runner."""
    name = plan.name
    log.info("%s: worker %d started; time-series forecasting, MaxAutoMLJobRuntimeInSeconds %d (%.1f s left), "
             "horizon %d at %s, quantiles %s", name, os.getpid(), plan.max_job_runtime_s, budget.remaining_s(),
             plan.horizon, plan.frequency, ",".join(plan.quantiles))
    stage(store, name, JobStatus.IN_PROGRESS, "AnalyzingData")
    data = build_series(job_reports.explore(store, plan, read_frame(plan.training)), plan)
    log.info("%s: %d series (%d dropped as shorter than the horizon), %d rows, covariates %s", name,
             len(data.keys), data.dropped, len(data.history), ", ".join(data.covariates) or "none")
    if watch.stop.is_set():
        return finish(store, plan, RunEnd.STOPPED)
    stage(store, name, JobStatus.IN_PROGRESS, "FeatureEngineering")
    dataset_path = scratch_dir(store, name) / "series.joblib"
    dump_model(str(dataset_path), data)
    ctx = run_context(store, plan, data, dataset_path, training_budget(budget), watch.stop.is_set)
    runner = runner_for(plan.mode)()
    stage(store, name, JobStatus.IN_PROGRESS, runner.secondary_status)
    job_reports.preload()
    reason = runner.run(ctx)
    finish(store, plan, RunEnd.STOPPED if watch.stop.is_set() else reason, Reports(runner, ctx, budget))


def run_context(store: Store, plan: JobPlan, dataset, dataset_path: Path, budget: Budget,
                should_stop) -> RunContext:
    """What a runner sees of the job: its candidates are read from and written to this store."""
    return RunContext(plan=plan, dataset=dataset, dataset_path=dataset_path, budget=budget,
                      output=JobOutput(plan.job_output), should_stop=should_stop,
                      record=lambda record: record_candidate(store, plan.name, record),
                      recorded=lambda: {c.name: c for c in store.candidates(plan.name)},
                      threads=lambda: fair_share_threads(store))


def record_candidate(store: Store, job: str, record: Candidate) -> None:
    """Store a candidate, and log its start and its end."""
    store.put_candidate(job, record)
    if record.status is CandidateStatus.IN_PROGRESS:
        log.info("%s: candidate %s (%s) started", job, record.name, record.algorithm)
        return
    took = (record.end_time or time.time()) - record.creation_time
    if record.completed and record.objective_value is not None:
        log.info("%s: candidate %s Completed in %.1f s, %s %.6g", job, record.name, took,
                 record.definition.get("ObjectiveMetric", "objective"), record.objective_value)
    else:
        log.info("%s: candidate %s %s in %.1f s%s", job, record.name, record.status.value, took,
                 f": {record.failure_reason}" if record.failure_reason else "")


class JobEnded:
    """For a joining worker: whether the job was stopped or ended, read from the store at most once a second."""

    def __init__(self, store: Store, name: str):
        self.store, self.name, self.checked, self.ended = store, name, 0.0, False

    def __call__(self) -> bool:
        if not self.ended and time.time() - self.checked >= HEARTBEAT_S:
            job = self.store.job(self.name)
            self.ended = job.stop_requested or job.status is not JobStatus.IN_PROGRESS
            self.checked = time.time()
        return self.ended


def join(store: Store, name: str) -> str:
    """`automl join NAME`: one more worker, in this process, for the study of a running tuning job. It runs
    trials until the job's cap, time or stop, recording them as the job's candidates; the job's own worker
    waits for them and ends the job."""
    job = store.job(name)
    plan = load_plan(job.plan)
    if plan.mode is not Mode.HYPERPARAMETER_TUNING:
        raise field_error("AutoMLJobName", "only a HYPERPARAMETER_TUNING job's study can be joined; this job runs "
                          f"in {plan.mode.value} mode", job.name)
    if job.status is not JobStatus.IN_PROGRESS or job.queued:
        raise field_error("AutoMLJobName", f"only a running job can be joined; the job is "
                          f"{'queued' if job.queued else job.status.value}", job.name)
    dataset = load_dataset(plan)
    if plan.problem_type is None:
        plan = plan.with_problem(dataset.problem_type)
    scratch = store.root / "scratch" / f"{name.lower()}-join-{os.getpid()}"
    try:
        save_dataset(dataset, scratch / "dataset.joblib")
        ctx = run_context(store, plan, dataset, scratch / "dataset.joblib", training_budget(job_budget(job, plan)),
                          JobEnded(store, name))
        return runner_for(plan.mode)().join(ctx)  # the tuning runner: the mode was checked above
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def job_budget(job, plan: JobPlan) -> Budget:
    """The clock starts when the scheduler admitted the job, before this process started; a resumed job's
    earlier workers' time is already spent."""
    started = min(time.time(), job.started_at or job.last_modified_time) - job.spent_s
    return Budget(started, plan.max_job_runtime_s, plan.max_runtime_per_candidate_s, plan.max_candidates)


def training_budget(budget: Budget) -> Budget:
    """The runner's budget ends early by the time kept for the best candidate's reports."""
    kept = job_reports.reserve_s(budget.max_job_runtime_s)
    return replace(budget, max_job_runtime_s=max(1.0, budget.max_job_runtime_s - kept))


@dataclass
class Reports:
    """What `finish` needs to report on the best candidate: the runner that made it, and the job's budget."""

    runner: Runner
    ctx: RunContext
    budget: Budget

    @property
    def deadline(self) -> float:
        """When the reports must be done: within the budget, and in no more than their share of it or of the
        time the job has taken so far (a job that trained for 20 s of a 30-day budget waits seconds, not minutes)."""
        now = time.time()
        return min(self.budget.deadline, now + job_reports.report_s(now - self.budget.started_at))


def fair_share_threads(store: Store) -> int:
    """The cores split between the jobs running now, and no more than other processes leave free: OpenMP
    boosters slow down many times over when two jobs each claim every core, or when one claims a core another
    process keeps busy (lightgbm, 50 rounds on breast cancer with one of two cores busy: 12.5 s on two
    threads, 0.3 s on one)."""
    running = sum(1 for j in store.jobs() if not j.queued and j.status in RUNNING)
    cores = os.cpu_count() or 1
    return max(1, min(cores // max(1, running), cores - busy_cores()))


def scratch_dir(store: Store, name: str) -> Path:
    """Working files of a running job (the saved dataset); removed when the worker ends."""
    return store.root / "scratch" / name.lower()


def finish(store: Store, plan: JobPlan, reason: RunEnd, reports: Reports | None = None) -> None:
    """Pick the best finished candidate, write the outputs and (unless the job was stopped) the best
    candidate's reports, then move the job to its terminal status."""
    records = store.candidates(plan.name)
    output = JobOutput(plan.job_output)
    forecasting = isinstance(plan, ForecastPlan)
    metric = (FORECAST_METRICS if forecasting else METRICS)[plan.objective] if plan.objective else None
    ranked = rank(records, metric) if metric else records
    best = next((r for r in ranked if r.completed), None)
    if records and metric:
        write_bytes(output.leaderboard, to_csv(records, metric, plan.problem_type, plan.mode.value,
                                               FORECAST_METRIC_NAMES if forecasting else ()))
    status, secondary = ENDINGS[reason]
    if reports is not None and not forecasting and best is not None:  # a stopped job's candidates too
        job_reports.candidate_notebook(store, plan, store.job(plan.name).request, job_reports.definitions_of(records))
    if best is not None and reports is not None and status is JobStatus.COMPLETED:
        try:
            best = report_on(store, plan, best, records, reports)
        except Exception as exc:  # a report never fails its job
            log.exception("%s: reports of %s failed", plan.name, best.name)
            store.note_reports(plan.name, skipped=f"reports of {best.name} skipped: {type(exc).__name__}: {exc}")
    fields = {}
    if best is not None:
        copy_model(best.model_uri, output.best_model)
        write_bytes(output.best_definition, read_bytes(best.definition_uri))
        if forecasting:
            write_bytes(output.best_forecasts, read_bytes(output.forecasts(best.name)))
        fields["best_candidate"] = {"name": best.name}
    elif status is JobStatus.COMPLETED:
        reasons = "; ".join(r.failure_reason for r in records if r.failure_reason)[:900]
        status, secondary = JobStatus.FAILED, "Failed"
        fields["failure_reason"] = (f"no candidate finished ({reason.value}): {reasons}" if reasons else
                                    f"no candidate finished ({reason.value})")
    endpoint = endpoints.requested_name(store.job(plan.name).request)
    if best is not None and endpoint is not None and status is JobStatus.COMPLETED:
        stage(store, plan.name, JobStatus.IN_PROGRESS, "DeployingModel")
        try:
            deploy(store, plan, best, endpoint)
            fields["deploy_result"] = {"EndpointName": endpoint}
        except Exception as exc:  # the job keeps its models and outputs; only the endpoint is missing
            log.exception("%s: deploying endpoint %s failed", plan.name, endpoint)
            status, secondary = JobStatus.FAILED, "ModelDeploymentError"
            message = exc.message if isinstance(exc, AutoMLError) else f"{type(exc).__name__}: {exc}"
            fields["failure_reason"] = f"deploying endpoint {endpoint!r} failed: {message}"
    stage(store, plan.name, status, secondary, only_from=RUNNING, **fields)
    if best is not None:
        log.info("%s: best candidate %s, %s %.6g", plan.name, best.name, plan.objective, best.objective_value)
    elif fields.get("failure_reason"):
        log.error("%s: %s", plan.name, fields["failure_reason"])
    write_json(output.describe, saved_describe(store.job(plan.name), store.candidates(plan.name)))


def report_on(store: Store, plan: JobPlan | ForecastPlan, best: Candidate, records: list[Candidate],
              reports: Reports) -> Candidate:
    """The best candidate's model insights and explainability; the best candidate recorded again with its
    reports' locations."""
    if isinstance(plan, ForecastPlan):
        stage(store, plan.name, JobStatus.IN_PROGRESS, "GeneratingModelInsightsReport")
        best = job_reports.forecast_reports(store, plan, best, reports.ctx.dataset.history)
    else:
        stage(store, plan.name, JobStatus.IN_PROGRESS, "GeneratingModelInsightsReport")
        held = reports.runner.held_out(reports.ctx, best, job_reports.INSIGHT_ROWS)
        if held is None:
            return best
        others = reports.runner.held_out_predictions(reports.ctx, [r for r in records if r.name != best.name],
                                                     job_reports.INSIGHT_ROWS)
        job_reports.keep_held_out(reports.ctx.output, held, {best.name: held.prediction} | others)
        reports.runner.release()
        reports.ctx.dataset = None  # the held-out rows are all the reports need of the data
        gc.collect()
        best = job_reports.candidate_reports(store, plan, best, held, reports.deadline,
                                             on_explain=lambda: stage(store, plan.name, JobStatus.IN_PROGRESS,
                                                                      "GeneratingExplainabilityReport"))
    store.put_candidate(plan.name, best)
    return best


def deploy(store: Store, plan: JobPlan | ForecastPlan, best: Candidate, endpoint: str) -> None:
    """ModelDeployConfig: the best model (the job output's copy) must load and answer before its endpoint is
    InService; `automl serve` then serves it."""
    model_uri = JobOutput(plan.job_output).best_model
    load_served(store, Endpoint(name=endpoint, job=plan.name, candidate=best.name, model_uri=model_uri,
                                status="Creating", creation_time=time.time(), last_modified_time=time.time())).check()
    endpoints.insert(store, endpoint, plan.name, best.name, model_uri)
    log.info("%s: endpoint %s InService (automl serve serves it)", plan.name, endpoint)


def fail(store: Store, name: str, reason: str) -> None:
    log.error("%s: Failed: %s", name, reason)
    stage(store, name, JobStatus.FAILED, "Failed", only_from=RUNNING, failure_reason=reason[:1024])
    job = store.job(name)
    with contextlib.suppress(OSError):  # the output location itself may be what failed; the store has the reason
        write_json(JobOutput(load_plan(job.plan).job_output).describe, saved_describe(job, store.candidates(name)))


def sweep(store: Store, name: str) -> None:
    """A resumed job's output folder may hold the temporary file of a write its killed worker never finished;
    it goes before this worker writes (anything older than the job's admission is a dead writer's)."""
    job = store.job(name)
    removed = artifacts.remove_stale_temporary(load_plan(job.plan).job_output, job.started_at or job.creation_time)
    if removed:
        log.info("%s: removed %d temporary file(s) an ended worker left unfinished", name, removed)


def unforeseen(store: Store, name: str, exc: Exception) -> str:
    """The FailureReason of an error no rule names. One writing the job's outputs (a full or read-only disk) is
    the user's to fix, so it says which file and why in words; anything else is an internal error."""
    output = artifacts.public_uri(load_plan(store.job(name).plan).job_output).rstrip("/") + "/"
    if isinstance(exc, OSError) and exc.strerror and str(exc.filename).startswith(output):
        return (f"OutputDataConfig.S3OutputPath: cannot write the job's output {exc.filename}: "
                f"{exc.strerror.lower()} (the output location must be writable and have room for the job's "
                "models and reports)")
    return "internal error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip()


def main(argv: list[str]) -> int:
    name = argv[0]
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)  # the job's log file
    logging.getLogger("shap").setLevel(logging.WARNING)  # its kernel explainer logs every row's arrays at INFO
    store = Store()
    try:
        sweep(store, name)
        with Watch(store, name) as watch:
            run_job(store, name, watch)
    except AutoMLError as exc:
        fail(store, name, exc.message)
    except Exception as exc:
        log.exception("%s: internal error", name)
        fail(store, name, unforeseen(store, name, exc))
    finally:
        shutil.rmtree(scratch_dir(store, name), ignore_errors=True)
        scheduler.kick(store)
    return 0

