"""Launching one candidate's work in the executor and recording it, shared by the runners.

Every candidate is recorded InProgress when it starts and Completed / Failed / Stopped when it ends, so
Describe and ListCandidates see progress live and a dead worker loses nothing already finished.
"""
from __future__ import annotations

import time

from runners.base import RunContext
from runners.verdict import cut_short_failure

MIN_CANDIDATE_S = 1.0  # no candidate starts with less of the job's time left than this


def blocked(ctx: RunContext, trained: int, need_s: float = MIN_CANDIDATE_S) -> str | None:
    """Why no further candidate may start (or None): a stop, the job's time, or MaxCandidates."""
    if ctx.should_stop():
        return "Stopped"
    if ctx.budget.remaining_s() <= need_s:
        return "MaxAutoMLJobRuntimeReached"
    if ctx.budget.max_candidates is not None and trained >= ctx.budget.max_candidates:
        return "MaxCandidatesReached"
    return None


def start(ctx: RunContext, name: str, algorithm: str, defn: dict) -> dict:
    record = {"name": name, "algorithm": algorithm, "status": "InProgress", "creation_time": time.time(),
              "definition": defn}
    ctx.record(record)
    return record


def execute(ctx: RunContext, executor, record: dict, fn, args: tuple, cap: float | None = None):
    """Run `fn(*args, hard_deadline)` in a child under the candidate's hard deadline, counted from the
    candidate's start (its work may take several calls) and never past `cap`, the end the job's planner keeps
    for its own later steps; returns (outcome, deadline)."""
    hard = ctx.budget.candidate_deadline(record["creation_time"])
    if cap is not None:
        hard = min(hard, cap)
    return executor.run(fn, (*args, hard), hard), hard


def train(ctx: RunContext, executor, record: dict, fn, args: tuple,
          cap: float | None = None) -> tuple[str | None, dict]:
    """Run one InProgress candidate's work to its end and record the outcome."""
    return conclude(ctx, record, *execute(ctx, executor, record, fn, args, cap), cap)


def conclude(ctx: RunContext, record: dict, outcome, hard: float,
             cap: float | None = None) -> tuple[str | None, dict]:
    """Record how a candidate's work ended; returns (why the job must end, or None; the final record). A
    candidate ended by the job's limit or the planner's cap is Stopped; by its own limit, Failed."""
    name = record["name"]
    record = record | {"end_time": time.time()}
    job_limit = hard >= min(ctx.budget.deadline, cap if cap is not None else ctx.budget.deadline)
    if outcome.status == "Completed":
        failure = cut_short_failure(ctx.budget, record["creation_time"], outcome.result)
        record |= outcome.result | ({"status": "Failed", "failure_reason": f"{name}: {failure}"} if failure
                                    else {"status": "Completed"})
        ctx.record(record)
        return None, record
    if outcome.status == "Stopped":
        record |= {"status": "Stopped", "failure_reason": outcome.error}
        ctx.record(record)
        return "Stopped", record
    if outcome.status == "TimedOut":
        limit = "MaxAutoMLJobRuntimeInSeconds" if job_limit else "MaxRuntimePerTrainingJobInSeconds"
        record |= {"status": "Stopped" if job_limit else "Failed", "failure_reason": f"{name}: ran past {limit}"}
        ctx.record(record)
        return ("MaxAutoMLJobRuntimeReached" if hard >= ctx.budget.deadline else None), record
    record |= {"status": "Failed", "failure_reason": f"{name}: {outcome.error}"}
    ctx.record(record)
    return None, record
