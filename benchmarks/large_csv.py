"""The tuning mode at scale against the peers (run by hand, not a test): generated churn-like CSVs of 200 MB and
1 GB with a fixed 500,000-row test file; on each, our job in AUTO mode (HYPERPARAMETER_TUNING from 100 MB),
LightGBM with defaults on every row, and FLAML with the same budget, one after another in one run, each in its
own process. Reports the test score, wall time and the peak memory of each run's process tree (PSS) against
the data's in-memory size as pandas holds it, as JSON lines in the other benchmarks' schema.

    python -m benchmarks.setup_peers            # FLAML's environment (once)
    python -m benchmarks.large_csv --out benchmarks/results/large-csv
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.run import machine, run_one

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


SIZES = {"large-200mb": (0.2, 300), "large-1gb": (1.0, 600)}  # dataset -> (GiB of CSV, budget in seconds)
FRAMEWORKS = ("automl", "lightgbm", "flaml")
TEST_ROWS = CHUNK_ROWS  # one chunk, from another seed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(SIZES), help=f"a subset of {', '.join(SIZES)}")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/large-csv"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/automl-large-csv"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows_out = []
    for name in args.datasets.split(","):
        size_gib, budget = SIZES[name]
        folder = args.work / name
        folder.mkdir(parents=True, exist_ok=True)
        train, test = folder / "train.csv", folder / "test.csv"
        if not train.exists():
            generate(train, int(size_gib * 1024 ** 3))
            generate(test, 1, seed=1)
        pandas_mb = in_memory_bytes(train) / 2 ** 20
        dataset = {"name": name, "problem_type": "BinaryClassification", "train": str(train), "test": str(test),
                   "target": "churned"}
        for framework in args.frameworks.split(","):
            row = run_one(dataset, framework, budget, 0, args.work / "runs")
            if row["status"] == "ok":
                row |= {"pandas_mb": round(pandas_mb, 1), "csv_bytes": train.stat().st_size,
                        "peak_over_pandas": round(row["peak_memory_mb"] / pandas_mb, 2)}
            print(json.dumps(row), flush=True)
            rows_out.append(row)
            with open(args.out / "results.jsonl", "a") as handle:
                handle.write(json.dumps(row) + "\n")
    (args.out / "machine.json").write_text(json.dumps(machine("benchmarks.large_csv"), indent=2))
    print(ratios(rows_out))


def ratios(rows: list[dict]) -> str:
    """Ours against each peer on each dataset, measured in this run: F1 and AUC differences, time and memory."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        by = {r["framework"]: r for r in rows if r["dataset"] == dataset and r["status"] == "ok"}
        ours = by.get("automl")
        for peer, theirs in by.items():
            if ours is None or peer == "automl":
                continue
            lines.append(f"{dataset}: automl vs {peer}: F1 {ours['metrics']['F1']:.4f} vs {theirs['metrics']['F1']:.4f}"
                         f", AUC {ours['metrics']['AUC']:.4f} vs {theirs['metrics']['AUC']:.4f}, fit time x"
                         f"{ours['fit_s'] / theirs['fit_s']:.2f}, peak memory x"
                         f"{ours['peak_memory_mb'] / theirs['peak_memory_mb']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
