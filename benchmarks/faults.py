"""Faults the engine must survive, counted (run by hand, not a test; tests/test_faults.py runs the quick cases
with these same checks):

    python -m benchmarks.faults --out benchmarks/results/faults

- kill: kill -9 of a job's worker at seeded random moments, ENSEMBLING and HYPERPARAMETER_TUNING jobs in
  turn, each job killed up to --kills-per-job times and resumed with `automl resume` after each kill. After a
  kill: Describe says Failed with the worker's reason and no candidate InProgress, every store passes PRAGMA
  integrity_check, no output file is half-written, nothing the worker started still runs. At the end: the job
  is Completed with a best model, no candidate is lost or listed twice, and no temporary file is left.
- create: four processes calling CreateAutoMLJob at the same instant, with four distinct names (all stored,
  once each) and with one name (one stored, three ResourceInUse naming it).
- load: Describe/ListAutoMLJobs/ListCandidatesForAutoMLJob calls from several processes at --rate a second
  while jobs run: no error, every answer valid against the contract, no status going backwards.
- disk_full: jobs whose output folder is a small tmpfs of each --disk-sizes (root only): Failed with a reason
  naming the output location and the full disk, or Completed with a best model that loads where the small
  candidates fit (those that did not Failed saying why); the store intact, another job untouched, no
  half-written file.

Writes result.json under --out: per kind {"tried": N, "survived": M, ...details}.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "automl" / "data" / "breast_cancer.csv"
TARGET = "diagnosis"
ROLE = "arn:aws:iam::000000000000:role/automl-local"
TUNING = {"Mode": "HYPERPARAMETER_TUNING", "CompletionCriteria": {"MaxCandidates": 6},
          "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner", "xgboost"]}]}}
ENSEMBLING = {"Mode": "ENSEMBLING",
              "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner",
                                                                                       "extra-trees"]}]}}
TAG = {"ENSEMBLING": "ens", "HYPERPARAMETER_TUNING": "hpo"}  # a mode in job names
# The order a job's statuses move in; a terminal status comes after all of them.
PRIMARY = {"InProgress": 0, "Stopping": 1, "Completed": 2, "Failed": 2, "Stopped": 2}
SECONDARY = ("Starting", "AnalyzingData", "FeatureEngineering", "TrainingModels", "ModelTuning",
             "GeneratingModelInsightsReport", "GeneratingExplainabilityReport", "DeployingModel", "Stopping")
TERMINAL = ("Completed", "Failed", "Stopped")
WORKER_DIED = "the worker process (pid {pid}) ended without finishing the job: it was killed or the machine stopped"


def body(name: str, output: Path, config: dict | None = None, **extra) -> dict:
    """A CreateAutoMLJob request on the shipped breast-cancer data."""
    request = {"AutoMLJobName": name, "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": str(output)},
               "InputDataConfig": [{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(DATA)}},
                                    "TargetAttributeName": TARGET}]}
    return request | ({"AutoMLJobConfig": config} if config else {}) | extra


# --- checks ------------------------------------------------------------------------------------------------

def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def broken_stores(home: Path) -> dict[str, str]:
    """Every SQLite file under AUTOML_HOME (the job store and the tuning studies) whose integrity check is not
    'ok', with what the check said."""
    found = {p.name: integrity(p) for p in [home / "jobs.sqlite3", *sorted((home / "studies").glob("*.db"))]
             if p.exists()}
    return {name: said for name, said in found.items() if said != "ok"}


def unfinished_files(folder: Path, temporary_ok: bool = False) -> list[str]:
    """Files under a job output folder that are not whole: a temporary file a write left (allowed right after a
    kill, until the next worker sweeps it), or a JSON, notebook, CSV, parquet, array or model file that does not
    parse or, for a model with its integrity record, does not verify and load."""
    from automl.artifacts import load_model

    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(".tmp-"):
            if not temporary_ok:
                problems.append(f"{path}: a temporary file was left")
            continue
        try:
            if path.suffix in (".json", ".ipynb"):
                json.loads(path.read_text())
            elif path.suffix == ".csv":
                pd.read_csv(path)
            elif path.suffix == ".parquet":
                pd.read_parquet(path)
            elif path.suffix == ".npy":
                np.load(path)
            elif path.suffix == ".joblib" and path.with_name(path.name + ".sha256").exists():
                load_model(str(path))
        except Exception as exc:  # whatever a reader would trip on
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
    return problems


def candidates(sm, name: str) -> list[dict]:
    """Every candidate of a job, through all pages of ListCandidatesForAutoMLJob."""
    found, token = [], None
    while True:
        page = sm.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100,
                                                  **({"NextToken": token} if token else {}))
        found += page["Candidates"]
        token = page.get("NextToken")
        if not token:
            return found


def twice(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group: a killed worker's training processes must end with it."""
    from automl.processes import GONE, stat_fields

    members = {int(e): stat_fields(int(e)) for e in os.listdir("/proc") if e.isdigit()}
    return [pid for pid, fields in members.items() if fields and int(fields[2]) == pgid and fields[0] not in GONE]


def job_problems(sm, name: str, completed_before: set[str], trials: int | None) -> list[str]:
    """What is wrong with a job that should have completed after its resumes: not stored exactly once, not
    Completed with a best model, a candidate listed twice, one that had completed no longer Completed, trial
    numbers not 0..n-1."""
    from automl.artifacts import load_model

    final = sm.describe_auto_ml_job(AutoMLJobName=name)
    stored = [j.name for j in sm.store.jobs()].count(name)
    problems = [f"{name}: stored {stored} times"] if stored != 1 else []
    if final["AutoMLJobStatus"] != "Completed" or "BestCandidate" not in final:
        problems.append(f"{name}: ended {final['AutoMLJobStatus']}/{final['AutoMLJobSecondaryStatus']} "
                        f"{final.get('FailureReason', '')}")
    listed = candidates(sm, name)
    names = [c["CandidateName"] for c in listed]
    problems += [f"{name}: candidate {n} listed twice" for n in twice(names)]
    status = {c["CandidateName"]: c["CandidateStatus"] for c in listed}
    problems += [f"{name}: candidate {n} was Completed, now {status.get(n, 'missing')}"
                 for n in sorted(completed_before) if status.get(n) != "Completed"]
    if trials is not None:
        numbers = sorted(int(n.split("-trial-")[1][:3]) for n in names if "-trial-" in n)
        if numbers != list(range(trials)):
            problems.append(f"{name}: trial numbers {numbers}, expected 0..{trials - 1}")
    if "BestCandidate" in final:
        output = Path(final["OutputDataConfig"]["S3OutputPath"]) / name
        try:
            load_model(str(output / "best_candidate" / "model.joblib"))
        except Exception as exc:
            problems.append(f"{name}: the best model does not load: {type(exc).__name__}: {exc}")
    return problems


# --- kill -9 and resume ------------------------------------------------------------------------------------

def wait_status(sm, name: str, done, timeout: float, poll_s: float = 0.1) -> dict:
    """Describe until `done(describe)` holds (every poll also reaps dead workers); the last Describe."""
    deadline = time.time() + timeout
    while True:
        answer = sm.describe_auto_ml_job(AutoMLJobName=name)
        if done(answer) or time.time() >= deadline:
            return answer
        time.sleep(poll_s)


def kill_after(store, name: str, delay_s: float) -> tuple[int, str] | None:
    """kill -9 the job's worker `delay_s` after it started; (pid, the secondary status it was in), or None when
    the job ended first."""
    while (job := store.job(name)).pid is None and job.status.value == "InProgress":
        time.sleep(0.05)
    time.sleep(delay_s)
    job = store.job(name)
    if job.status.value not in ("InProgress", "Stopping"):
        return None
    os.kill(job.pid, signal.SIGKILL)
    return job.pid, job.secondary_status


def resume(home: Path, name: str) -> str | None:
    """`automl resume NAME --no-wait`, as a user runs it; None when accepted, else what it said."""
    done = subprocess.run([sys.executable, "-m", "automl.cli", "resume", name, "--no-wait"], cwd=REPO,
                          env=os.environ | {"AUTOML_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["(no message)"])[-1]


@dataclass
class Kill:
    job: str
    mode: str
    delay_s: float
    pid: int
    at: str  # the secondary status the job was in
    problems: list[str] = field(default_factory=list)


def after_kill(sm, home: Path, output: Path, name: str, pid: int) -> list[str]:
    """The checks right after a kill: Failed with the worker's reason and no candidate still InProgress, stores
    intact, every output file whole (a temporary file may remain until the next worker), nothing of the worker
    still running."""
    dead = wait_status(sm, name, lambda d: d["AutoMLJobStatus"] != "InProgress", timeout=30)
    problems = []
    if (dead["AutoMLJobStatus"], dead.get("FailureReason")) != ("Failed", WORKER_DIED.format(pid=pid)):
        problems.append(f"{name}: after the kill {dead['AutoMLJobStatus']}: {dead.get('FailureReason')}")
    problems += [f"{name}: candidate {c.name} still InProgress after the kill" for c in sm.store.candidates(name)
                 if c.status.value == "InProgress"]
    problems += [f"{db}: {said}" for db, said in broken_stores(home).items()]
    problems += unfinished_files(output / name, temporary_ok=True)
    time.sleep(0.5)
    if group_members(pid):
        problems.append(f"{name}: processes of the killed worker still run: {group_members(pid)}")
    return problems


def kill_job(sm, home: Path, output: Path, name: str, mode: str, delays: list[float]) -> list[Kill]:
    """One job killed at each delay after its (re)started worker, resumed after each kill, then followed to its
    end; a kill's problems include those the job shows at its end."""
    config = TUNING if mode == "HYPERPARAMETER_TUNING" else ENSEMBLING
    sm.create_auto_ml_job(**body(name, output, config))
    kills: list[Kill] = []
    completed: set[str] = set()
    for delay in delays:
        done = kill_after(sm.store, name, delay)
        if done is None:
            break
        completed |= {c.name for c in sm.store.candidates(name) if c.completed}
        kill = Kill(name, mode, round(delay, 2), *done)
        kill.problems = after_kill(sm, home, output, name, kill.pid)
        kills.append(kill)
        refused = resume(home, name)
        if refused:
            kill.problems.append(f"{name}: resume refused: {refused}")
            return kills
    wait_status(sm, name, lambda d: d["AutoMLJobStatus"] in TERMINAL, timeout=300, poll_s=0.5)
    trials = TUNING["CompletionCriteria"]["MaxCandidates"] if mode == "HYPERPARAMETER_TUNING" else None
    ending = job_problems(sm, name, completed, trials) + unfinished_files(output / name)
    ending += [f"{db}: {said}" for db, said in broken_stores(home).items()]
    for kill in kills:
        kill.problems += ending
    return kills


def duration(sm, output: Path, name: str, mode: str) -> float:
    """How long an unkilled job of the mode runs from its worker's start: the span kill moments are drawn from."""
    config = TUNING if mode == "HYPERPARAMETER_TUNING" else ENSEMBLING
    sm.create_auto_ml_job(**body(name, output, config))
    while sm.store.job(name).pid is None:
        time.sleep(0.05)
    began = time.time()
    final = wait_status(sm, name, lambda d: d["AutoMLJobStatus"] in TERMINAL, timeout=300, poll_s=0.2)
    if final["AutoMLJobStatus"] != "Completed":
        raise RuntimeError(f"the unkilled {mode} job ended {final['AutoMLJobStatus']}: {final.get('FailureReason')}")
    return time.time() - began


def kills(sm, home: Path, work: Path, count: int, per_job: int, modes: list[str], seed: int) -> dict:
    """`count` kills at moments drawn uniformly over each mode's unkilled duration, modes in turn."""
    rng = random.Random(seed)
    output = work / "out"
    spans = {mode: duration(sm, output, f"clean-{TAG[mode]}", mode) for mode in modes}
    done: list[Kill] = []
    jobs = late = 0
    while len(done) < count:
        mode = modes[jobs % len(modes)]
        delays = [rng.uniform(0.0, spans[mode]) for _ in range(min(per_job, count - len(done)))]
        killed = kill_job(sm, home, output, f"kill-{jobs:02d}-{TAG[mode]}", mode, delays)
        done, late, jobs = done + killed, late + len(delays) - len(killed), jobs + 1
    return {"tried": len(done), "survived": sum(not k.problems for k in done),
            "by_mode": {m: {"tried": sum(k.mode == m for k in done),
                            "survived": sum(k.mode == m and not k.problems for k in done)} for m in modes},
            "unkilled_duration_s": {m: round(s, 1) for m, s in spans.items()}, "jobs": jobs, "seed": seed,
            "moments_drawn_after_the_job_ended": late,
            "kills": [asdict(k) for k in done]}


# --- concurrent creates ------------------------------------------------------------------------------------

def create_on_signal() -> None:
    """A racer (`python -c 'from benchmarks.faults import create_on_signal; create_on_signal()'`): says ready once
    the engine is imported, then makes one CreateAutoMLJob per request line read from stdin, printing each
    outcome as a JSON line."""
    import automl
    from automl.errors import AutoMLError

    sm = automl.client()
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            outcome = {"arn": sm.create_auto_ml_job(**json.loads(line))["AutoMLJobArn"]}
        except AutoMLError as exc:
            outcome = {"code": exc.code, "message": exc.message}
        print(json.dumps(outcome), flush=True)


class Racers:
    """Processes that create jobs at the same instant: each has imported the engine and waits on its stdin, so
    one round's requests reach them all within microseconds."""

    def __init__(self, home: Path, count: int = 4):
        code = "from benchmarks.faults import create_on_signal; create_on_signal()"
        self.processes = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, text=True,
                                           env=os.environ | {"AUTOML_HOME": str(home)},
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                          for _ in range(count)]
        for process in self.processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"racer {process.pid} did not start")

    def race(self, requests: list[dict]) -> list[dict]:
        """Each racer's outcome of its request: {"arn": ...} or {"code": ..., "message": ...}."""
        lines = [json.dumps(r) + "\n" for r in requests]
        for process, line in zip(self.processes, lines, strict=True):
            process.stdin.write(line)
        for process in self.processes:
            process.stdin.flush()
        return [json.loads(p.stdout.readline()) for p in self.processes]

    def close(self) -> None:
        for process in self.processes:
            process.stdin.close()
            process.wait(timeout=60)


def settle(sm, names: list[str]) -> None:
    """Stop the jobs a race made (a queued one stops at once) and wait for their workers to end."""
    for name in names:
        if sm.store.job(name).status.value == "InProgress":
            sm.stop_auto_ml_job(AutoMLJobName=name)
    for name in names:
        sm.wait(name, timeout=120, poll_s=0.2)


def race_problems(sm, home: Path, outcomes: list[dict], names: list[str]) -> list[str]:
    """What a race got wrong: distinct names must all be created, once each; one name must be created once,
    the others refused with ResourceInUse naming it; the store holds each job once and stays intact."""
    stored = [j.name for j in sm.store.jobs()]
    problems = [f"{n}: stored {stored.count(n)} times" for n in set(names) if stored.count(n) != 1]
    created = [o for o in outcomes if "arn" in o]
    refused = [o for o in outcomes if "arn" not in o]
    if len(set(names)) == len(names):
        problems += [f"refused: {o}" for o in refused]
    else:
        name = names[0]
        expected = f"AutoMLJobName: a job named {name!r} already exists (names are case-insensitive)"
        if len(created) != 1:
            problems.append(f"{len(created)} creates of {name} succeeded")
        problems += [f"wrong refusal: {o}" for o in refused if (o["code"], o["message"]) != ("ResourceInUse",
                                                                                           expected)]
    problems += [f"{db}: {said}" for db, said in broken_stores(home).items()]
    return problems


def creates(sm, home: Path, work: Path, rounds: int) -> dict:
    """Rounds of four racers with four distinct names, then with one name, each round's jobs stopped after."""
    racers = Racers(home)
    results = {"distinct": [], "equal": []}
    try:
        for r in range(rounds):
            for kind in results:
                names = [f"race-{r}-{i}" for i in range(4)] if kind == "distinct" else [f"race-{r}-same"] * 4
                outcomes = racers.race([body(n, work / "out", GenerateCandidateDefinitionsOnly=True) for n in names])
                settle(sm, sorted(set(names)))
                results[kind].append(race_problems(sm, home, outcomes, names))
    finally:
        racers.close()
    every = results["distinct"] + results["equal"]
    return {"tried": len(every), "survived": sum(not p for p in every),
            **{kind: {"tried": len(r), "survived": sum(not p for p in r), "problems": [p for ps in r for p in ps]}
               for kind, r in results.items()}}


# --- Describe/List under load ------------------------------------------------------------------------------

def rank(status: str, secondary: str) -> tuple[int, int]:
    return PRIMARY[status], SECONDARY.index(secondary) if status not in TERMINAL else len(SECONDARY)


@dataclass
class Tally:
    """One caller's calls: how many, how many Describes found the job InProgress (the calls ran while it did),
    which failed, which answers broke the contract or went backwards."""

    calls: int = 0
    in_progress: int = 0
    errors: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    backwards: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> Tally:
        return Tally(self.calls + other.calls, self.in_progress + other.in_progress, self.errors + other.errors,
                     self.invalid + other.invalid, self.backwards + other.backwards)


class Watcher:
    """What one caller has seen, in the order it saw it: a job's status may only move forward, and a candidate
    once listed stays listed, never back to InProgress once it ended."""

    def __init__(self):
        self.jobs: dict[str, tuple[int, int]] = {}
        self.candidates: dict[str, dict[str, str]] = {}

    def job(self, name: str, status: str, secondary: str) -> list[str]:
        now, before = rank(status, secondary), self.jobs.get(name, (0, 0))
        self.jobs[name] = max(now, before)
        return [f"{name}: {status}/{secondary} after a later status"] if now < before else []

    def listed(self, job: str, found: dict[str, str]) -> list[str]:
        before = self.candidates.get(job, {})
        self.candidates[job] = found
        return ([f"{job}: candidate {n} no longer listed" for n in before if n not in found]
                + [f"{job}: candidate {n} back to InProgress" for n, s in found.items()
                   if s == "InProgress" and before.get(n, "InProgress") != "InProgress"])


def call(sm, watcher: Watcher, i: int, names: list[str]) -> tuple[str, dict, list[str]]:
    """The i-th call of a caller: Describe, ListAutoMLJobs and ListCandidatesForAutoMLJob in turn over the jobs."""
    name = names[(i // 3) % len(names)]
    if i % 3 == 0:
        answer = sm.describe_auto_ml_job(AutoMLJobName=name)
        return "DescribeAutoMLJob", answer, watcher.job(name, answer["AutoMLJobStatus"],
                                                        answer["AutoMLJobSecondaryStatus"])
    if i % 3 == 1:
        answer = sm.list_auto_ml_jobs(MaxResults=100)
        return "ListAutoMLJobs", answer, [p for s in answer["AutoMLJobSummaries"] if s["AutoMLJobName"] in names
                                          for p in watcher.job(s["AutoMLJobName"], s["AutoMLJobStatus"],
                                                               s["AutoMLJobSecondaryStatus"])]
    answer = sm.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)
    return "ListCandidatesForAutoMLJob", answer, watcher.listed(
        name, {c["CandidateName"]: c["CandidateStatus"] for c in answer["Candidates"]})


def caller(home: Path, names: list[str], calls: int, every_s: float = 0.0, start_at: float = 0.0) -> Tally:
    """`calls` calls, started one every `every_s` from `start_at`, each answer checked against the contract."""
    import automl
    from automl.contract import validate_response

    sm, watcher, tally = automl.client(home), Watcher(), Tally()
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    for i in range(calls):
        time.sleep(max(0.0, began + i * every_s - time.time()))
        tally.calls += 1
        try:
            operation, answer, backwards = call(sm, watcher, i, names)
        except Exception as exc:
            tally.errors.append(f"call {i}: {type(exc).__name__}: {exc}")
            continue
        tally.backwards += backwards
        tally.in_progress += operation == "DescribeAutoMLJob" and answer["AutoMLJobStatus"] == "InProgress"
        try:
            validate_response(operation, answer)
        except Exception as exc:
            tally.invalid.append(f"{operation}: {exc}")
    return tally


def callers(home: Path, names: list[str], threads: int, calls: int, every_s: float = 0.0,
            start_at: float = 0.0) -> Tally:
    """`threads` callers in this process, their tallies added."""
    tallies = [Tally()] * threads

    def run(i: int) -> None:
        tallies[i] = caller(home, names, calls, every_s, start_at)
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = Tally()
    for tally in tallies:
        total = total.add(tally)
    return total


def load(sm, home: Path, work: Path, rate: float, seconds: float, processes: int, threads: int) -> dict:
    """Calls at `rate` a second in all from processes x threads callers for `seconds`, while a job of each mode
    runs (every algorithm, time-capped to outlast the calls); how many calls a second were made, and every
    problem seen."""
    names = ["load-tuning", "load-ensembling"]
    callers_n = processes * threads
    start_at = time.time() + 12  # the spawned processes import the engine meanwhile, and the jobs start
    outlast = {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": int(12 + seconds + 20)}}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pending = pool.starmap_async(callers, [(home, names, threads, int(rate * seconds / callers_n),
                                                callers_n / rate, start_at)] * processes)
        sm.create_auto_ml_job(**body(names[0], work / "out", {"Mode": "HYPERPARAMETER_TUNING"} | outlast))
        sm.create_auto_ml_job(**body(names[1], work / "out", {"Mode": "ENSEMBLING"} | outlast))
        tallies = pending.get()
    took = time.time() - start_at
    running = {n: sm.describe_auto_ml_job(AutoMLJobName=n)["AutoMLJobStatus"] for n in names}
    total = Tally()
    for tally in tallies:
        total = total.add(tally)
    for name in names:
        sm.wait(name, timeout=300, poll_s=0.5)
    bad = len(total.errors) + len(total.invalid) + len(total.backwards)
    return {"tried": total.calls, "survived": total.calls - bad, "target_per_s": rate,
            "achieved_per_s": round(total.calls / took, 1), "seconds": round(took, 1),
            "describes_in_progress": total.in_progress,
            "callers": f"{processes} processes x {threads} threads", "jobs_when_calls_ended": running,
            "errors": total.errors[:10], "invalid": total.invalid[:10], "backwards": total.backwards[:10]}


# --- a full output disk ------------------------------------------------------------------------------------

def mount_small_disk(folder: Path, size: str) -> Path:
    """A tmpfs of `size` at `folder` (root only); OSError saying why where it cannot be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"cannot mount a {size} tmpfs at {folder}: {done.stderr.strip() or done.returncode}")
    return folder


def unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # busy: detach now, free when unused


def full_disk_problems(sm, home: Path, disk: Path, name: str, bystander: tuple[str, dict]) -> tuple[str, list[str]]:
    """A job on a full disk: Failed saying where and why, or Completed with a best model that loads where the
    candidates that fit are enough (those that did not fit Failed saying why); the store intact, the other
    job's Describe unchanged, every file on the disk whole. Its ending and what is wrong."""
    final = sm.wait(name, timeout=300, poll_s=0.5)
    reason = final.get("FailureReason", "")
    problems = []
    if final["AutoMLJobStatus"] == "Failed" and not (
            "no space left on device" in reason.lower() and f"file://{disk / name}/" in reason):
        problems.append(f"{name}: a reason that names neither the output location nor the full disk: {reason}")
    elif final["AutoMLJobStatus"] != "Failed":
        problems += job_problems(sm, name, set(), None)
    other, before = bystander
    if sm.describe_auto_ml_job(AutoMLJobName=other) != before:
        problems.append(f"{other}: its Describe changed")
    problems += [f"{db}: {said}" for db, said in broken_stores(home).items()] + unfinished_files(disk)
    return f"{final['AutoMLJobStatus']}: {reason}" if reason else final["AutoMLJobStatus"], problems


def out_of_space(sm, name: str) -> int:
    """Candidates that Failed because their files did not fit."""
    return sum("No space left on device" in (c.failure_reason or "") for c in sm.store.candidates(name))


def disk_full(sm, home: Path, work: Path, sizes: list[str], modes: list[str]) -> dict:
    """One job per size and mode on its own tmpfs of that size, next to a finished job of the same store."""
    other = "disk-bystander"
    sm.create_auto_ml_job(**body(other, work / "out", GenerateCandidateDefinitionsOnly=True))
    bystander = (other, sm.wait(other, timeout=120, poll_s=0.5))
    runs = []
    for size in sizes:
        for mode in modes:
            name = f"disk-{size}-{TAG[mode]}"
            disk = mount_small_disk(work / "disks" / name, size)
            try:
                sm.create_auto_ml_job(**body(name, disk, TUNING if mode == "HYPERPARAMETER_TUNING" else ENSEMBLING))
                ending, problems = full_disk_problems(sm, home, disk, name, bystander)
            finally:
                unmount(disk)
            runs.append({"size": size, "mode": mode, "ending": ending,
                         "candidates_failed_for_space": out_of_space(sm, name), "problems": problems})
    return {"tried": len(runs), "survived": sum(not r["problems"] for r in runs),
            "failed": sum(r["ending"].startswith("Failed") for r in runs),
            "completed": sum(r["ending"].startswith("Completed") for r in runs), "runs": runs}


# --- the run -----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import machine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "faults")
    parser.add_argument("--work", type=Path, default=Path("/tmp/automl-faults"))
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--kills-per-job", type=int, default=2)
    parser.add_argument("--modes", default="ENSEMBLING,HYPERPARAMETER_TUNING")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of concurrent creates of each kind")
    parser.add_argument("--rate", type=float, default=200.0, help="Describe/List calls a second")
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--disk-sizes", default="16k,64k,256k")
    args = parser.parse_args(argv)
    if args.work.exists():
        subprocess.run(["rm", "-rf", str(args.work)], check=True)
    home = args.work / "home"
    os.environ["AUTOML_HOME"] = str(home)
    import automl

    sm, modes = automl.client(home), args.modes.split(",")
    began = time.time()
    result = {"kill": kills(sm, home, args.work, args.kills, args.kills_per_job, modes, args.seed),
              "create": creates(sm, home, args.work, args.rounds),
              "load": load(sm, home, args.work, args.rate, args.load_seconds, processes=4, threads=2)}
    try:
        result["disk_full"] = disk_full(sm, home, args.work, args.disk_sizes.split(","), modes)
    except OSError as exc:
        result["disk_full"] = {"tried": 0, "survived": 0, "skipped": str(exc)}
    result["wall_s"] = round(time.time() - began, 1)
    result["machine"] = machine("benchmarks.faults")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: {"tried": v["tried"], "survived": v["survived"]} for k, v in result.items()
                      if isinstance(v, dict) and "tried" in v}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
