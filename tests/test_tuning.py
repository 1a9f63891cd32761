"""The HYPERPARAMETER_TUNING mode end to end: the trial cap, pruning, the per-trial and whole-job limits,
resume after kill -9, two workers sharing one study, AUTO at the size boundary, and definitions only."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest

import algorithms
from algorithms.base import Pruned
from algorithms.linear_learner import LinearLearner
from algorithms.xgboost import XGBoost
from automl.candidate import Candidate, CandidateStatus
from automl.errors import ValidationException
from runners import study as studies
from runners.tuning import TuningRunner, _Search
from tests.conftest import BREAST_CANCER, REPO, Exploding, Stubborn, request, run_context, wait_for

STATUSES = ("Completed", "Stopped", "Failed")


def tuning(*names, **criteria):
    config = {"Mode": "HYPERPARAMETER_TUNING", "CompletionCriteria": criteria}
    if names:
        config["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(names)}]}
    return config


def trials(sm, name):
    answer = sm.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)["Candidates"]
    return {c["CandidateName"]: c for c in answer if "-trial-" in c["CandidateName"]}


def study_of(home, name):
    return studies.open_study(studies.storage_url(home, name), name)


def test_trial_cap_leaderboard_and_saved_pipelines(sm, home, tmp_path):
    body = request(BREAST_CANCER, name="tune", output=tmp_path / "out",
                   AutoMLJobConfig=tuning(MaxCandidates=12, MaxAutoMLJobRuntimeInSeconds=240))
    sm.create_auto_ml_job(**body)
    final = sm.wait("tune", timeout=240)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    assert final["AutoMLJobConfig"]["Mode"] == "HYPERPARAMETER_TUNING"
    assert final["ResolvedAttributes"]["CompletionCriteria"]["MaxCandidates"] == 12
    found = trials(sm, "tune")
    assert sorted(int(n.split("-trial-")[1][:3]) for n in found) == list(range(12))
    assert {c["CandidateStatus"] for c in found.values()} <= set(STATUSES)
    done = {n: c for n, c in found.items() if c["CandidateStatus"] == "Completed"}
    best = final["BestCandidate"]
    assert best["CandidateName"] in done
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == max(
        c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in done.values())
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.9  # F1 on breast cancer
    board = pd.read_csv(tmp_path / "out" / "tune" / "leaderboard.csv")
    assert set(board["mode"]) == {"HYPERPARAMETER_TUNING"} and len(board) == 12
    study = study_of(home, "tune")
    assert study.best_value == pytest.approx(best["FinalAutoMLJobObjectiveMetric"]["Value"])
    # trials tied on the objective (a default and a portfolio entry can be) rank by latency, not trial number
    tied = {t.user_attrs["candidate"]: t for t in study.trials if t.value == study.best_value}
    assert best["CandidateName"] in tied
    defn = json.loads((tmp_path / "out" / "tune" / "best_candidate" / "definition.json").read_text())
    assert defn["Algorithm"] == tied[best["CandidateName"]].params["algorithm"]
    assert defn["Trial"] == tied[best["CandidateName"]].number
    assert set(defn["Preprocessing"]["Options"]) >= {"imputer", "scaler", "categorical_encoder"}
    for trial in (t for t in study.trials if "refused" not in t.user_attrs):
        algorithm = trial.params["algorithm"]
        assert all(k == "algorithm" or k.startswith(algorithm + ":") for k in trial.params), "conditional space"


def test_pruner_stops_a_trial_behind_the_others(tmp_path, breast_cancer):
    """Trials in every Hyperband bracket reach the rungs with small losses; one reporting a large loss is pruned
    at the first rung of its bracket, and a real xgboost fit driven by such a callback stops at once instead of
    growing all its rounds."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = studies.open_study(url, "s", "maximize")
    for i in range(24):
        trial = study.ask()
        for step in studies.RUNGS:
            trial.report(-0.1 - i / 1000, step)
            trial.should_prune()  # the pruner records each trial's rungs when asked
        study.tell(trial, 0.9)
    doomed = study.ask()
    rungs = studies.Rungs(url, "s", doomed._trial_id)
    rungs(5, 0.9)  # below the first rung: nothing to judge
    assert study.trials[-1].intermediate_values == {}
    with pytest.raises(Pruned, match="step (9|27|81)"):
        for step in range(6, 101):
            rungs(step, 0.9)
    assert set(study.trials[-1].intermediate_values) <= set(studies.RUNGS)
    X = breast_cancer.drop(columns=["diagnosis"]).to_numpy(dtype=np.float32)
    y = (breast_cancer["diagnosis"] == "malignant").to_numpy(dtype=int)
    from algorithms.base import Task
    from automl.problem import ProblemType

    task = Task(ProblemType.BINARY, 2)
    steps = []

    def progress(step, loss):
        steps.append(step)
        if step >= 9:
            raise Pruned("behind")
    with pytest.raises(Pruned):
        XGBoost(task, {"eta": 0.01}).fit(X[:400], y[:400], eval_set=(X[400:], y[400:], None), progress=progress)
    assert steps == list(range(1, 10)), "one step per 10 rounds, ended at the rung"
    shares = []
    LinearLearner(task).fit(X[:400], y[:400], eval_set=(X[400:], y[400:], None),
                            progress=lambda step, loss: shares.append((step, loss)))
    assert [s for s, _ in shares] == [9, 27] and all(0 < loss < 1 for _, loss in shares)


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(algorithms.REGISTRY, "linear-learner", Exploding)
    ctx, records = run_context(tmp_path, ["linear-learner"], max_candidates=2)
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    assert sorted(records) == ["job-1-trial-000-linear-learner", "job-1-trial-001-linear-learner"]
    assert records["job-1-trial-000-linear-learner"].status == "Failed"
    assert records["job-1-trial-000-linear-learner"].failure_reason == (
        "job-1-trial-000-linear-learner: ValueError: singular matrix")
    study = studies.open_study(ctx.plan.study_storage, ctx.plan.name)
    assert [t.state.name for t in study.trials if "refused" not in t.user_attrs] == ["FAIL", "FAIL"]


def test_per_trial_limit_ends_the_process(tmp_path, monkeypatch):
    monkeypatch.setitem(algorithms.REGISTRY, "linear-learner", Stubborn)
    ctx, records = run_context(tmp_path, ["linear-learner"], per_candidate_s=2, max_candidates=1)
    began = time.time()
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    assert time.time() - began < 15
    stubborn = records["job-1-trial-000-linear-learner"]
    assert stubborn.status == "Failed"
    assert stubborn.failure_reason == "job-1-trial-000-linear-learner: ran past MaxRuntimePerTrainingJobInSeconds"
    assert stubborn.end_time - stubborn.creation_time < 3.5


def test_whole_job_limit_keeps_the_best_finished_trial(sm, tmp_path):
    """25 s: a tuning worker spends about 10 of them starting (imports, the exploration report, the training
    processes' fork server) on a 2-core machine."""
    body = request(BREAST_CANCER, name="timed", output=tmp_path / "out",
                   AutoMLJobConfig=tuning(MaxAutoMLJobRuntimeInSeconds=25))
    sm.create_auto_ml_job(**body)
    final = sm.wait("timed", timeout=60)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed",
                                                                             "MaxAutoMLJobRuntimeReached")
    took = (final["EndTime"] - final["CreationTime"]).total_seconds()
    assert took <= 25 + 3, f"overshoot beyond max(5%, 3 s): {took:.1f} s"
    assert final["ResolvedAttributes"]["CompletionCriteria"]["MaxCandidates"] == 100  # the HPO default
    assert final["BestCandidate"]["CandidateStatus"] == "Completed"
    assert (tmp_path / "out" / "timed" / "best_candidate" / "model.joblib").exists()


def test_resume_after_kill_9_keeps_finished_trials(sm, home, tmp_path):
    body = request(BREAST_CANCER, name="phoenix", output=tmp_path / "out",
                   AutoMLJobConfig=tuning("xgboost", "mlp", MaxCandidates=10))
    sm.create_auto_ml_job(**body)

    def progressed(d):
        statuses = [c["CandidateStatus"] for c in trials(sm, "phoenix").values()]
        return d["AutoMLJobStatus"] != "InProgress" or (
            "Completed" in statuses and sum(s in STATUSES for s in statuses) >= 3)
    assert wait_for(sm, "phoenix", progressed)["AutoMLJobStatus"] == "InProgress"
    pid = sm.store.job("phoenix").pid
    os.kill(pid, signal.SIGKILL)
    dead = wait_for(sm, "phoenix", lambda d: d["AutoMLJobStatus"] == "Failed", timeout=15)
    before = {n: c for n, c in trials(sm, "phoenix").items() if c["CandidateStatus"] == "Completed"}
    models = {n: os.stat(tmp_path / "out" / "phoenix" / "candidates" / n / "model.joblib").st_mtime_ns
              for n in before}
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="ens", output=tmp_path / "out",
                                    GenerateCandidateDefinitionsOnly=True))
    sm.wait("ens", timeout=60)
    with pytest.raises(ValidationException, match="the job is Completed; only a job whose worker died"):
        sm.resume_auto_ml_job(AutoMLJobName="ens")
    assert subprocess.run([sys.executable, "-m", "automl.cli", "resume", "phoenix"], cwd=REPO,
                          env=os.environ | {"AUTOML_HOME": str(home)}, capture_output=True).returncode == 0
    final = sm.describe_auto_ml_job(AutoMLJobName="phoenix")
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    assert final["CreationTime"] == dead["CreationTime"]
    after = trials(sm, "phoenix")
    assert sorted(int(n.split("-trial-")[1][:3]) for n in after) == list(range(10)), "no trial number twice"
    for name, mtime in models.items():
        assert after[name]["CandidateStatus"] == "Completed"
        assert os.stat(tmp_path / "out" / "phoenix" / "candidates" / name / "model.joblib").st_mtime_ns == mtime
    study = study_of(home, "phoenix")
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    workers = {t.user_attrs["worker"] for t in study.trials if "worker" in t.user_attrs}
    assert len(workers) == 2, "the first worker's trials and the resumed worker's"
    killed = [c for c in after.values() if "worker running it died" in c.get("FailureReason", "")]
    assert len(killed) <= 2, "at most the trials in flight at the kill (one per core)"
    with pytest.raises(ValidationException, match="the job is Completed; only a job whose worker died"):
        sm.resume_auto_ml_job(AutoMLJobName="phoenix")


def test_a_dead_workers_trials_keep_what_it_recorded(tmp_path):
    """A worker killed between recording a candidate's end and telling the study: resuming keeps the candidate
    as recorded and teaches the study its end; only a trial with no recorded end becomes Failed."""
    ctx, records = run_context(tmp_path, ["linear-learner"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = studies.worker_id().rsplit(":", 2)[0] + f":{gone.pid}:None"
    study = studies.open_study(ctx.plan.study_storage, ctx.plan.name, "maximize")
    ends = ({"status": CandidateStatus.COMPLETED, "objective_value": 0.93}, {"status": CandidateStatus.STOPPED}, None)
    for number, ended in enumerate(ends):
        trial = study.ask()
        trial.suggest_categorical("algorithm", ["linear-learner"])
        trial.set_user_attr("worker", dead)
        name = f"{ctx.plan.name}-trial-{number:03d}-linear-learner"
        trial.set_user_attr("candidate", name)
        if ended:
            records[name] = Candidate(name, "linear-learner", creation_time=1.0, **ended)
    _Search(ctx)._fail_dead_trials()
    study = studies.open_study(ctx.plan.study_storage, ctx.plan.name)
    assert [(t.state.name, t.value) for t in study.trials] == [("COMPLETE", 0.93), ("PRUNED", None),
                                                               ("FAIL", None)]
    assert [records[f"{ctx.plan.name}-trial-{n:03d}-linear-learner"].status for n in range(3)] == [
        "Completed", "Stopped", "Failed"]
    assert records[f"{ctx.plan.name}-trial-000-linear-learner"].objective_value == 0.93


def test_a_study_storage_that_cannot_be_opened_refuses_the_job(sm, tmp_path, monkeypatch):
    body = request(BREAST_CANCER, name="nowhere", output=tmp_path / "out", AutoMLJobConfig=tuning("xgboost"))
    for url, why in (("nosuchdb://host/db", "NoSuchModuleError"), ("not a url", "ArgumentError")):
        monkeypatch.setenv("AUTOML_TUNING_STORAGE", url)
        with pytest.raises(ValidationException, match="^[^:]*: AUTOML_TUNING_STORAGE: must lead to a study "
                                                          f"storage .*{why}"):
            sm.create_auto_ml_job(**body)
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == [], "nothing stored for a refused job"


def test_two_workers_share_one_study(sm, home, tmp_path):
    body = request(BREAST_CANCER, name="shared", output=tmp_path / "out",
                   AutoMLJobConfig=tuning("mlp", MaxCandidates=8))
    sm.create_auto_ml_job(**body)
    helper = subprocess.Popen([sys.executable, "-m", "automl.cli", "join", "shared"], cwd=REPO,
                              env=os.environ | {"AUTOML_HOME": str(home)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    final = sm.wait("shared", timeout=240)
    output = helper.communicate(timeout=60)[0].decode()
    assert helper.returncode == 0, output
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    study = study_of(home, "shared")
    counted = [t for t in study.trials if "refused" not in t.user_attrs]
    assert sorted(t.number for t in counted) == list(range(8))
    assert len({t.user_attrs["worker"].split(":")[1] for t in counted}) == 2, "both workers ran trials"
    assert {t.state.name for t in counted} <= {"COMPLETE", "PRUNED"}
    assert len(trials(sm, "shared")) == 8
    with pytest.raises(ValidationException, match="only a running job can be joined; the job is Completed"):
        sm.join_auto_ml_job(AutoMLJobName="shared")
    with pytest.raises(ValidationException, match="AutoMLJobName: must have at least 1 character; got 0"):
        sm.join_auto_ml_job(AutoMLJobName="")


def test_auto_mode_at_the_size_boundary_and_definitions_only(sm, tmp_path, monkeypatch):
    size = BREAST_CANCER.stat().st_size
    monkeypatch.setenv("AUTOML_AUTO_MODE_THRESHOLD_BYTES", str(size))
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="at", output=tmp_path / "out",
                                    GenerateCandidateDefinitionsOnly=True))
    monkeypatch.setenv("AUTOML_AUTO_MODE_THRESHOLD_BYTES", str(size + 1))
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="below", output=tmp_path / "out",
                                    GenerateCandidateDefinitionsOnly=True))
    at, below = sm.wait("at", timeout=60), sm.wait("below", timeout=60)
    assert at["AutoMLJobConfig"]["Mode"] == "HYPERPARAMETER_TUNING"
    assert below["AutoMLJobConfig"]["Mode"] == "ENSEMBLING"
    assert (at["AutoMLJobStatus"], at["AutoMLJobSecondaryStatus"]) == ("Completed", "CandidateDefinitionsGenerated")
    assert sm.list_candidates_for_auto_ml_job(AutoMLJobName="at")["Candidates"] == []
    defs = json.loads((tmp_path / "out" / "at" / "candidate_definitions.json").read_text())
    assert [d["Algorithm"] for d in defs] == ["linear-learner", "xgboost", "mlp"]
    xgb = defs[1]
    assert xgb["HyperparameterRanges"]["eta"] == {"Type": "Continuous", "MinValue": 0.01, "MaxValue": 0.3,
                                                  "ScalingType": "Logarithmic"}
    assert defs[0]["Preprocessing"]["OptionRanges"]["scaler"] == {"Type": "Categorical",
                                                                  "Values": ["standard", "robust", "quantile"]}
    assert xgb["Tuning"]["Fidelity"] == "boosting rounds" and xgb["Tuning"]["MaxTrials"] == 100
    summary = (tmp_path / "out" / "at" / "candidate_definitions.md").read_text()
    assert "## at-xgboost-pipeline" in summary and "searched: eta: continuous 0.01 .. 0.3 (log scale)" in summary
    assert not (tmp_path / "out" / "at" / "candidates").exists()


def test_large_data_is_tuned_on_a_sample_and_refit_on_every_row(tmp_path, monkeypatch):
    import runners.tuning as tuning_module

    monkeypatch.setattr(tuning_module, "TUNING_ROWS", 200)
    ctx, records = run_context(tmp_path, ["linear-learner"], max_candidates=3)
    every_row = len(ctx.dataset.y_train)
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    assert len(ctx.dataset.y_train) == 200, "the worker keeps only the sample while tuning"
    trial_rows = {r.rows for n, r in records.items() if "-trial-" in n and r.status == "Completed"}
    assert trial_rows == {200}
    full = records["job-1-linear-learner-full"]
    assert full.status == "Completed" and full.rows == every_row
    assert full.definition["RefitOf"] in records
    study = optuna.load_study(study_name=ctx.plan.name, storage=ctx.plan.study_storage)
    best = study.best_trial
    assert full.definition["Hyperparameters"]["C"] == pytest.approx(best.params["linear-learner:C"])


def test_an_mlp_final_fit_is_planned_for_few_epochs_on_many_rows_and_ends_annealed(tmp_path, monkeypatch):
    """A trial that trained 40 epochs counts a tenth of its time per row for the final fit (FINAL_EPOCHS of
    them), so the final fit takes ten times the rows a booster's fit time would give it; that fit anneals its
    learning rate, and its definition says so."""
    import runners.tuning as tuning_module

    monkeypatch.setattr(tuning_module, "TUNING_ROWS", 200)
    ctx, records = run_context(tmp_path, ["mlp"], max_candidates=2)
    search = _Search(ctx)
    name = "job-1-trial-000-mlp"
    search.study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs={"candidate": name}))
    ctx.record(Candidate(name, "mlp", CandidateStatus.COMPLETED, time.time(), objective_value=0.9, fit_s=40.0,
                         fold_facts=[{"fit_s": 40.0, "epochs": 30, "epochs_trained": 40.0}]))
    assert search._ranked(ctx.recorded()) == [(name, pytest.approx(4.0))]

    ctx, records = run_context(tmp_path / "job", ["mlp"], max_candidates=2)
    every_row = len(ctx.dataset.y_train)
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    trials = [r for n, r in records.items() if "-trial-" in n and r.completed]
    assert trials and all(r.fold_facts[0]["epochs_trained"] > 0 for r in trials)
    final = records["job-1-mlp-full"]
    assert final.status == "Completed" and final.rows == every_row
    assert final.definition["Hyperparameters"]["schedule"] == "linear-decay"
    assert all(r.definition["Hyperparameters"].get("schedule", "constant") == "constant" for r in trials)


def test_the_final_fit_takes_the_rows_its_time_affords(tmp_path, monkeypatch):
    """A pipeline too slow for every row in the time left is refit on as many rows as fit (from twice the
    trials' sample); slower still, the best trial stays the answer and nothing is refit."""
    import runners.tuning as tuning_module

    monkeypatch.setattr(tuning_module, "TUNING_ROWS", 40)
    ctx, records = run_context(tmp_path, ["linear-learner"], max_candidates=2)
    every_row = len(ctx.dataset.y_train)
    monkeypatch.setattr(tuning_module._Search, "_seconds_per_row", lambda self, fit_s: 300 / every_row)  # 300 s in all
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    refits = {n: r for n, r in records.items() if "-trial-" not in n}
    assert len(refits) == 1
    (name, refit), = refits.items()
    assert 80 <= refit.rows < every_row and name == f"job-1-linear-learner-{refit.rows}-rows"
    assert 0.8 * 90 * every_row / 300 <= refit.rows <= 0.8 * 120 * every_row / 300  # 80% of the time left
    assert refit.status == "Completed"
    assert refit.definition["TrainingRows"] == f"{refit.rows} of {every_row}"

    ctx, records = run_context(tmp_path / "slower", ["linear-learner"], max_candidates=2)
    monkeypatch.setattr(tuning_module._Search, "_seconds_per_row", lambda self, fit_s: 3000 / every_row)
    assert TuningRunner().run(ctx) == "MaxCandidatesReached"
    assert all("-trial-" in n for n in records)


def test_the_final_fit_trains_the_best_trial_it_can_give_enough_more_rows(tmp_path, monkeypatch):
    """The best trial (a slow mlp) cannot be fitted on twice the trials' rows in the time kept for the final fit;
    the best xgboost trial can, on every row: it is the final fit's pipeline. With time for the mlp, the mlp."""
    import runners.tuning as tuning_module

    monkeypatch.setattr(tuning_module, "TUNING_ROWS", 40)
    ctx, _ = run_context(tmp_path, ["xgboost", "mlp"])
    search = _Search(ctx)
    search.final_threads = 2
    for name, value, fit_s in [("job-1-trial-000-mlp", 0.9, 1000.0), ("job-1-trial-001-xgboost", 0.8, 1.0),
                               ("job-1-trial-002-xgboost", 0.85, 2.0), ("job-1-trial-003-linear-learner", 0.7, 0.1)]:
        search.study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"candidate": name}))
        ctx.record(Candidate(name, name.rsplit("-", 1)[-1], CandidateStatus.COMPLETED, time.time(),
                             objective_value=value, fit_s=fit_s))
    every_row_s = 2.0 / 40 / 2 * search.rows
    assert search._refit_source(every_row_s) == ("job-1-trial-002-xgboost", 2.0)
    assert search._refit_rows(every_row_s, 2.0) == search.rows
    assert search._refit_source(1000.0 / 40 / 2 * search.rows) == ("job-1-trial-000-mlp", 1000.0)


def test_a_trial_another_worker_just_asked_is_not_taken_for_a_dead_workers(tmp_path):
    """Between `ask` and naming its worker a trial is RUNNING with no worker: a joined worker looking at that
    instant must leave it alone, and the owner's end of a trial someone else ended must not fail the job."""
    ctx, records = run_context(tmp_path, ["linear-learner"])
    search = _Search(ctx)
    trial = search.study.ask()
    trial.suggest_categorical("algorithm", ["linear-learner"])
    search._fail_dead_trials()
    study = studies.open_study(ctx.plan.study_storage, ctx.plan.name)
    assert [t.state.name for t in study.trials] == ["RUNNING"] and records == {}

    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    search._tell(trial, 0.9)  # the owner finishing late: skipped, not UpdateFinishedTrialError
    assert [t.state.name for t in studies.open_study(ctx.plan.study_storage, ctx.plan.name).trials] == ["FAIL"]


def test_a_trial_tied_with_the_best_gets_the_final_fit_when_it_can_see_more_rows(tmp_path, monkeypatch):
    """The best trial (a slow mlp) leads an xgboost trial by one validation row, within the noise of the validation
    rows, and a final fit of the xgboost sees every row where the mlp's sees twice the sample: the xgboost is the
    final fit's pipeline. Leading by half the rows, the mlp stays."""
    import runners.tuning as tuning_module

    monkeypatch.setattr(tuning_module, "TUNING_ROWS", 40)
    ctx, _ = run_context(tmp_path, ["xgboost", "mlp"])
    search = _Search(ctx)
    search.final_threads = 2
    for name, value, fit_s in [("job-1-trial-000-mlp", 0.9, 10.0), ("job-1-trial-001-xgboost", 0.85, 1.0)]:
        search.study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"candidate": name}))
        ctx.record(Candidate(name, name.rsplit("-", 1)[-1], CandidateStatus.COMPLETED, time.time(),
                             objective_value=value, fit_s=fit_s))
    y = ctx.dataset.y_valid
    right = np.eye(2)[y]
    wrong_from = {"close": 1, "far": len(y) // 2}
    seconds = 80 * 10.0 / 40 / 2 / 0.8  # the mlp's final fit: 80 rows, twice the sample; the xgboost's: every row
    assert (search._refit_rows(seconds, 10.0), search._refit_rows(seconds, 1.0)) == (80, search.rows)
    for rival, expected in (("close", "job-1-trial-001-xgboost"), ("far", "job-1-trial-000-mlp")):
        guesses = right.copy()
        guesses[:wrong_from[rival]] = 1 - guesses[:wrong_from[rival]]
        predictions = {"job-1-trial-000-mlp": right, "job-1-trial-001-xgboost": guesses}
        monkeypatch.setattr(_Search, "_validation_prediction", lambda self, record, p=predictions: p[record.name])
        assert search._final_source(seconds)[0] == expected, rival
