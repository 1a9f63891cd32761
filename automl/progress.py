"""One line per change of a running job: elapsed time, stage, candidates finished, best score so far."""
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
