"""Deleting finished jobs (`automl delete-job`, `Client.delete_jobs`): every trace of a job goes (store rows,
tuning study, log, scratch), its outputs only when asked, and a job still in use is refused. The AUTOML_*
settings are refused at create by name, and all are documented. PartialFailureReasons name the models a limit
cost the job, not the trials Hyperband pruned."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import types

import optuna
import pandas as pd
import pytest

import automl
from automl import cleanup, settings
from automl.candidate import Candidate, CandidateStatus
from automl.contract import validate_response
from automl.errors import ResourceInUse, ResourceNotFound, ValidationException
from automl.responses import partial_failures
from runners import memory
from tests.conftest import BREAST_CANCER, REPO, only, request, wait_for

JOB = "budget"
DEAF = '''"""Loaded at the start of the budget job's worker and training processes (PYTHONPATH): linear-learner
ignores its deadline, as a fit stuck in one long step does, so only the executor's hard limit ends it."""
import time

import algorithms
from algorithms.linear_learner import LinearLearner


class DeafLinearLearner(LinearLearner):
    def fit(self, X, y, **kwargs):
        time.sleep(600)
        return super().fit(X, y, **kwargs)


algorithms.REGISTRY["linear-learner"] = DeafLinearLearner
'''


def cli(home, *argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl.cli", *argv], cwd=REPO, capture_output=True, text=True,
                          env=os.environ | {"AUTOML_HOME": str(home), "PYTHONPATH": str(REPO)}, timeout=180)


def all_candidates(sm, name) -> list[dict]:
    return sm.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)["Candidates"]


@pytest.fixture(scope="module")
def budget(tmp_path_factory):
    """A tuning job whose linear-learner trials only the job's limit ends (its xgboost trials finish), its study
    in a shared SQLite RDB beside another user's study, its best model deployed to an endpoint. The job lasts its
    whole budget; 60 s leaves a busy machine time to start the worker and its fork server before the trials."""
    root = tmp_path_factory.mktemp("cleanup")
    home, deaf = root / "home", root / "deaf"
    deaf.mkdir()
    (deaf / "sitecustomize.py").write_text(DEAF)
    shared = f"sqlite:///{root / 'shared.db'}"
    optuna.create_study(study_name="someone-else", storage=shared)
    sm = automl.Client(home)
    with pytest.MonkeyPatch.context() as patch:  # what the job's worker inherits
        patch.setenv("AUTOML_TUNING_STORAGE", shared)
        patch.setenv("PYTHONPATH", f"{deaf}{os.pathsep}{REPO}")
        sm.create_auto_ml_job(**request(
            BREAST_CANCER, name=JOB, output=root / "out", ModelDeployConfig={"AutoGenerateEndpointName": True},
            AutoMLJobConfig=only("xgboost", "linear-learner", mode="HYPERPARAMETER_TUNING") | {
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 60}}))
    final = sm.wait(JOB, timeout=120, poll_s=0.5)
    return {"sm": sm, "home": home, "out": root / "out", "shared": shared, "describe": final}


def test_a_trial_the_job_limit_stopped_is_a_partial_failure_and_a_pruned_one_is_not(budget):
    sm, final = budget["sm"], budget["describe"]
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed",
                                                                             "MaxAutoMLJobRuntimeReached"), final
    validate_response("DescribeAutoMLJob", final)
    listed = all_candidates(sm, JOB)
    stopped = {c["CandidateName"]: c["FailureReason"] for c in listed if c["CandidateStatus"] == "Stopped"}
    limited = {n: r for n, r in stopped.items() if n.endswith("-linear-learner")}
    assert limited, stopped
    assert all(r == f"{n}: ran past MaxAutoMLJobRuntimeInSeconds" for n, r in limited.items())
    reasons = [r["PartialFailureMessage"] for r in final["PartialFailureReasons"]]
    assert set(limited.values()) <= set(reasons), "each cost the job a model"
    assert not [r for r in reasons if "pruned by Hyperband" in r], "pruning is the search working as designed"
    assert final["BestCandidate"]["CandidateName"].endswith("-xgboost")
    board = pd.read_csv(budget["out"] / JOB / "leaderboard.csv")
    rows = board.set_index("candidate_name").loc[list(limited)]
    assert set(rows["status"]) == {"Stopped"} and list(rows["failure_reason"]) == list(limited.values())


def test_delete_job_removes_the_rows_study_and_log_and_keeps_the_outputs(budget):
    home, out, shared, sm = budget["home"], budget["out"], budget["shared"], budget["sm"]
    refused = cli(home, "delete-job", JOB)
    assert refused.returncode == 254
    assert (f"An error occurred (ResourceInUse): AutoMLJobName: job '{JOB}' is the model of endpoint '{JOB}'; "
            "delete the endpoint first (DeleteEndpoint)") in refused.stderr
    sm.delete_endpoint(EndpointName=JOB)

    count = len(all_candidates(sm, JOB))
    log = home / "logs" / f"{JOB}.log"
    dry = cli(home, "delete-job", JOB, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == f"would delete {JOB} (Completed):"
    assert lines[1] == f"  store: {home / 'jobs.sqlite3'} (the job, {count} candidates)"
    assert re.fullmatch(rf"  study: {re.escape(shared)} \(study {JOB}, \d+ trials\)", lines[2]), lines
    assert re.fullmatch(rf"  log: {re.escape(str(log))}, [\d.]+ (bytes|kB|MB)", lines[3]), lines
    assert lines[4] == f"  outputs kept: file://{out / JOB} (--outputs removes them)"
    assert lines[5].startswith("would delete 1 job (") and len(lines) == 6
    assert log.exists() and sm.describe_auto_ml_job(AutoMLJobName=JOB)["AutoMLJobStatus"] == "Completed"

    done = cli(home, "delete-job", JOB)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["deleted" + line.removeprefix("would delete") if "would delete" in line
                                        else line for line in lines]
    with sqlite3.connect(home / "jobs.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] == 0
    assert not log.exists()
    assert optuna.get_all_study_names(shared) == ["someone-else"], "only this job's study goes from a shared RDB"
    assert (out / JOB / "best_candidate" / "model.joblib").exists()

    with pytest.raises(ResourceNotFound, match=rf"^[^:]*: AutoMLJobName: no job named '{JOB}'$"):
        sm.delete_jobs([JOB])


def test_a_running_or_queued_job_is_refused_and_a_killed_workers_scratch_goes_with_its_job(
        sm, home, slow_csv, tmp_path, monkeypatch):
    out = tmp_path / "out"
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="crashed", output=out,
                                    AutoMLJobConfig=only("lightgbm")))
    wait_for(sm, "crashed", lambda d: d["AutoMLJobSecondaryStatus"] == "TrainingModels")
    monkeypatch.setenv("AUTOML_MAX_RUNNING_JOBS", "1")
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="waiting", output=out))
    with pytest.raises(ResourceInUse, match=r"^[^:]*: AutoMLJobName: job 'crashed' is InProgress; only a "
                                            r"Completed, Failed or Stopped job can be deleted: "
                                            r"stop it \(StopAutoMLJob\)"):
        sm.delete_jobs(["crashed"])
    queued = cli(home, "delete-job", "waiting")
    assert queued.returncode == 254 and "AutoMLJobName: job 'waiting' is InProgress (queued)" in queued.stderr

    sm.stop_auto_ml_job(AutoMLJobName="waiting")
    by_status = cli(home, "delete-job", "--older-than", "0s", "--status", "Stopped")
    assert by_status.returncode == 0, by_status.stderr
    assert by_status.stdout.splitlines() == [
        "deleted waiting (Stopped):", f"  store: {home / 'jobs.sqlite3'} (the job, 0 candidates)",
        f"  outputs kept: file://{out / 'waiting'} (--outputs removes them)", "deleted 1 job (0 bytes)"]
    assert sm.delete_jobs(older_than_s=cleanup.parse_duration("7d")) == [], "'crashed' still runs"

    os.kill(sm.store.job("crashed").pid, signal.SIGKILL)
    wait_for(sm, "crashed", lambda d: d["AutoMLJobStatus"] == "Failed", timeout=15)
    scratch = home / "scratch" / "crashed"
    assert (scratch / "dataset.joblib").exists(), "a killed worker leaves its scratch behind"
    assert (out / "crashed").is_dir()
    done = cli(home, "delete-job", "crashed", "--outputs")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "deleted crashed (Failed):"
    assert any(line.startswith(f"  scratch: {scratch}, ") for line in lines)
    assert any(line.startswith(f"  outputs: file://{out / 'crashed'}, ") for line in lines)
    assert not scratch.exists() and not (out / "crashed").exists() and not (home / "logs" / "crashed.log").exists()
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_outputs_on_s3_and_the_jobs_own_study_file_go_only_with_outputs(sm, home, s3):
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="defs", output="s3://data/defs",
                                    GenerateCandidateDefinitionsOnly=True,
                                    AutoMLJobConfig={"Mode": "HYPERPARAMETER_TUNING"}))
    assert sm.wait("defs", timeout=120)["AutoMLJobSecondaryStatus"] == "CandidateDefinitionsGenerated"
    objects = s3.list_objects_v2(Bucket="data", Prefix="defs/defs/")["Contents"]
    assert "defs/defs/candidate_definitions.json" in {o["Key"] for o in objects}
    study = home / "studies" / "defs.db"
    assert study.exists()

    [dry] = sm.delete_jobs(["defs"], outputs=True, dry_run=True)
    assert [t.kind for t in dry.traces] == ["store", "study", "log", "outputs"]
    assert [(t.location, t.size) for t in dry.traces if t.kind in ("study", "outputs")] == [
        (str(study), study.stat().st_size), ("s3://data/defs/defs", sum(o["Size"] for o in objects))]
    assert study.exists() and s3.list_objects_v2(Bucket="data", Prefix="defs/defs/")["KeyCount"] == len(objects)

    [done] = sm.delete_jobs("defs", outputs=True)
    assert (done.job, done.kept, done.problems) == ("defs", None, [])
    assert s3.list_objects_v2(Bucket="data", Prefix="defs/defs/")["KeyCount"] == 0
    assert not study.exists() and not (home / "logs" / "defs.log").exists()
    assert list((home / "trash").iterdir()) == []
    with pytest.raises(ResourceNotFound, match=r"^[^:]*: AutoMLJobName: no job named 'defs'$"):
        sm.delete_jobs(["defs"])


def test_the_selection_and_the_duration_are_checked():
    assert [cleanup.parse_duration(t) for t in ("90s", "30m", "12h", "7d", " 2w ", "1d12h", "1.5h")] == [
        90, 1800, 43200, 604800, 1209600, 129600, 5400]
    for bad in ("7 days", "", "7", "d7"):
        with pytest.raises(ValidationException, match=r"^[^:]*: --older-than: must be a duration"):
            cleanup.parse_duration(bad)
    client = types.SimpleNamespace()
    with pytest.raises(ValidationException, match="name the jobs to delete or select them by their age and status, "
                                                  "not both"):
        cleanup.delete_jobs(client, ["a"], older_than_s=60)
    with pytest.raises(ValidationException, match=r"^[^:]*: statuses: must each be Completed, Failed or Stopped"):
        cleanup.delete_jobs(client, statuses=["InProgress"])
    with pytest.raises(ValidationException, match=r"^[^:]*: older_than_s: must be a number of seconds, at least 0"):
        cleanup.delete_jobs(client, older_than_s=-1)


def test_partial_failures_name_the_models_a_job_lost_not_pruned_trials_nor_a_stop_asked_for():
    def record(name, status, reason=None):
        return Candidate(name, "xgboost", status, 0.0, end_time=1.0, failure_reason=reason)

    records = [record("j-trial-000-xgboost", CandidateStatus.STOPPED,
                      "j-trial-000-xgboost: pruned by Hyperband at step 9: validation loss 0.31"),
               record("j-lightgbm-L1", CandidateStatus.STOPPED, "stopped by StopAutoMLJob"),
               record("j-trial-001-mlp", CandidateStatus.STOPPED,
                      "j-trial-001-mlp: ran past MaxAutoMLJobRuntimeInSeconds"),
               record("j-xgboost-L1", CandidateStatus.FAILED,
                      "j-xgboost-L1: ran past MaxRuntimePerTrainingJobInSeconds"),
               record("j-catboost-L1", CandidateStatus.COMPLETED)]
    job = types.SimpleNamespace(reports={"skipped": ["reports of j-catboost-L1 skipped: TimeoutError"]})
    assert [r["PartialFailureMessage"] for r in partial_failures(job, records)] == [
        "reports of j-catboost-L1 skipped: TimeoutError", "j-trial-001-mlp: ran past MaxAutoMLJobRuntimeInSeconds",
        "j-xgboost-L1: ran past MaxRuntimePerTrainingJobInSeconds"]


@pytest.mark.parametrize("setting, raw, rule", [
    ("AUTOML_QUEUE", "maybe", "must be one of 1, true, on, yes (on) or 0, false, off, no (off); got 'maybe'"),
    ("AUTOML_MAX_RUNNING_JOBS", "1.5", "must be a whole number of at least 1; got '1.5'"),
    ("AUTOML_HEARTBEAT_TIMEOUT_S", "nan", "must be a number of at least 1; got 'nan'"),
    ("AUTOML_MAX_MEMORY", "lots", f"{memory.RULE}; got 'lots'"),
    ("AUTOML_TUNING_STORAGE", "nosuchdb://x", "must lead to a study storage optuna can open"),
])
def test_a_bad_setting_is_refused_at_create_naming_it(sm, tmp_path, monkeypatch, setting, raw, rule):
    monkeypatch.setenv(setting, raw)
    with pytest.raises(ValidationException) as refused:
        sm.create_auto_ml_job(**request(BREAST_CANCER, name="refused", output=tmp_path / "out",
                                        AutoMLJobConfig={"Mode": "HYPERPARAMETER_TUNING"}))
    assert refused.value.message.startswith(f"{setting}: {rule}")
    assert sm.store.jobs() == [], "no job is left behind"


def test_queue_takes_the_on_and_off_spellings(monkeypatch):
    for raw, on in (("1", True), ("TRUE", True), ("On", True), ("yes", True), ("", True),
                    ("0", False), ("false", False), ("OFF", False), ("no", False)):
        monkeypatch.setenv("AUTOML_QUEUE", raw)
        assert settings.value("AUTOML_QUEUE") is on, raw


def test_an_automl_home_that_cannot_be_made_is_refused_naming_it(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("AUTOML_HOME", str(tmp_path / "file" / "home"))
    with pytest.raises(ValidationException, match=r"^[^:]*: AUTOML_HOME: must be a folder this user can create "
                                                    r"and write"):
        automl.client()


def test_every_automl_setting_the_engine_reads_is_in_the_readme_table():
    read = set()
    for package in ("automl", "runners", "algorithms"):
        for path in (REPO / package).rglob("*.py"):
            read |= set(re.findall(r"AUTOML_[A-Z][A-Z0-9_]*", path.read_text()))
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Settings and where things live\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(AUTOML_[A-Z0-9_]+)` \|", section, re.MULTILINE)) == read
