"""Progress of a running job, as it is: the time since the job was created (Describe's CreationTime, not since
someone started watching), its runtime budget and the time left, and its candidates by how they ended
(Completed, Stopped, of those pruned by the tuner, Failed) with the best score so far.

`ProgressPrinter` writes a line per change (the CLI's wait and run, logs); `ProgressBar` is a tqdm bar for
`wait(..., progress=True)` in notebooks and terminals. A batch transform's records per file: `TransformProgress`.
"""
from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass

from automl.candidate import Candidate, CandidateStatus
from automl.metrics import METRICS

PRUNED = "pruned by"  # how a tuning trial the pruner stopped says why (runners.tuning)


@dataclass(frozen=True)
class JobProgress:
    stage: str  # AutoMLJobStatus/AutoMLJobSecondaryStatus
    elapsed_s: float  # since CreationTime, to EndTime once the job ended
    budget_s: float | None  # MaxAutoMLJobRuntimeInSeconds, as resolved
    done: int
    running: int
    stopped: int
    pruned: int  # of the stopped
    failed: int
    best: str  # "accuracy=0.9123", or "" before the first Completed candidate

    @classmethod
    def of(cls, describe: dict, records: list[Candidate], now: float | None = None) -> JobProgress:
        created = _epoch(describe["CreationTime"])
        ended = _epoch(describe["EndTime"]) if describe.get("EndTime") is not None else None
        stopped = [r for r in records if r.status is CandidateStatus.STOPPED]
        return cls(
            stage=f"{describe['AutoMLJobStatus']}/{describe['AutoMLJobSecondaryStatus']}",
            elapsed_s=max(0.0, (ended if ended is not None else now or time.time()) - created),
            budget_s=_budget(describe),
            done=sum(r.completed for r in records),
            running=sum(r.status in (CandidateStatus.IN_PROGRESS, CandidateStatus.STOPPING) for r in records),
            stopped=len(stopped),
            pruned=sum(PRUNED in (r.failure_reason or "") for r in stopped),
            failed=sum(r.status is CandidateStatus.FAILED for r in records),
            best=_best(describe, records))

    @property
    def left_s(self) -> float | None:
        return None if self.budget_s is None else max(0.0, self.budget_s - self.elapsed_s)

    @property
    def candidates(self) -> str:
        stopped = f"{self.stopped} stopped" + (f" ({self.pruned} pruned)" if self.pruned else "")
        running = f", {self.running} running" if self.running else ""
        best = f"  best {self.best}" if self.best else ""
        return f"candidates {self.done} done{running}, {stopped}, {self.failed} failed{best}"

    @property
    def clock(self) -> str:
        if self.budget_s is None:
            return f"{self.elapsed_s:.0f}s"
        return f"{self.elapsed_s:.0f}s of {self.budget_s:.0f}s, {self.left_s:.0f}s left"


def _epoch(value) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _budget(describe: dict) -> float | None:
    """The resolved runtime budget (SageMaker echoes the criteria it applies), else the requested one."""
    for criteria in ((describe.get("ResolvedAttributes") or {}).get("CompletionCriteria"),
                     (describe.get("AutoMLJobConfig") or {}).get("CompletionCriteria")):
        if criteria and criteria.get("MaxAutoMLJobRuntimeInSeconds") is not None:
            return float(criteria["MaxAutoMLJobRuntimeInSeconds"])
    return None


def _best(describe: dict, records: list[Candidate]) -> str:
    objective = ((describe.get("ResolvedAttributes") or {}).get("AutoMLJobObjective") or {}).get("MetricName")
    scored = [r.objective_value for r in records if r.completed and r.objective_value is not None]
    if objective in METRICS and scored:
        return f"{objective}={min(scored, key=METRICS[objective].sort_key):.4f}"
    final = (describe.get("BestCandidate") or {}).get("FinalAutoMLJobObjectiveMetric")
    return f"{final['MetricName']}={final['Value']:.4f}" if final else ""


class ProgressPrinter:
    """A line whenever the stage or the candidates change: `[42s of 300s, 258s left] InProgress/TrainingModels
    candidates 5 done, 1 running, 3 stopped (2 pruned), 0 failed  best accuracy=0.9123`."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.last = None

    def __call__(self, describe: dict, records: list[Candidate]) -> None:
        progress = JobProgress.of(describe, records)
        line = f"{progress.stage}  {progress.candidates}"
        if line != self.last:
            self.stream.write(f"[{progress.clock}] {line}\n")
            self.stream.flush()
            self.last = line


class ProgressBar:
    """A tqdm bar of the job's runtime budget (its elapsed seconds of the budget), with the stage, time left and
    candidates after it; tqdm.auto draws a widget in a notebook and a redrawn line on a terminal."""

    def __init__(self, name: str, stream=None):
        self.name, self.stream, self.bar = name, stream, None

    def __call__(self, describe: dict, records: list[Candidate]) -> None:
        progress = JobProgress.of(describe, records)
        if self.bar is None:
            from tqdm.auto import tqdm

            shape = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}s{postfix}" if progress.budget_s else \
                "{desc}: {n:.0f}s{postfix}"
            self.bar = tqdm(desc=self.name, total=progress.budget_s, bar_format=shape, file=self.stream,
                            dynamic_ncols=True, leave=True)
        total = self.bar.total
        self.bar.n = min(progress.elapsed_s, total) if total else progress.elapsed_s
        left = "" if progress.left_s is None else f", {progress.left_s:.0f}s left"
        self.bar.set_postfix_str(f"{progress.stage}{left}, {progress.candidates}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class TransformProgress:
    """Records done and records/s of the file being transformed: one line redrawn with a carriage return at most
    a few times a second on a terminal, a new line every `interval_s` elsewhere (logs), and a final line per
    file."""

    def __init__(self, stream=None, interval_s: float | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval_s = interval_s if interval_s is not None else (0.25 if self.tty else 5.0)
        self.last = 0.0

    def __call__(self, path: str, records: int, seconds: float, finished: bool) -> None:
        now = time.monotonic()
        if not finished and now - self.last < self.interval_s:
            return
        self.last = now
        line = f"{path}: {records:,} records, {records / max(seconds, 1e-9):,.0f}/s" + (" done" if finished else "")
        end = "\n" if finished or not self.tty else ""
        self.stream.write(("\r\033[K" if self.tty else "") + line + end)
        self.stream.flush()
