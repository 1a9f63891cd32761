"""Run frameworks side by side on the tabular datasets of a suite, one process per run, one run at a time.

    python -m benchmarks.run --suite ../shared/datasets/manifest.json \
        --frameworks automl,autogluon_medium_quality,flaml,lightgbm --budget 60 --out benchmarks/results/b60
    python -m benchmarks.run --smoke          # both our modes, one small dataset, 20 s: keeps the harness alive

Peers (AutoGluon, FLAML) run in their own environment, made by `python -m benchmarks.setup_peers`; a peer
that is not installed is reported and skipped. Writes results.jsonl, report.md, machine.json (and
normalized_score.png when several budgets ran) under --out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks.frameworks import PEER_FRAMEWORKS
from benchmarks.report import plot, score, summarize
from benchmarks.setup_peers import PEERS_PYTHON

REPO = Path(__file__).resolve().parents[1]
TABULAR = ("BinaryClassification", "MulticlassClassification", "Regression")
SHIPPED = REPO / "automl" / "data" / "breast_cancer.csv"


def _datasets(suite: Path, names: list[str] | None) -> list[dict]:
    manifest = json.loads(suite.read_text())
    chosen = [d for d in manifest["datasets"] if d["problem_type"] in TABULAR]
    if names:
        chosen = [d for d in chosen if d["name"] in names]
    for d in chosen:
        d["train"], d["test"] = str(suite.parent / d["files"]["train"]), str(suite.parent / d["files"]["test"])
    return chosen


def _smoke_dataset(out: Path) -> dict:
    """The shipped breast-cancer data, split 90/10 (stratified, seed 0; 512 training rows, over the API's 500):
    present on every machine."""
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(SHIPPED)
    train, test = train_test_split(frame, test_size=0.1, random_state=0, stratify=frame["diagnosis"])
    out.mkdir(parents=True, exist_ok=True)
    train.to_csv(out / "train.csv", index=False)
    test.to_csv(out / "test.csv", index=False)
    return {"name": "breast_cancer", "problem_type": "BinaryClassification", "target": "diagnosis",
            "train": str(out / "train.csv"), "test": str(out / "test.csv")}


def _python_for(framework: str) -> Path | None:
    if framework not in PEER_FRAMEWORKS:
        return Path(sys.executable)
    return PEERS_PYTHON if PEERS_PYTHON.exists() else None


def run_one(dataset: dict, framework: str, budget: int, seed: int, out: Path) -> dict:
    row = {"dataset": dataset["name"], "problem_type": dataset["problem_type"], "framework": framework,
           "budget_s": budget, "seed": seed}
    python = _python_for(framework)
    if python is None:
        return row | {"status": "unavailable", "reason": f"{framework} is not installed; run "
                                                          "`python -m benchmarks.setup_peers`"}
    run_dir = out / "runs" / f"{dataset['name']}-{framework}-{budget}-{seed}"
    command = [str(python), "-m", "benchmarks.one", "--framework", framework, "--train", dataset["train"],
               "--test", dataset["test"], "--target", dataset["target"], "--problem-type", dataset["problem_type"],
               "--budget", str(budget), "--seed", str(seed), "--out", str(run_dir)]
    env = os.environ | {"PYTHONPATH": str(REPO)}
    began = time.time()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=budget * 4 + 300)
    except subprocess.TimeoutExpired:
        return row | {"status": "timeout", "reason": f"no result after {time.time() - began:.0f} s"}
    if done.returncode != 0:
        return row | {"status": "error", "reason": done.stderr.strip().splitlines()[-1][:500] if done.stderr else
                      f"exit code {done.returncode}"}
    info = json.loads((run_dir / "run.json").read_text())
    train_target = pd.read_csv(dataset["train"], usecols=[dataset["target"]])[dataset["target"]]
    truth = pd.read_csv(dataset["test"], usecols=[dataset["target"]])[dataset["target"]]
    metrics = score(run_dir, truth, train_target, dataset["problem_type"])
    _keep_only_results(run_dir)
    overshoot = 0.0 if framework == "lightgbm" else (info["fit_s"] - budget) / budget
    return row | {"status": "ok", "metrics": metrics, "fit_s": info["fit_s"], "overshoot": overshoot,
                  "predict_rows_per_s": info["predict_rows_per_s"], "peak_memory_mb": info["peak_memory_mb"],
                  "peak_s": info.get("peak_s"),
                  "peak_by_process_mb": info.get("peak_by_process_mb"), "versions": info["versions"]} | (
                      {"job": info["job"]} if info.get("job") else {})


def _keep_only_results(run_dir: Path) -> None:
    """Models of peers weigh gigabytes: keep the predictions and timings, drop the rest."""
    for path in run_dir.iterdir():
        if path.name not in ("run.json", "labels.npy", "proba.npy"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def machine(module: str = "benchmarks.run") -> dict:
    with open("/proc/meminfo") as meminfo:
        memory_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {"cores": os.cpu_count(), "memory_gib": round(memory_kb / 2 ** 20, 1), "platform": platform.platform(),
            "python": platform.python_version(), "command": " ".join([f"python -m {module}", *sys.argv[1:]])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=REPO.parent / "shared" / "datasets" / "manifest.json")
    parser.add_argument("--frameworks", default="automl,autogluon_medium_quality,flaml,lightgbm")
    parser.add_argument("--budget", default="60", help="seconds; several as 60,300")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--datasets", help="comma-separated names (default: every tabular dataset)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "latest")
    parser.add_argument("--smoke", action="store_true", help="both our modes, one small dataset, 20 s")
    args = parser.parse_args(argv)
    if args.smoke:
        datasets, frameworks = [_smoke_dataset(args.out / "data")], ["automl", "automl_tuning"]
        budgets, seeds = [20], [0]
    else:
        if not args.suite.exists():
            print(f"suite {args.suite} not found", file=sys.stderr)
            return 2
        datasets = _datasets(args.suite, args.datasets.split(",") if args.datasets else None)
        frameworks = args.frameworks.split(",")
        budgets = [int(b) for b in args.budget.split(",")]
        seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "machine.json").write_text(json.dumps(machine(), indent=2))
    rows = []
    with open(args.out / "results.jsonl", "w") as results:
        for dataset in datasets:
            for budget in budgets:
                for seed in seeds:
                    for framework in frameworks:
                        row = run_one(dataset, framework, budget, seed, args.out)
                        rows.append(row)
                        results.write(json.dumps(row) + "\n")
                        results.flush()
                        main_score = next(iter(row.get("metrics", {}).items()), ("", float("nan")))
                        print(f"{dataset['name']:>24} {framework:>26} {budget:>4}s  {row['status']:>11}  "
                              f"{main_score[0]}={main_score[1]:.4f}  fit {row.get('fit_s', 0):.1f}s"
                              + (f"  ({row['reason']})" if "reason" in row else ""), flush=True)
    ran = {r["framework"] for r in rows}
    sides = [f for f in ("automl", "automl_tuning") if f in ran] or ["automl"]
    report = summarize(rows, ours=sides[0])  # each of our modes that ran gets the W/T/L from its side
    if len(sides) == 2:
        report += "\n# The same runs from the tuning mode's side\n\n" + summarize(rows, ours="automl_tuning")
    (args.out / "report.md").write_text(report)
    plot(rows, args.out / "normalized_score.png")
    print((args.out / "report.md").read_text())
    return 0 if all(r["status"] in ("ok", "unavailable") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
