"""Faults a job must survive, the quick cases (benchmarks/faults.py counts the long run with the same checks):
four processes creating at the same instant, Describe/List calls while jobs run, a full output disk, and
kill -9 of the worker followed by resume, in both modes."""
import os
import re
import signal
import time

import pytest

from automl import worker
from automl.artifacts import write_bytes
from benchmarks import faults
from tests.conftest import BREAST_CANCER, only, request, wait_for

TUNING = {"Mode": "HYPERPARAMETER_TUNING", "CompletionCriteria": {"MaxCandidates": 5},
          "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner"]}]}}


def until(condition, timeout: float = 120, what: str = "the condition") -> None:
    """Poll fast: some moments a test kills at last about a second."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        time.sleep(0.05)


def kill(sm, name: str) -> int:
    pid = sm.store.job(name).pid
    os.kill(pid, signal.SIGKILL)
    return pid


def statuses(sm, name: str) -> dict[str, str]:
    return {c.name: c.status.value for c in sm.store.candidates(name)}


def completed(sm, name: str) -> set[str]:
    return {n for n, s in statuses(sm, name).items() if s == "Completed"}


def test_four_processes_create_at_the_same_instant(sm, home, tmp_path):
    def definitions(name):
        return request(BREAST_CANCER, name=name, output=tmp_path / "out", GenerateCandidateDefinitionsOnly=True)
    racers = faults.Racers(home)
    try:
        distinct = racers.race([definitions(f"racer-{i}") for i in range(4)])
        same = racers.race([definitions("twin")] * 4)
    finally:
        racers.close()
    assert distinct == [{"arn": f"arn:aws:sagemaker:local:000000000000:automl-job/racer-{i}"} for i in range(4)]
    refused = {"code": "ResourceInUse",
               "message": "AutoMLJobName: a job named 'twin' already exists (names are case-insensitive)"}
    assert sorted(same, key=lambda o: "arn" not in o) == [
        {"arn": "arn:aws:sagemaker:local:000000000000:automl-job/twin"}, refused, refused, refused]
    jobs = sm.store.jobs()
    assert sorted(j.name for j in jobs) == ["racer-0", "racer-1", "racer-2", "racer-3", "twin"]
    assert sorted(j.seq for j in jobs) == [1, 2, 3, 4, 5]
    assert faults.broken_stores(home) == {}
    for job in jobs:
        final = sm.wait(job.name, timeout=120, poll_s=0.2)
        assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed",
                                                                                 "CandidateDefinitionsGenerated")
        log = (home / "logs" / f"{job.name}.log").read_text()
        assert len(re.findall(rf"{job.name}: worker \d+ started", log)) == 1, "each job launched once"


def test_describe_and_list_calls_while_jobs_run(sm, home, tmp_path):
    names = ["busy-ensembling", "busy-tuning"]
    sm.create_auto_ml_job(**request(BREAST_CANCER, name=names[0], output=tmp_path / "out",
                                    AutoMLJobConfig=only("linear-learner")))
    sm.create_auto_ml_job(**request(BREAST_CANCER, name=names[1], output=tmp_path / "out", AutoMLJobConfig=TUNING))
    tally = faults.callers(home, names, threads=4, calls=100)
    assert (tally.calls, tally.errors, tally.invalid, tally.backwards) == (400, [], [], [])
    assert tally.in_progress > 0, "the calls ran while the jobs did"
    for name in names:
        assert sm.wait(name, timeout=120)["AutoMLJobStatus"] == "Completed"
    assert faults.broken_stores(home) == {}


@pytest.fixture
def small_disk(tmp_path):
    try:
        disk = faults.mount_small_disk(tmp_path / "disk", "32k")
    except OSError as exc:
        pytest.skip(f"a full output disk needs a small tmpfs (mounted as root): {exc}")
    yield disk
    faults.unmount(disk)


def test_a_full_output_disk_fails_the_job_and_spares_the_store(sm, home, tmp_path, small_disk):
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="bystander", output=tmp_path / "out",
                                    GenerateCandidateDefinitionsOnly=True))
    before = sm.wait("bystander", timeout=60)
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="overflow", output=small_disk,
                                    AutoMLJobConfig=only("linear-learner")))
    final = sm.wait("overflow", timeout=120)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Failed", "Failed")
    reason = final["FailureReason"]
    assert "No space left on device" in reason and f"'file://{small_disk}/overflow/" in reason, reason
    assert faults.broken_stores(home) == {}
    assert sm.describe_auto_ml_job(AutoMLJobName="bystander") == before
    assert [j.name for j in sm.store.jobs()] == ["bystander", "overflow"]
    assert faults.unfinished_files(small_disk) == []

    leaderboard = small_disk / "overflow" / "leaderboard.csv"
    with pytest.raises(OSError) as full:
        write_bytes(str(leaderboard), bytes(64 * 1024))
    assert str(full.value) == f"[Errno 28] No space left on device: 'file://{leaderboard}'"
    assert worker.unforeseen(sm.store, "overflow", full.value) == (
        f"OutputDataConfig.S3OutputPath: cannot write the job's output file://{leaderboard}: no space left on "
        "device (the output location must be writable and have room for the job's models and reports)")
    assert faults.unfinished_files(small_disk) == [], "the failed write left no temporary file"


def killed(sm, home, name: str, output) -> int:
    """kill -9 the job's worker; Describe then says Failed with the worker's reason and shows no candidate
    training, the stores pass their integrity check and every output file is whole (a temporary one waits for
    the next worker)."""
    pid = kill(sm, name)
    dead = wait_for(sm, name, lambda d: d["AutoMLJobStatus"] != "InProgress", timeout=15)
    assert (dead["AutoMLJobStatus"], dead["FailureReason"]) == ("Failed", faults.WORKER_DIED.format(pid=pid))
    assert "InProgress" not in statuses(sm, name).values()
    assert faults.broken_stores(home) == {}
    assert faults.unfinished_files(output / name, temporary_ok=True) == []
    return pid


def test_kill_9_during_a_trial_and_during_the_reports_then_resume(sm, home, tmp_path):
    out = tmp_path / "out"
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="phoenix", output=out, AutoMLJobConfig=TUNING))
    until(lambda: completed(sm, "phoenix") and "InProgress" in statuses(sm, "phoenix").values(),
          what="a trial running after one completed")
    kept = completed(sm, "phoenix")
    killed(sm, home, "phoenix", out)
    sm.resume_auto_ml_job(AutoMLJobName="phoenix")
    until(lambda: sm.store.job("phoenix").secondary_status == "GeneratingModelInsightsReport",
          what="the best candidate's reports")
    kept |= completed(sm, "phoenix")
    killed(sm, home, "phoenix", out)
    sm.resume_auto_ml_job(AutoMLJobName="phoenix")
    final = sm.wait("phoenix", timeout=120)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    assert faults.job_problems(sm, "phoenix", kept, trials=5) == []
    names = [c["CandidateName"] for c in faults.candidates(sm, "phoenix")]
    assert len(names) == len(set(names)) == 5
    assert "InProgress" not in statuses(sm, "phoenix").values()
    assert faults.broken_stores(home) == {}
    assert faults.unfinished_files(out / "phoenix") == []


def test_kill_9_of_an_ensembling_job_then_resume(sm, home, tmp_path):
    """A killed ENSEMBLING job keeps the bags its worker finished (their model files untouched) and `resume`
    trains the rest, the bag it was training among them."""
    out = tmp_path / "out"
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="ember", output=out,
                                    AutoMLJobConfig=only("linear-learner", "extra-trees")))
    until(lambda: completed(sm, "ember") and "InProgress" in statuses(sm, "ember").values(),
          what="a completed candidate and one training")
    kept = completed(sm, "ember")
    models = {n: out / "ember" / "candidates" / n / "model.joblib" for n in kept}
    written = {n: path.stat().st_mtime_ns for n, path in models.items()}
    killed(sm, home, "ember", out)
    orphans = [c.name for c in sm.store.candidates("ember") if c.orphaned]
    assert len(orphans) == 1
    left = out / "ember" / "candidates" / ".tmp-left-by-the-killed-worker"  # as a kill mid-write leaves one
    left.write_bytes(b"half a model")
    os.utime(left, (time.time() - 60, time.time() - 60))
    sm.resume_auto_ml_job(AutoMLJobName="ember")
    final = sm.wait("ember", timeout=120)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "Completed")
    assert not left.exists()
    log = (home / "logs" / "ember.log").read_text()
    assert "ember: removed 1 temporary file(s) an ended worker left unfinished" in log
    assert faults.job_problems(sm, "ember", kept, trials=None) == []
    assert {n: path.stat().st_mtime_ns for n, path in models.items()} == written
    assert completed(sm, "ember") >= kept | set(orphans), "the bag the dead worker was training, trained again"
    assert faults.broken_stores(home) == {}
    assert faults.unfinished_files(out / "ember") == []
