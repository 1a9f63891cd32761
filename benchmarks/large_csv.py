"""The tuning mode at scale (run by hand, not a test): a generated CSV of --size-gb, one job in AUTO mode (which
picks HYPERPARAMETER_TUNING at 100 MB and above) under --budget, reporting wall time and the peak memory of the
whole process tree (PSS) against the in-memory size of the data as pandas holds it.

    python -m benchmarks.large_csv --size-gb 1 --budget 600 --out benchmarks/results/large-csv
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.one import PeakMemory
from benchmarks.run import machine

CHUNK_ROWS = 500_000
CITIES = [f"city_{i:02d}" for i in range(40)]
PLANS = ["basic", "plus", "pro", "enterprise"]


def generate(path: Path, size_bytes: int, seed: int = 0) -> int:
    """A churn-like binary table (numbers, two categories, an integer) whose label depends non-linearly on
    them, written in chunks until the file reaches `size_bytes`; returns the row count."""
    rng = np.random.default_rng(seed)
    rows = 0
    with open(path, "w") as handle:
        while handle.tell() < size_bytes:
            n = CHUNK_ROWS
            x = rng.normal(size=(n, 8))
            city = rng.integers(0, len(CITIES), n)
            plan = rng.integers(0, len(PLANS), n)
            tenure = rng.integers(0, 120, n)
            logit = (1.5 * np.sin(x[:, 0]) + x[:, 1] * x[:, 2] - 0.8 * np.abs(x[:, 3]) + 0.3 * (city % 7 - 3)
                     - 0.5 * plan + 0.02 * (60 - tenure) + 0.5 * rng.normal(size=n))
            frame = pd.DataFrame(x.round(5), columns=[f"x{i}" for i in range(8)])
            frame["city"] = np.asarray(CITIES)[city]
            frame["plan"] = np.asarray(PLANS)[plan]
            frame["tenure_months"] = tenure
            frame["churned"] = np.where(logit > 0, "yes", "no")
            frame.to_csv(handle, index=False, header=rows == 0)
            rows += n
    return rows


def in_memory_bytes(path: Path) -> int:
    """The data's size as a pandas frame, measured in a separate process so that it does not add to the peak."""
    code = ("import sys, pyarrow.csv as c; t = c.read_csv(sys.argv[1]).to_pandas(); "
            "print(int(t.memory_usage(deep=True).sum()))")
    return int(subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True,
                              text=True).stdout)


def final_fit(candidates: list[dict], output: Path) -> dict | None:
    """The best pipeline refit on more rows than the trials saw, next to the best trial it refits."""
    refits = [c for c in candidates if "-trial-" not in c["CandidateName"]]
    if not refits:
        return None
    refit = refits[0]
    saved = output / "candidates" / refit["CandidateName"] / "definition.json"
    if not saved.exists():  # it did not finish
        return {"name": refit["CandidateName"], "status": refit["CandidateStatus"],
                "failure": refit.get("FailureReason")}
    defn = json.loads(saved.read_text())
    source = next(c for c in candidates if c["CandidateName"] == defn["RefitOf"])
    return {"name": refit["CandidateName"], "status": refit["CandidateStatus"],
            "training_rows": defn["TrainingRows"], "refit_of": defn["RefitOf"],
            "objective": refit.get("FinalAutoMLJobObjectiveMetric", {}).get("Value"),
            "refit_of_objective": source.get("FinalAutoMLJobObjectiveMetric", {}).get("Value")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/large-csv"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/automl-large-csv"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "train.csv"
    began = time.perf_counter()
    rows = generate(data, int(args.size_gb * 1024 ** 3))
    generate_s = time.perf_counter() - began
    pandas_bytes = in_memory_bytes(data)
    os.environ["AUTOML_HOME"] = str(args.work / "home")
    import automl

    client = automl.client()
    name = f"large-{int(time.time())}"
    with PeakMemory(interval_s=0.5) as memory:
        began = time.perf_counter()
        client.create_auto_ml_job(
            AutoMLJobName=name, RoleArn="arn:aws:iam::000000000000:role/automl-local",
            InputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(data)}},
                              "TargetAttributeName": "churned"}],
            OutputDataConfig={"S3OutputPath": str(args.work / "out")},
            AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": args.budget}})
        final = client.wait(name, poll_s=1.0)
        wall_s = time.perf_counter() - began
    candidates = client.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)["Candidates"]
    best = final.get("BestCandidate", {})
    result = {
        "csv_bytes": data.stat().st_size, "rows": rows, "generate_s": round(generate_s, 1),
        "pandas_bytes": pandas_bytes, "budget_s": args.budget, "wall_s": round(wall_s, 1),
        "peak_tree_pss_bytes": memory.peak, "peak_over_pandas": round(memory.peak / pandas_bytes, 2),
        "mode": final["AutoMLJobConfig"]["Mode"], "status": final["AutoMLJobStatus"],
        "secondary_status": final["AutoMLJobSecondaryStatus"], "failure": final.get("FailureReason"),
        "best_candidate": best.get("CandidateName"),
        "best_objective": best.get("FinalAutoMLJobObjectiveMetric"),
        "candidates": {s: sum(c["CandidateStatus"] == s for c in candidates)
                       for s in ("Completed", "Stopped", "Failed")},
        "final_fit": final_fit(candidates, args.work / "out" / name),
        "machine": machine("benchmarks.large_csv"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
