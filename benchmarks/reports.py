"""The reports' cost, measured (run by hand, not a test): for 60 s jobs on the shared datasets, the seconds
each report took (from the job's log) against the job budget, and the peak memory of the job's processes
while reports were written against their peak while models trained.

    python -m benchmarks.reports --out benchmarks/results/reports [--datasets adult credit_g] [--budget 60]

Memory is the PSS of the worker and its training processes, sampled every 0.1 s and filed under the job's
secondary status at that moment (AnalyzingData holds the exploration report; GeneratingModelInsightsReport and
GeneratingExplainabilityReport the best candidate's insights and SHAP values).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

from benchmarks.one import tree_memory_bytes
from benchmarks.run import _datasets, machine

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO.parent / "shared" / "datasets" / "manifest.json"
ROLE = "arn:aws:iam::000000000000:role/automl-local"
WRITTEN = re.compile(r"(data exploration report|model insights of \S+|explainability of \S+).*? written in "
                     r"([0-9.]+) s")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \S+ (\w+)/(\w+)$", re.M)
REPORT_STAGES = ("GeneratingModelInsightsReport", "GeneratingExplainabilityReport")


def run_job(dataset: dict, budget: int, out: Path) -> dict:
    import automl

    home = out / "home" / dataset["name"]
    client = automl.Client(home)
    name = dataset["name"].replace("_", "-")[:32]
    client.create_auto_ml_job(
        AutoMLJobName=name, RoleArn=ROLE, ProblemType=dataset["problem_type"],
        InputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": dataset["train"]}},
                          "TargetAttributeName": dataset["target"]}],
        OutputDataConfig={"S3OutputPath": str(out / "jobs")},
        AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget}})
    peaks: dict[str, int] = {}
    began = time.time()
    while True:
        job = client.store.job(name)
        if job.status.value not in ("InProgress", "Stopping"):
            break
        if job.pid:
            stage = job.secondary_status
            peaks[stage] = max(peaks.get(stage, 0), tree_memory_bytes(job.pid))
        time.sleep(0.1)
    wall = time.time() - began
    log = (home / "logs" / f"{name}.log").read_text()
    seconds = {}
    for what, value in WRITTEN.findall(log):
        kind = what.split(" of ")[0]
        seconds[kind] = seconds.get(kind, 0.0) + float(value)
    describe = client.describe_auto_ml_job(AutoMLJobName=name)
    training_peak = max((v for k, v in peaks.items() if k not in REPORT_STAGES + ("AnalyzingData",)), default=0)
    report_peak = max((peaks.get(k, 0) for k in REPORT_STAGES), default=0)
    # The whole report step, skipped attempts included: from its first status to the job's terminal one.
    stages = [(time.mktime(time.strptime(t[:19], "%Y-%m-%d %H:%M:%S")) + int(t[20:]) / 1000, status, secondary)
              for t, status, secondary in STAMP.findall(log)]
    began = next((t for t, _, secondary in stages if secondary == "GeneratingModelInsightsReport"), None)
    ended = next((t for t, status, _ in stages if status in ("Completed", "Failed", "Stopped")), None)
    seconds["after training, in all"] = round(ended - began, 2) if began and ended else 0.0
    total = seconds.get("data exploration report", 0.0) + seconds["after training, in all"]
    return {
        "dataset": dataset["name"], "status": describe["AutoMLJobStatus"], "wall_s": round(wall, 1),
        "best": describe.get("BestCandidate", {}).get("CandidateName"),
        "report_seconds": {k: round(v, 2) for k, v in seconds.items()}, "report_total_s": round(total, 2),
        "share_of_budget": round(total / budget, 4),
        "skipped": [r["PartialFailureMessage"] for r in describe.get("PartialFailureReasons", [])
                    if "skipped" in r["PartialFailureMessage"]],
        "peak_mb": {k: round(v / 2**20) for k, v in peaks.items()},
        "report_peak_over_training_peak": round(report_peak / training_peak, 3) if training_peak else None,
        "explain_method": _explain_method(describe),
    }


def _explain_method(describe: dict) -> str | None:
    locations = describe.get("BestCandidate", {}).get("CandidateProperties", {}).get("CandidateArtifactLocations")
    if not locations:
        return None
    path = Path(locations["Explainability"].removeprefix("file://")) / "analysis.json"
    if not path.exists():
        return "skipped"
    automl_part = json.loads(path.read_text())["automl"]
    return f"{automl_part['method']} ({automl_part['rows']} rows, {automl_part['seconds']:.2f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--datasets", nargs="*")
    parser.add_argument("--budget", type=int, default=60)
    args = parser.parse_args(argv)
    if not SUITE.exists():
        print(f"the shared datasets are not at {SUITE}: nothing to measure")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AUTOML_MAX_RUNNING_JOBS", "1")
    results = []
    for dataset in _datasets(SUITE, args.datasets):
        result = run_job(dataset, args.budget, args.out)
        results.append(result)
        print(json.dumps(result), flush=True)
    print(f"\n{'dataset':<26}{'report s':>9}{'share':>8}{'report/training peak':>22}  explainability")
    for r in results:
        print(f"{r['dataset']:<26}{r['report_total_s']:>9.2f}{r['share_of_budget']:>8.1%}"
              f"{r['report_peak_over_training_peak'] or float('nan'):>22.2f}  {r['explain_method']}")
    (args.out / "result.json").write_text(json.dumps({"machine": machine("benchmarks.reports"), "budget_s": args.budget,
                                                      "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
