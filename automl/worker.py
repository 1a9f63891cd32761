"""The detached process that runs one job: `python -m automl.worker NAME` (started by the scheduler).

It heartbeats, watches for StopAutoMLJob, moves the status through SageMaker's stages, hands the data to
the mode's runner and writes the outputs. Any error ends the job Failed with a reason a user can act on.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

from automl import scheduler
from automl.artifacts import JobOutput, read_bytes, write_bytes, write_json
from automl.budget import Budget
from automl.dataset import load_dataset
from automl.errors import AutoMLError, field_error
from automl.leaderboard import rank, to_csv
from automl.metrics import METRICS
from automl.problem import Mode
from automl.processes import busy_cores
from automl.responses import describe
from automl.spec import JobPlan
from automl.store import Store
from automl.summary import definitions_markdown
from runners.base import RunContext
from runners.ensembling import EnsemblingRunner
from runners.tuning import TuningRunner
from runners.training import save_dataset

HEARTBEAT_S = 1.0

ENDINGS = {
    "Completed": ("Completed", "Completed"),
    "MaxCandidatesReached": ("Completed", "MaxCandidatesReached"),
    "MaxAutoMLJobRuntimeReached": ("Completed", "MaxAutoMLJobRuntimeReached"),
    "Stopped": ("Stopped", "Stopped"),
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


def run_job(store: Store, name: str, watch: Watch) -> None:
    job = store.job(name)
    plan = JobPlan.from_json(job.plan)
    budget = job_budget(job, plan)
    store.transition(name, "InProgress", "AnalyzingData")
    dataset = load_dataset(plan)
    if plan.problem_type is None:
        plan = plan.with_problem(dataset.problem_type)
        store.update_job(name, plan=plan.to_json())
    if watch.stop.is_set():
        return finish(store, plan, "Stopped")
    store.transition(name, "InProgress", "FeatureEngineering")
    runner = EnsemblingRunner() if plan.mode is Mode.ENSEMBLING else TuningRunner()
    dataset_path = scratch_dir(store, name) / "dataset.joblib"
    save_dataset(dataset, dataset_path)
    ctx = run_context(store, plan, dataset, dataset_path, budget, watch.stop.is_set)
    del dataset  # the runner holds it (and may trade it for a sample)
    if plan.definitions_only:
        definitions = runner.definitions(ctx)
        write_json(ctx.output.candidate_definitions, definitions)
        write_bytes(ctx.output.candidate_summary,
                    definitions_markdown(plan.name, plan.mode.value, definitions).encode())
        store.transition(name, "Completed", "CandidateDefinitionsGenerated")
        return write_json(ctx.output.describe, describe(store.job(name), []))
    store.transition(name, "InProgress", runner.secondary_status)
    reason = runner.run(ctx)
    finish(store, plan, "Stopped" if watch.stop.is_set() else reason)


def run_context(store: Store, plan: JobPlan, dataset, dataset_path: Path, budget: Budget,
                should_stop) -> RunContext:
    """What a runner sees of the job: its candidates are read from and written to this store."""
    return RunContext(plan=plan, dataset=dataset, dataset_path=dataset_path, budget=budget,
                      output=JobOutput(plan.job_output), should_stop=should_stop,
                      record=lambda record: store.put_candidate(plan.name, record),
                      recorded=lambda: {c["name"]: c for c in store.candidates(plan.name)},
                      threads=lambda: fair_share_threads(store))


class JobEnded:
    """For a joining worker: whether the job was stopped or ended, read from the store at most once a second."""

    def __init__(self, store: Store, name: str):
        self.store, self.name, self.checked, self.ended = store, name, 0.0, False

    def __call__(self) -> bool:
        if not self.ended and time.time() - self.checked >= HEARTBEAT_S:
            job = self.store.job(self.name)
            self.ended = job.stop_requested or job.status != "InProgress"
            self.checked = time.time()
        return self.ended


def join(store: Store, name: str) -> str:
    """`automl join NAME`: one more worker, in this process, for the study of a running tuning job. It runs
    trials until the job's cap, time or stop, recording them as the job's candidates; the job's own worker
    waits for them and ends the job."""
    job = store.job(name)
    plan = JobPlan.from_json(job.plan)
    if plan.mode is not Mode.HYPERPARAMETER_TUNING:
        raise field_error("AutoMLJobName", "only a HYPERPARAMETER_TUNING job's study can be joined; this job runs "
                          f"in {plan.mode.value} mode", job.name)
    if job.status != "InProgress" or job.queued:
        raise field_error("AutoMLJobName", f"only a running job can be joined; the job is "
                          f"{'queued' if job.queued else job.status}", job.name)
    dataset = load_dataset(plan)
    if plan.problem_type is None:
        plan = plan.with_problem(dataset.problem_type)
    scratch = store.root / "scratch" / f"{name.lower()}-join-{os.getpid()}"
    try:
        save_dataset(dataset, scratch / "dataset.joblib")
        ctx = run_context(store, plan, dataset, scratch / "dataset.joblib", job_budget(job, plan),
                          JobEnded(store, name))
        return TuningRunner().join(ctx)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def job_budget(job, plan: JobPlan) -> Budget:
    """The clock starts when the scheduler admitted the job, before this process started; a resumed job's
    earlier workers' time is already spent."""
    started = min(time.time(), job.started_at or job.last_modified_time) - job.spent_s
    return Budget(started, plan.max_job_runtime_s, plan.max_runtime_per_candidate_s, plan.max_candidates)


def fair_share_threads(store: Store) -> int:
    """The cores split between the jobs running now, and no more than other processes leave free: OpenMP
    boosters slow down many times over when two jobs each claim every core, or when one claims a core another
    process keeps busy (lightgbm, 50 rounds on breast cancer with one of two cores busy: 12.5 s on two
    threads, 0.3 s on one)."""
    running = sum(1 for j in store.jobs() if not j.queued and j.status in ("InProgress", "Stopping"))
    cores = os.cpu_count() or 1
    return max(1, min(cores // max(1, running), cores - busy_cores()))


def scratch_dir(store: Store, name: str) -> Path:
    """Working files of a running job (the saved dataset); removed when the worker ends."""
    return store.root / "scratch" / name.lower()


def finish(store: Store, plan: JobPlan, reason: str) -> None:
    """Pick the best finished candidate, write the outputs, then move the job to its terminal status."""
    records = store.candidates(plan.name)
    output = JobOutput(plan.job_output)
    ranked = rank(records, METRICS[plan.objective]) if plan.objective else records
    best = next((r for r in ranked if r["status"] == "Completed"), None)
    if records and plan.objective:
        write_bytes(output.leaderboard, to_csv(records, METRICS[plan.objective], plan.problem_type, plan.mode.value))
    status, secondary = ENDINGS[reason]
    fields = {}
    if best is not None:
        write_bytes(output.best_model, read_bytes(best["model_uri"]))
        write_bytes(output.best_definition, read_bytes(best["definition_uri"]))
        fields["best_candidate"] = {"name": best["name"]}
    elif status == "Completed":
        reasons = "; ".join(r["failure_reason"] for r in records if r.get("failure_reason"))[:900]
        status, secondary = "Failed", "Failed"
        fields["failure_reason"] = (f"no candidate finished ({reason}): {reasons}" if reasons else
                                    f"no candidate finished ({reason})")
    store.transition(plan.name, status, secondary, only_from=("InProgress", "Stopping"), **fields)
    write_json(output.describe, describe(store.job(plan.name), store.candidates(plan.name)))


def fail(store: Store, name: str, reason: str) -> None:
    store.transition(name, "Failed", "Failed", only_from=("InProgress", "Stopping"), failure_reason=reason[:1024])
    job = store.job(name)
    try:
        write_json(JobOutput(JobPlan.from_json(job.plan).job_output).describe, describe(job, store.candidates(name)))
    except OSError:
        pass  # the output location itself is what failed; the store still holds the reason


def main(argv: list[str]) -> int:
    name = argv[0]
    store = Store()
    try:
        with Watch(store, name) as watch:
            run_job(store, name, watch)
    except AutoMLError as exc:
        fail(store, name, exc.message)
    except Exception as exc:
        traceback.print_exc()
        fail(store, name, "internal error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip())
    finally:
        shutil.rmtree(scratch_dir(store, name), ignore_errors=True)
        scheduler.kick(store)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
