"""Launching one candidate's work in the executor and recording it, shared by the runners.

Every candidate is recorded InProgress when it starts and Completed / Failed / Stopped when it ends, so
Describe and ListCandidates see progress live and a dead worker loses nothing already finished.
"""
from __future__ import annotations

import logging
import time

from automl.candidate import Candidate, CandidateStatus, RunEnd
from runners.base import RunContext
from runners.executors import Executor, Outcome, OutcomeStatus, Task
from runners.verdict import cut_short_failure

log = logging.getLogger(__name__)

MIN_CANDIDATE_S = 1.0  # no candidate starts with less of the job's time left than this


def blocked(ctx: RunContext, trained: int, need_s: float = MIN_CANDIDATE_S) -> RunEnd | None:
    """Why no further candidate may start (or None): a stop, the job's time, or MaxCandidates."""
    if ctx.should_stop():
        return RunEnd.STOPPED
    if ctx.budget.remaining_s() <= need_s:
        return RunEnd.MAX_RUNTIME
    if ctx.budget.max_candidates is not None and trained >= ctx.budget.max_candidates:
        return RunEnd.MAX_CANDIDATES
    return None


def start(ctx: RunContext, name: str, algorithm: str, defn: dict) -> Candidate:
    record = Candidate(name, algorithm, CandidateStatus.IN_PROGRESS, time.time(), defn)
    ctx.record(record)
    return record


def execute(ctx: RunContext, executor: Executor, record: Candidate, task: Task,
            cap: float | None = None) -> tuple[Outcome, float]:
    """Run the task under the candidate's hard deadline, counted from the candidate's start (its work may
    take several tasks) and never past `cap`, the end the job's planner keeps for its own later steps;
    returns (outcome, deadline)."""
    hard = hard_deadline(ctx, record, cap)
    return executor.submit(task, deadline=hard).result(), hard


def hard_deadline(ctx: RunContext, record: Candidate, cap: float | None = None) -> float:
    hard = ctx.budget.candidate_deadline(record.creation_time)
    return hard if cap is None else min(hard, cap)


def train(ctx: RunContext, executor: Executor, record: Candidate, task: Task,
          cap: float | None = None) -> tuple[RunEnd | None, Candidate]:
    """Run one InProgress candidate's work to its end and record the outcome."""
    return conclude(ctx, record, *execute(ctx, executor, record, task, cap), cap)


def conclude(ctx: RunContext, record: Candidate, outcome: Outcome, hard: float,
             cap: float | None = None) -> tuple[RunEnd | None, Candidate]:
    """Record how a candidate's work ended; returns (why the job must end, or None; the final record). A
    candidate ended by the job's limit or the planner's cap is Stopped; by its own limit, Failed."""
    name, now = record.name, time.time()
    job_limit = hard >= min(ctx.budget.deadline, cap if cap is not None else ctx.budget.deadline)
    ended = None
    if outcome.status is OutcomeStatus.COMPLETED:
        result = dict(outcome.result)
        failure = cut_short_failure(ctx.budget, record.creation_time, result)
        result.pop("constant_verdict", None)
        record = record.finished(CandidateStatus.FAILED if failure else CandidateStatus.COMPLETED, now, result,
                                 f"{name}: {failure}" if failure else None)
    elif outcome.status is OutcomeStatus.STOPPED:
        record, ended = record.finished(CandidateStatus.STOPPED, now, failure_reason=outcome.error), RunEnd.STOPPED
    elif outcome.status is OutcomeStatus.TIMED_OUT:
        limit = "MaxAutoMLJobRuntimeInSeconds" if job_limit else "MaxRuntimePerTrainingJobInSeconds"
        record = record.finished(CandidateStatus.STOPPED if job_limit else CandidateStatus.FAILED, now,
                                 failure_reason=f"{name}: ran past {limit}")
        ended = RunEnd.MAX_RUNTIME if hard >= ctx.budget.deadline else None
    else:
        record = record.finished(CandidateStatus.FAILED, now, failure_reason=f"{name}: {outcome.error}")
    if outcome.traceback:
        log.error("%s failed in its training process:\n%s", name, outcome.traceback.rstrip())
    ctx.record(record)
    return ended, record


def failed(ctx: RunContext, record: Candidate, reason: str) -> Candidate:
    """A candidate that ends Failed without running (refused before it started)."""
    record = record.finished(CandidateStatus.FAILED, time.time(), failure_reason=f"{record.name}: {reason}")
    ctx.record(record)
    return record

