"""Jobs on a Dask cluster: a scheduler and workers started as separate processes the way a user starts them
(`dask scheduler`, `dask worker`), and a LocalCluster; a worker lost mid-candidate fails only that candidate."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from automl.errors import ValidationException
from automl.forecast_plan import load_plan
from tests.conftest import BREAST_CANCER, REPO, _free_port, only, request


def _computed(address: str, prefix: str) -> int:
    """How many tasks of that kind the scheduler saw computed (its task prefixes count every state entered)."""
    from distributed import Client

    with Client(address, timeout=10) as client:
        counts = client.run_on_scheduler(lambda dask_scheduler: {
            name: dict(p.state_counts) for name, p in dask_scheduler.task_prefixes.items()})
    return sum(c.get("memory", 0) for name, c in counts.items() if name.startswith(prefix))


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback, one thread each."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    log = open(tmp_path / "dask.log", "wb")  # noqa: SIM115 (held open while the processes run)
    processes = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                   str(port), "--no-dashboard"], env=env, stdout=log, stderr=log)]
    for i in range(2):
        processes.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                                           "--nworkers", "1", "--no-dashboard", "--name", f"w{i}"], env=env,
                                          stdout=log, stderr=log))
    from distributed import Client

    deadline = time.time() + 60
    while True:
        try:
            with Client(address, timeout=5) as client:
                client.wait_for_workers(2, timeout=max(1, deadline - time.time()))
            break
        except (OSError, TimeoutError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    yield address
    for process in reversed(processes):
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    log.close()


def test_tuning_trials_run_on_dask_workers_started_as_processes(sm, tmp_path, cluster, monkeypatch):
    monkeypatch.setenv("AUTOML_DASK_SCHEDULER", cluster)
    body = request(BREAST_CANCER, name="on-dask", output=tmp_path / "out",
                   AutoMLJobConfig={"Mode": "HYPERPARAMETER_TUNING",
                                    "CompletionCriteria": {"MaxCandidates": 6, "MaxAutoMLJobRuntimeInSeconds": 120},
                                    "CandidateGenerationConfig": {"AlgorithmsConfig": [
                                        {"AutoMLAlgorithms": ["xgboost", "linear-learner"]}]}})
    sm.create_auto_ml_job(**body)
    assert load_plan(sm.store.job("on-dask").plan).dask_scheduler == cluster
    final = sm.wait("on-dask", timeout=180)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    trials = sm.list_candidates_for_auto_ml_job(AutoMLJobName="on-dask", MaxResults=100)["Candidates"]
    assert len(trials) == 6
    assert _computed(cluster, "RunTrial") == 6, "every trial ran as a task on the cluster"
    log = (sm.store.root / "logs" / "on-dask.log").read_text()
    assert f"tasks run on the dask cluster of {cluster}: 2 workers, 2 threads" in log
    assert (tmp_path / "out" / "on-dask" / "best_candidate" / "model.joblib").exists()


def test_a_worker_lost_mid_candidate_fails_that_candidate_and_the_job_goes_on(sm, tmp_path, slow_csv, cluster,
                                                                                  monkeypatch):
    monkeypatch.setenv("AUTOML_DASK_SCHEDULER", cluster)
    body = request(slow_csv, target="target", name="lost", output=tmp_path / "out",
                   AutoMLJobConfig=only("lightgbm", "linear-learner")
                   | {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 90}})
    sm.create_auto_ml_job(**body)
    deadline = time.time() + 120
    victim = None
    while victim is None and time.time() < deadline:
        running = [c for c in sm.store.candidates("lost") if c.status.value == "InProgress"]
        children = [p for p in psutil.process_iter(["cmdline"]) if "runners.child_process" in (p.info["cmdline"] or [])]
        if running and running[0].algorithm == "lightgbm" and children:
            victim = children[0].parent()
        time.sleep(0.2)
    assert victim is not None, "a lightgbm fold task running on a dask worker"
    victim.kill()  # the worker process; its nanny starts a new one, and the scheduler would send the task again
    final = sm.wait("lost", timeout=150)
    assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
    by_name = {c["CandidateName"]: c for c in
               sm.list_candidates_for_auto_ml_job(AutoMLJobName="lost", MaxResults=100)["Candidates"]}
    lost = by_name["lost-lightgbm-L1"]
    assert lost["CandidateStatus"] == "Failed"
    assert "the dask worker tcp://127.0.0.1:" in lost["FailureReason"] and "was lost" in lost["FailureReason"]
    assert by_name["lost-linear-learner-L1"]["CandidateStatus"] == "Completed", "the job went on"
    assert final["BestCandidate"]["CandidateName"] == "lost-linear-learner-L1"


def test_a_local_cluster_bags_folds_side_by_side(sm, tmp_path, monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as local:
        monkeypatch.setenv("AUTOML_DASK_SCHEDULER", local.scheduler_address)
        body = request(BREAST_CANCER, name="local-cluster", output=tmp_path / "out",
                       AutoMLJobConfig=only("lightgbm", "linear-learner")
                       | {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 120}})
        sm.create_auto_ml_job(**body)
        final = sm.wait("local-cluster", timeout=180)
        folds = _computed(local.scheduler_address, "FitFolds")
    assert final["AutoMLJobStatus"] == "Completed"
    by_name = {c["CandidateName"]: c for c in sm.list_candidates_for_auto_ml_job(
        AutoMLJobName="local-cluster", MaxResults=100)["Candidates"]}
    bag = sm.store.candidates("local-cluster")
    bags = [c for c in bag if c.algorithm in ("lightgbm", "linear-learner") and c.definition.get("Level") == 1
            and c.definition.get("Bagging")]
    assert by_name["local-cluster-lightgbm-L1"]["CandidateStatus"] == "Completed"
    # the probe is lightgbm's fold 0; every other fold is a task of its own, and a bag with more than one of them
    # one task more to assemble it (a single one assembles its bag itself; a busy cluster may plan 2 folds)
    rests = [c.definition["Bagging"]["FoldsFitted"] - (c.name == "local-cluster-lightgbm-L1") for c in bags]
    assert folds == 1 + sum(rest + (rest > 1) for rest in rests), rests
    assert final["BestCandidate"]["CandidateName"] in by_name


def test_why_a_scheduler_did_not_answer_is_one_line_with_a_reason():
    from runners.dask_executor import unreachable

    assert unreachable(TimeoutError()) == "TimeoutError: no answer within 5 s", "asyncio's timeout says nothing"
    assert unreachable(OSError("Timed out trying to connect to tcp://127.0.0.1:1 after 5 s")) == (
        "OSError: Timed out trying to connect to tcp://127.0.0.1:1 after 5 s")
    assert unreachable(ValueError(" ")) == "ValueError"


class _Remote:
    """A dask future that is done after `polls` looks; its result is `answer`, or raises it."""

    def __init__(self, polls: int, answer):
        self.polls, self.answer, self.asked = polls, answer, 0

    def done(self) -> bool:
        self.polls -= 1
        return self.polls < 0

    def result(self):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_task_is_asked_for_its_result_once_it_is_done_and_a_failed_read_of_its_control_is_no_news():
    from runners.dask_executor import LEASE_S, DaskExecutor, _Control
    from runners.executors import Outcome, OutcomeStatus

    executor = DaskExecutor.__new__(DaskExecutor)  # no cluster: only the waiting is under test
    executor.stopped = False
    answer = Outcome(OutcomeStatus.COMPLETED, {"fit_s": 1.0})
    remote = _Remote(3, answer)
    assert executor._await(remote, ["t", "attempt", "0"], time.time() + 60) is answer and remote.asked == 1
    failed = executor._await(_Remote(0, KeyError("gone")), ["t", "attempt", "1"], time.time() + 60)
    assert (failed.status, failed.error) == (OutcomeStatus.FAILED, "the dask cluster lost the task: KeyError: 'gone'")

    class Flaky:
        def get_metadata(self, key, default):
            raise UnboundLocalError("cannot access local variable 'result' where it is not associated with a value")

    control = _Control(Flaky(), "t")
    assert control() is None, "a failed read does not end the task"
    control.heard -= LEASE_S + 1
    control.checked = 0.0
    assert control() == f"its job's worker sent no heartbeat for {LEASE_S:.0f} s", "reads that keep failing do"


def test_a_scheduler_that_does_not_answer_is_refused_and_nothing_is_stored(sm, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_DASK_SCHEDULER", f"tcp://127.0.0.1:{_free_port()}")
    with pytest.raises(ValidationException, match="^[^:]*: AUTOML_DASK_SCHEDULER: must be the address of a "
                                                  "running dask "):
        sm.create_auto_ml_job(**request(BREAST_CANCER, name="nowhere", output=tmp_path / "out"))
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []

    cli = subprocess.run([sys.executable, "-m", "automl.cli", "run", str(BREAST_CANCER), "--target", "diagnosis",
                          "--no-wait", "--scheduler", "http://nowhere"], cwd=REPO, capture_output=True, text=True,
                         env=os.environ | {"AUTOML_HOME": str(tmp_path / "cli")}, timeout=120)
    [line] = cli.stderr.splitlines()  # one line: no traceback of a half-made Client closing itself after it
    assert cli.returncode == 254 and re.fullmatch(
        r"An error occurred \(ValidationException\): AUTOML_DASK_SCHEDULER: must be the address of a running dask "
        r"scheduler \(tcp://HOST:8786\) that this machine reaches; ValueError: unknown address scheme 'http' .*; "
        r"got 'http://nowhere'", line), line


def test_a_task_past_its_deadline_or_stopped_is_ended_with_its_process_on_the_worker():
    from distributed import LocalCluster

    from runners.dask_executor import DaskExecutor
    from runners.executors import OutcomeStatus
    from tests.test_executors import Sleep

    def sleepers() -> list:
        return [p for p in psutil.process_iter(["cmdline"]) if "runners.child_process" in (p.info["cmdline"] or [])]

    stop = {"now": False}
    with LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None) as local:
        executor = DaskExecutor(local.scheduler_address, lambda: stop["now"])
        assert executor.workers() == 2
        # 10 s: on a loaded machine the worker's child process can take over 3 s to start the task, and a task no
        # worker started before its deadline ends with another reason (also TimedOut).
        late = executor.submit(Sleep(60), deadline=time.time() + 10)
        stopped = executor.submit(Sleep(60), deadline=time.time() + 60)
        outcome = late.result(timeout=30)
        assert (outcome.status, outcome.error) == (OutcomeStatus.TIMED_OUT, "ran past its time limit")
        stop["now"] = True
        assert stopped.result(timeout=30).status is OutcomeStatus.STOPPED
        gone = time.time() + 10
        while sleepers() and time.time() < gone:
            time.sleep(0.2)
        assert not sleepers(), "the tasks' processes ended on the worker"
