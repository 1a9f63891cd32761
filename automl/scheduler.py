"""Starting detached workers, the running-job limit with its queue, and finding workers that died.

Settings (environment, checked in automl.settings): AUTOML_MAX_RUNNING_JOBS (default 2), AUTOML_QUEUE (on, the
default: jobs beyond the limit wait and start in submission order; off: they are refused with
ResourceLimitExceeded), AUTOML_HEARTBEAT_TIMEOUT_S (default 120: a worker silent that long is dead even if its
pid looks alive, e.g. after a machine restart).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from automl import settings
from automl.candidate import CandidateStatus
from automl.errors import ResourceLimitExceeded, field_error
from automl.forecast_plan import load_plan
from automl.processes import alive, process_start
from automl.store import RUNNING, JobStatus, Store
from runners import preload_for

LAUNCH_GRACE_S = 60
WORKER_LOST = ("the worker process", "the worker sent no heartbeat")  # how reap's failure reasons begin


def max_running_jobs() -> int:
    return settings.value("AUTOML_MAX_RUNNING_JOBS")


def queueing() -> bool:
    return settings.value("AUTOML_QUEUE")


def heartbeat_timeout_s() -> float:
    return settings.value("AUTOML_HEARTBEAT_TIMEOUT_S")


def _running(store: Store) -> list:
    return [j for j in store.jobs() if not j.queued and j.status in RUNNING]


def admit(store: Store) -> None:
    """Refuse a new job when the limit is reached and queueing is off."""
    if queueing():
        return
    running = len(_running(store))
    if running >= max_running_jobs():
        raise ResourceLimitExceeded(f"{running} jobs are running, the limit (AUTOML_MAX_RUNNING_JOBS) is "
                                    f"{max_running_jobs()}, and queueing is off (AUTOML_QUEUE="
                                    f"{os.environ['AUTOML_QUEUE']}); retry when one ends")


def kick(store: Store) -> None:
    """Start queued jobs, oldest first, while there are free slots."""
    with store.transaction() as db:
        running = db.execute("SELECT COUNT(*) FROM jobs WHERE queued = 0 AND status IN (?, ?)",
                             [s.value for s in RUNNING]).fetchone()[0]
        slots = max_running_jobs() - running
        if slots <= 0:
            return
        rows = db.execute("SELECT name FROM jobs WHERE queued = 1 AND status = ? ORDER BY seq LIMIT ?",
                          (JobStatus.IN_PROGRESS.value, slots)).fetchall()
        names = [r["name"] for r in rows]
        for name in names:
            now = time.time()
            db.execute("UPDATE jobs SET queued = 0, last_modified_time = ?, started_at = ? WHERE name_key = ?",
                       (now, now, name.lower()))
    for name in names:
        _launch(store, name)


def _launch(store: Store, name: str) -> None:
    logs = store.root / "logs"
    logs.mkdir(exist_ok=True)
    env = os.environ | {"AUTOML_HOME": str(store.root)}
    preload = preload_for(load_plan(store.job(name).plan))
    with open(logs / f"{name.lower()}.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "automl.worker_boot", name, *preload], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True, close_fds=True)
    store.update_job(name, pid=process.pid, pid_start=process_start(process.pid))


def _end_group(pgid: int) -> None:
    """The worker led its own process group (new session): end whatever it left running."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def reap(store: Store) -> None:
    """Mark jobs whose worker died as Failed, then let queued jobs take the freed slots."""
    now = time.time()
    for job in _running(store):
        reason = None
        if job.pid is not None and not alive(job.pid, job.pid_start):
            reason = (f"the worker process (pid {job.pid}) ended without finishing the job: it was killed or "
                      "the machine stopped")
        elif job.pid is None and now - job.last_modified_time > LAUNCH_GRACE_S:
            reason = "the worker process never started"
        elif job.heartbeat is not None and now - job.heartbeat > heartbeat_timeout_s():
            reason = f"the worker sent no heartbeat for {now - job.heartbeat:.0f} s"
        if reason:
            if job.pid is not None and process_start(job.pid) in (None, job.pid_start):
                _end_group(job.pid)
            if store.transition(job.name, JobStatus.FAILED, "Failed", only_from=RUNNING, failure_reason=reason):
                _abandon_candidates(store, job.name)
    kick(store)


def _abandon_candidates(store: Store, name: str) -> None:
    """A dead worker's candidates still InProgress end Failed, so Describe shows no training that nothing does
    (a tuning study's joined workers, still alive, record their own trials' ends over these)."""
    now = time.time()
    for record in store.candidates(name):
        if record.status is CandidateStatus.IN_PROGRESS:
            store.put_candidate(name, record.abandoned(now))


def resume(store: Store, name: str, plan: str | None = None) -> None:
    """Start a new worker for a tabular job whose worker died: it keeps the finished candidates (a tuning job's
    study its finished trials) and trains the rest; the time the dead worker spent still counts against
    MaxAutoMLJobRuntimeInSeconds. `plan`: the job's plan as it continues (on another cluster), when it changed."""
    from automl.forecast_plan import load_plan
    from automl.problem import Mode

    reap(store)
    job = store.job(name)
    mode = load_plan(job.plan).mode
    if mode not in (Mode.ENSEMBLING, Mode.HYPERPARAMETER_TUNING):
        raise field_error("AutoMLJobName", "only an ENSEMBLING or HYPERPARAMETER_TUNING job can be resumed; this "
                          f"job ran in {mode.value} mode", job.name)
    if job.status is not JobStatus.FAILED or not (job.failure_reason or "").startswith(WORKER_LOST):
        raise field_error("AutoMLJobName", f"the job is {job.status.value}; only a job whose worker died (Failed with "
                          "'the worker process ...') can be resumed", job.name)
    spent = job.spent_s + max(0.0, (job.end_time or time.time()) - (job.started_at or job.creation_time))
    moved = {"plan": plan} if plan is not None else {}
    resumed = store.transition(job.name, JobStatus.IN_PROGRESS, "Starting", only_from=(JobStatus.FAILED,),
                               end_time=None, failure_reason=None, queued=1, pid=None, pid_start=None,
                               heartbeat=None, spent_s=spent, **moved)
    if resumed:
        kick(store)
