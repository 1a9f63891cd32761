"""Serving, measured (run by hand, not a test): InvokeEndpoint latency and throughput through `automl serve`
with the real boto3 client, a load test of the endpoint and the control plane at once, and batch transform of a
large CSV against `automl predict`.

    python -m benchmarks.serving --out benchmarks/results/serving [--transform-gb 1]

Two jobs train on the shared `adult` dataset (60 s each, ModelDeployConfig): the default ENSEMBLING job (bagged
models, stacks and weighted ensembles) and a HYPERPARAMETER_TUNING job of xgboost pipelines, whose best candidate is
one pipeline with an InferenceLatency of a few milliseconds. Every
number is printed and written to result.json; predictions through the endpoint are compared value for value
with `automl predict` on the whole test split.
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
from botocore.config import Config

from benchmarks.one import tree_memory_bytes
from benchmarks.run import machine

REPO = Path(__file__).resolve().parents[1]
ADULT = REPO.parent / "shared" / "datasets" / "adult"
ROLE = "arn:aws:iam::000000000000:role/automl-local"
CREDENTIALS = {"aws_access_key_id": "AKIDBENCH", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"AUTOML_HOME": str(home)}
    log = open(home / "server.log", "ab")  # noqa: SIM115 - the server's lifetime, closed with it
    process = subprocess.Popen([sys.executable, "-m", "automl.cli", "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    sm = client(url)
    for _ in range(200):
        try:
            sm.list_endpoints()
            return process, url
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("the server did not start; see " + str(home / "server.log"))


def client(url: str, service: str = "sagemaker", pool: int = 10):
    return boto3.client(service, endpoint_url=url, config=Config(retries={"max_attempts": 1},
                                                                 max_pool_connections=pool), **CREDENTIALS)


def train(sm, name: str, out: Path, mode: str, algorithms: list[str] | None, budget: int) -> dict:
    config = {"Mode": mode, "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget}}
    if algorithms:
        config["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": algorithms}]}
    sm.create_auto_ml_job(
        AutoMLJobName=name, RoleArn=ROLE, OutputDataConfig={"S3OutputPath": str(out)}, AutoMLJobConfig=config,
        InputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                          "S3Uri": str(ADULT / "train.csv")}},
                          "TargetAttributeName": "class"}],
        ModelDeployConfig={"EndpointName": name})
    while True:
        answer = sm.describe_auto_ml_job(AutoMLJobName=name)
        if answer["AutoMLJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(2)
    if answer["AutoMLJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {answer['AutoMLJobStatus']}: {answer.get('FailureReason')}")
    best = answer["BestCandidate"]
    latency = next(m["Value"] for m in best["CandidateProperties"]["CandidateMetrics"]
                   if m["StandardMetricName"] == "InferenceLatency")
    return {"job": name, "best_candidate": best["CandidateName"], "inference_latency_s": latency,
            "objective": best["FinalAutoMLJobObjectiveMetric"]}


def percentiles(samples: list[float]) -> dict:
    ms = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2), "calls": len(ms)}


def csv_rows(frame: pd.DataFrame) -> list[bytes]:
    return [line.encode() + b"\n" for line in frame.to_csv(header=False, index=False).splitlines()]


def latency(runtime, endpoint: str, rows: list[bytes], calls: int) -> dict:
    for row in rows[:20]:  # the first call loads the model; warm it as a deployment would
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=row)
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=rows[i % len(rows)])["Body"].read()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def batches(runtime, endpoint: str, test: pd.DataFrame, size: int = 1000) -> tuple[dict, list[str]]:
    labels, samples = [], []
    for start in range(0, len(test), size):
        body = test.iloc[start:start + size].to_csv(header=False, index=False).encode()
        started = time.perf_counter()
        answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body)
        labels += answer["Body"].read().decode().splitlines()
        samples.append(time.perf_counter() - started)
    stats = percentiles(samples) | {"rows_per_s": round(len(test) / sum(samples)), "batch_rows": size}
    return stats, labels


def predict_cli(home: Path, job: str, path: Path, out: Path) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "automl.cli", "predict", "--job", job, "--input", str(path), "--output",
                    str(out)], env=os.environ | {"AUTOML_HOME": str(home)}, check=True)
    return time.perf_counter() - started, pd.read_csv(out)


def load_test(url: str, endpoint: str, rows: list[bytes], jobs_out: Path, seconds: float, clients: int) -> dict:
    """`clients` threads for `seconds`: half invoke the endpoint, half call the control plane (describe, list,
    and a job created and stopped every few seconds); every created job must be listed afterwards."""
    stop_at = time.time() + seconds
    errors, timings = [], {"invoke": [], "control": []}
    created = []
    lock = threading.Lock()
    run = time.strftime("%H%M%S")  # job names stay unique when the benchmark runs again on its store

    def invoker(k: int) -> None:
        runtime = client(url, "sagemaker-runtime")
        i = k
        while time.time() < stop_at:
            started = time.perf_counter()
            try:
                runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=rows[i % len(rows)])
                timings["invoke"].append(time.perf_counter() - started)
            except Exception as exc:
                errors.append(f"invoke: {exc}")
            i += clients

    def controller(k: int) -> None:
        sm = client(url)
        n = 0
        while time.time() < stop_at:
            started = time.perf_counter()
            try:
                if n % 20 == 0:
                    name = f"load-{run}-{k}-{n}"
                    sm.create_auto_ml_job(
                        AutoMLJobName=name, RoleArn=ROLE, OutputDataConfig={"S3OutputPath": str(jobs_out)},
                        InputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(
                            ADULT / "train.csv")}}, "TargetAttributeName": "class"}])
                    sm.stop_auto_ml_job(AutoMLJobName=name)
                    with lock:
                        created.append(name)
                elif n % 2:
                    sm.list_auto_ml_jobs(MaxResults=10)
                else:
                    sm.describe_auto_ml_job(AutoMLJobName=created[-1] if created else endpoint)
                timings["control"].append(time.perf_counter() - started)
            except Exception as exc:
                errors.append(f"control: {exc}")
            n += 1

    with futures.ThreadPoolExecutor(clients) as pool:
        done = [pool.submit(invoker if k % 2 == 0 else controller, k) for k in range(clients)]
        for f in done:
            f.result()
    sm = client(url)
    listed = {s["AutoMLJobName"] for p in sm.get_paginator("list_auto_ml_jobs").paginate(NameContains=f"load-{run}-")
              for s in p["AutoMLJobSummaries"]}
    return {"seconds": seconds, "clients": clients, "errors": len(errors), "first_errors": errors[:5],
            "jobs_created": len(created), "jobs_lost": len(set(created) - listed),
            "invoke": percentiles(timings["invoke"]), "control": percentiles(timings["control"])}


def big_csv(path: Path, test: pd.DataFrame, size_bytes: int) -> int:
    """The test split repeated until the file reaches `size_bytes` (with its header, as a user's file has)."""
    block = test.to_csv(index=False)
    header, body = block.split("\n", 1)
    rows = 0
    with open(path, "w") as handle:
        handle.write(header + "\n")
        while handle.tell() < size_bytes:
            handle.write(body)
            rows += len(test)
    return rows


def timed_peak(command: list[str], env: dict) -> tuple[float, int]:
    """Wall time and the peak memory (PSS of the process tree, sampled every 0.2 s) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_memory_bytes(process.pid))
        time.sleep(0.2)
    if process.returncode:
        raise RuntimeError(f"{command[3]} exited {process.returncode}")
    return time.perf_counter() - started, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--transform-gb", type=float, default=1.0)
    args = parser.parse_args()
    if not ADULT.exists():
        print(f"the shared datasets are not at {ADULT.parent}; nothing to measure", file=sys.stderr)
        return 1
    home = args.out / "home"
    home.mkdir(parents=True, exist_ok=True)
    test = pd.read_csv(ADULT / "test.csv").drop(columns=["class"])
    rows = csv_rows(test.head(1000))
    server, url = start_server(home)
    result = {"machine": machine("benchmarks.serving"), "dataset": "adult"}
    try:
        sm, runtime = client(url), client(url, "sagemaker-runtime")
        for name, mode, algorithms in (("serve-fast", "HYPERPARAMETER_TUNING", ["xgboost"]),
                                       ("serve-default", "ENSEMBLING", None)):
            if not any(s["AutoMLJobName"] == name for s in sm.list_auto_ml_jobs(NameContains=name)[
                    "AutoMLJobSummaries"]):
                result[name] = train(sm, name, args.out / "jobs", mode, algorithms, args.budget)
            else:
                result[name] = {"job": name}
            while not any(e["EndpointName"] == name for e in sm.list_endpoints()["Endpoints"]):
                time.sleep(1)
            result[name]["one_row"] = latency(runtime, name, rows, args.calls)
            stats, labels = batches(runtime, name, test)
            result[name]["batches_1000_rows"] = stats
            test_path = args.out / "test-features.csv"
            test.to_csv(test_path, index=False)
            predict_s, predicted = predict_cli(home, name, test_path, args.out / f"{name}-predict.csv")
            same = [str(v) for v in predicted["predicted_label"]] == labels
            result[name]["same_as_automl_predict"] = same
            result[name]["automl_predict_rows_per_s"] = round(len(test) / predict_s)
            print(json.dumps({name: result[name]}, indent=1), flush=True)
        result["load_test"] = load_test(url, "serve-fast", rows, args.out / "jobs", args.load_seconds, 8)
        print(json.dumps({"load_test": result["load_test"]}, indent=1), flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)

    big = args.out / "big.csv"
    size = int(args.transform_gb * 1024 ** 3)
    rows_big = big_csv(big, test, size)
    env = os.environ | {"AUTOML_HOME": str(home)}
    transform_s, transform_peak = timed_peak(
        [sys.executable, "-m", "automl.cli", "transform", "--job", "serve-fast", "--input", str(big), "--output",
         str(args.out / "transformed")], env)
    sample = args.out / "sample.csv"
    sample_rows = big_csv(sample, test, size // 10)
    predict_s, predict_peak = timed_peak(
        [sys.executable, "-m", "automl.cli", "predict", "--job", "serve-fast", "--input", str(sample), "--output",
         str(args.out / "sample-predict.csv")], env)
    result["transform"] = {
        "input_bytes": big.stat().st_size, "rows": rows_big, "seconds": round(transform_s, 1),
        "rows_per_s": round(rows_big / transform_s), "peak_memory_mb": round(transform_peak / 2 ** 20),
        "automl_predict": {"input_bytes": sample.stat().st_size, "rows": sample_rows, "seconds": round(predict_s, 1),
                           "rows_per_s": round(sample_rows / predict_s),
                           "peak_memory_mb": round(predict_peak / 2 ** 20)},
    }
    result["transform"]["rows_per_s_ratio_to_predict"] = round(
        result["transform"]["rows_per_s"] / result["transform"]["automl_predict"]["rows_per_s"], 2)
    print(json.dumps({"transform": result["transform"]}, indent=1), flush=True)
    for path in (big, sample, args.out / "sample-predict.csv", args.out / "test-features.csv",
                 *(args.out / f"{name}-predict.csv" for name in ("serve-fast", "serve-default"))):
        path.unlink()
    shutil.rmtree(args.out / "transformed")
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
