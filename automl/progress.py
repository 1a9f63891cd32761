"""Progress on the terminal: one line per change of a running job (elapsed time, stage, candidates finished,
best score so far), and a batch transform's records per file."""
from __future__ import annotations

import sys
import time

from automl.candidate import Candidate, CandidateStatus
from automl.metrics import METRICS


class ProgressPrinter:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.started = time.time()
        self.last = None

    def __call__(self, describe: dict, records: list[Candidate]) -> None:
        done = [r for r in records if r.completed]
        objective = (describe.get("ResolvedAttributes", {}).get("AutoMLJobObjective") or {}).get("MetricName")
        best = ""
        if done and objective:
            metric = METRICS[objective]
            value = min((r.objective_value for r in done), key=metric.sort_key)
            best = f"  best {objective}={value:.4f}"
        line = (f"{describe['AutoMLJobStatus']}/{describe['AutoMLJobSecondaryStatus']}  candidates "
                f"{len(done)} done, {sum(r.status is CandidateStatus.FAILED for r in records)} failed{best}")
        if line != self.last:
            self.stream.write(f"[{time.time() - self.started:6.1f}s] {line}\n")
            self.stream.flush()
            self.last = line


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
