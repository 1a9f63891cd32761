"""A tuning job's study shared on a real RDB: a PostgreSQL server (tests/postgres.py) holds the study, the job's
worker and two `automl join` workers run its trials, and one of those is killed with SIGKILL in the middle of a
trial. Nothing is duplicated or lost: every trial number is one candidate, the dead worker's trial ends Failed."""
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import optuna
import pytest

from automl.candidate import Candidate, CandidateStatus
from automl.errors import ResourceNotFound, ValidationException
from automl.forecast_plan import load_plan
from benchmarks.faults import candidates as listed_candidates
from runners import study as studies
from runners.tuning import _Search
from tests.conftest import BREAST_CANCER, REPO, request, run_context
from tests.postgres import USER, free_port

BUDGET_S = 45  # the two joined workers start while other tests' jobs load the machine
DIED = "the worker running it died before it finished"
RUNNING = optuna.trial.TrialState.RUNNING
TERMINAL_CANDIDATE = {"Completed", "Failed", "Stopped"}
CANDIDATE_OF_STATE = {"COMPLETE": {"Completed"}, "PRUNED": {"Stopped"},
                      "FAIL": {"Failed", "Stopped"}}  # Stopped: a trial the job's time limit ended


def tuning(*names, **criteria):
    return {"Mode": "HYPERPARAMETER_TUNING", "CompletionCriteria": criteria,
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(names)}]}}


def until(predicate, timeout: float, what: str, pause: float = 0.1):
    """Poll until `predicate()` returns something true, and return it; fail after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"{what}: not reached in {timeout} s")




def pid_of(trial) -> int | None:
    worker = trial.user_attrs.get("worker")
    return None if worker is None else int(worker.split(":")[1])


def join(home, name) -> subprocess.Popen:
    """`automl join NAME` in a process of its own; without AUTOML_TUNING_STORAGE: the job's plan says where."""
    env = {k: v for k, v in os.environ.items() if k != studies.STORAGE_SETTING} | {"AUTOML_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "automl.cli", "join", name], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def kill_in_a_trial(sm, study, name, victim: subprocess.Popen) -> list:
    """SIGKILL `victim` while it trains a trial: its RUNNING trials (named, their candidates InProgress). The
    worker is frozen (SIGSTOP) while its state is read, so what is read is what it dies in; a moment it is
    between asking a trial and naming it (a RUNNING trial nobody has named yet), or between recording a
    candidate's end and telling the study, is let go and another is waited for."""
    def frozen_in_a_trial():
        if victim.poll() is not None:
            raise AssertionError(f"the worker to kill ended by itself:\n{victim.stdout.read().decode()}")
        if sm.describe_auto_ml_job(AutoMLJobName=name)["AutoMLJobStatus"] != "InProgress":
            raise AssertionError("the job ended before the worker to kill ran a trial")
        os.kill(victim.pid, signal.SIGSTOP)
        running = study.get_trials(deepcopy=False, states=(RUNNING,))
        mine = [t for t in running if pid_of(t) == victim.pid]
        records = {c.name: c.status for c in sm.store.candidates(name)}
        if mine and all(pid_of(t) is not None for t in running) and all(
                records.get(t.user_attrs.get("candidate")) is CandidateStatus.IN_PROGRESS for t in mine):
            os.kill(victim.pid, signal.SIGKILL)
            return mine
        os.kill(victim.pid, signal.SIGCONT)
        return None
    killed = until(frozen_in_a_trial, BUDGET_S + 30, "a trial of the worker to kill")
    assert victim.wait(timeout=30) == -signal.SIGKILL
    return killed


def test_two_joined_workers_on_postgres_one_killed_lose_and_repeat_nothing(sm, home, tmp_path, monkeypatch,
                                                                            postgres_url):
    name = "pg-shared"
    monkeypatch.setenv(studies.STORAGE_SETTING, postgres_url)
    sm.create_auto_ml_job(**request(BREAST_CANCER, name=name, output=tmp_path / "out",
                                    AutoMLJobConfig=tuning("xgboost", "linear-learner",
                                                           MaxAutoMLJobRuntimeInSeconds=BUDGET_S)))
    assert load_plan(sm.store.job(name).plan).study_storage == postgres_url
    assert not (home / "studies").exists(), "no study beside the job: it lives on the server"
    victim, helper = join(home, name), join(home, name)
    try:
        job_pid = until(lambda: sm.store.job(name).pid, 30, "the job's worker")
        server = studies.storage(postgres_url)
        study = until(lambda: name in optuna.get_all_study_names(server) and optuna.load_study(
            study_name=name, storage=server), 60, "the study on the server")
        killed = kill_in_a_trial(sm, study, name, victim)
        final = sm.wait(name, timeout=BUDGET_S + 90, poll_s=0.5)
        output = helper.communicate(timeout=60)[0].decode()
        assert helper.returncode == 0, output
    finally:
        for process in (victim, helper):
            if process.poll() is None:
                process.kill()
                process.wait()

    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) in {
        ("Completed", "MaxAutoMLJobRuntimeReached"), ("Completed", "MaxCandidatesReached")}, final
    trials = optuna.load_study(study_name=name, storage=studies.storage(postgres_url)).get_trials(deepcopy=False)
    counted = [t for t in trials if "refused" not in t.user_attrs]  # asked beyond MaxCandidates: no candidate
    assert all(t.state.name == "FAIL" and t.number >= 100 for t in trials if "refused" in t.user_attrs)
    assert sorted(t.number for t in counted) == list(range(len(counted))), "trial numbers neither repeat nor skip"
    assert not [t.number for t in trials if t.state is RUNNING], "no trial left RUNNING"
    assert {pid_of(t) for t in counted} == {job_pid, victim.pid, helper.pid}, "trials of all three workers"

    candidates = listed_candidates(sm, name)
    names = [c["CandidateName"] for c in candidates]
    assert len(names) == len(set(names)), "no candidate twice"
    assert len(sm.store.candidates(name)) == len(names)
    by_name = {c["CandidateName"]: c for c in candidates}
    expected = {f"{name}-trial-{t.number:03d}-{t.params['algorithm']}": t for t in counted}
    assert set(by_name) == set(expected), "every trial is exactly one candidate, and every candidate a trial"
    for candidate_name, trial in expected.items():
        candidate = by_name[candidate_name]
        assert trial.user_attrs["candidate"] == candidate_name
        assert candidate["CandidateStatus"] in CANDIDATE_OF_STATE[trial.state.name], (candidate_name, trial.state)
        if trial.state.name == "COMPLETE":
            assert candidate["FinalAutoMLJobObjectiveMetric"]["Value"] == pytest.approx(trial.value)
    assert len(candidates) == len(counted)

    assert killed, "the victim was killed in a trial"
    for trial in killed:
        after = next(t for t in trials if t.number == trial.number)
        assert after.state.name == "FAIL", trial.number
        candidate = by_name[trial.user_attrs["candidate"]]
        assert candidate["CandidateStatus"] == "Failed"
        assert candidate["FailureReason"] == f"{candidate['CandidateName']}: {DIED}"
    assert {c["CandidateName"] for c in candidates if DIED in c.get("FailureReason", "")} == {
        t.user_attrs["candidate"] for t in killed}, "only the killed worker's trials died with it"

    done = [c for c in candidates if c["CandidateStatus"] == "Completed"]
    best = final["BestCandidate"]
    assert best["CandidateStatus"] == "Completed" and best["CandidateName"] in {c["CandidateName"] for c in done}
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == max(
        c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in done)


def test_a_dead_workers_trial_is_failed_when_the_job_ends_with_no_time_left(tmp_path, postgres_url):
    """The job's worker ends its own trials at its time limit, then fails those of joined workers found dead before
    it concludes: even when no time is left by then, none stays RUNNING (its candidate InProgress) forever."""
    ctx, records = run_context(tmp_path, ["linear-learner"])
    ctx.plan = replace(ctx.plan, name="pg-late", study_storage=postgres_url)
    search = _Search(ctx)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    trial = search.study.ask()
    trial.suggest_categorical("algorithm", ["linear-learner"])
    trial.set_user_attr("worker", studies.worker_id().rsplit(":", 2)[0] + f":{gone.pid}:None")
    trial.set_user_attr("candidate", "pg-late-trial-000-linear-learner")
    records["pg-late-trial-000-linear-learner"] = Candidate("pg-late-trial-000-linear-learner", "linear-learner",
                                                            CandidateStatus.IN_PROGRESS, time.time())
    ctx.budget = replace(ctx.budget, started_at=time.time() - ctx.budget.max_job_runtime_s - 1)  # time is up
    search.wait_for_others()
    study = studies.open_study(postgres_url, "pg-late")
    assert [t.state.name for t in study.trials] == ["FAIL"]
    assert records["pg-late-trial-000-linear-learner"].status is CandidateStatus.FAILED
    assert records["pg-late-trial-000-linear-learner"].failure_reason == f"pg-late-trial-000-linear-learner: {DIED}"


def test_a_postgres_server_that_does_not_answer_refuses_the_job(sm, tmp_path, monkeypatch):
    pytest.importorskip("psycopg2", reason="the psycopg2 driver (pip install psycopg2-binary) is needed")
    url = f"postgresql+psycopg2://{USER}@127.0.0.1:{free_port()}/studies"  # nothing listens there
    monkeypatch.setenv(studies.STORAGE_SETTING, url)
    body = request(BREAST_CANCER, name="pg-nowhere", output=tmp_path / "out", AutoMLJobConfig=tuning("xgboost"))
    with pytest.raises(ValidationException,
                       match="^[^:]*: AUTOML_TUNING_STORAGE: must lead to a study storage .*OperationalError.*refused"):
        sm.create_auto_ml_job(**body)
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == [], "nothing stored for a refused job"
    with pytest.raises(ResourceNotFound, match="no job named 'pg-nowhere'"):
        sm.describe_auto_ml_job(AutoMLJobName="pg-nowhere")
