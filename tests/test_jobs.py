"""Job lifecycle end to end through detached workers: every status path, outputs, responses in botocore's
output shapes, listing, the queue, a dead worker, and S3 in and out."""
import json
import os
import re
import signal
import sqlite3
import time

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from automl.contract import validate_response
from automl.errors import ResourceLimitExceeded, ValidationException
from automl.processes import GONE, stat_fields
from tests.conftest import only, request, wait_for


def living_in_group(pgid: int) -> list[int]:
    members = {int(e): stat_fields(int(e)) for e in filter(str.isdigit, os.listdir("/proc"))}
    return [pid for pid, fields in members.items() if fields and int(fields[2]) == pgid and fields[0] not in GONE]


def candidates(sm, name, **extra):
    answer = sm.list_candidates_for_auto_ml_job(AutoMLJobName=name, **extra)
    validate_response("ListCandidatesForAutoMLJob", answer)
    return answer


def test_completed_job_writes_outputs_and_predict_reproduces_the_score(sm, home, tmp_path, breast_cancer):
    train, valid = tmp_path / "train.csv", tmp_path / "valid.csv"
    breast_cancer.iloc[:500].to_csv(train, index=False)
    breast_cancer.iloc[500:].to_csv(valid, index=False)
    body = request(train, name="bc", output=tmp_path / "out",
                   AutoMLJobConfig=only("lightgbm", "linear-learner", "extra-trees"))
    body["InputDataConfig"].append({"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(valid)}},
                                    "TargetAttributeName": "diagnosis", "ChannelType": "validation"})
    arn = sm.create_auto_ml_job(**body)["AutoMLJobArn"]
    assert arn == "arn:aws:sagemaker:local:000000000000:automl-job/bc"
    final = wait_for(sm, "bc", lambda d: d["AutoMLJobStatus"] != "InProgress")
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "Completed")
    assert final["ResolvedAttributes"]["ProblemType"] == "BinaryClassification"
    assert final["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "F1"}
    assert final["CreationTime"] <= final["EndTime"] == final["LastModifiedTime"]

    listed = candidates(sm, "bc", SortBy="FinalObjectiveMetricValue", SortOrder="Descending")["Candidates"]
    names = {c["CandidateName"].removeprefix("bc-") for c in listed}
    bagged = {f"{a}-L{level}" for a in ("lightgbm", "linear-learner", "extra-trees") for level in (1, 2)}
    assert bagged | {"WeightedEnsemble-L2", "WeightedEnsemble-L3", "WeightedEnsemble-L2-FULL"} <= names
    ensemble = json.loads((tmp_path / "out" / "bc" / "candidates" / "bc-WeightedEnsemble-L2" / "definition.json"
                           ).read_text())
    assert sum(ensemble["Members"].values()) == pytest.approx(1.0)
    refits = {n.removeprefix("bc-").replace("-L1", "-FULL") for n in ensemble["Members"]}
    assert names == bagged | refits | {"WeightedEnsemble-L2", "WeightedEnsemble-L3", "WeightedEnsemble-L2-FULL"}
    values = [c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in listed]
    assert values == sorted(values, reverse=True)
    best = final["BestCandidate"]
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == values[0]
    metrics = {m["StandardMetricName"] for m in best["CandidateProperties"]["CandidateMetrics"]}
    assert metrics == {"Accuracy", "BalancedAccuracy", "AUC", "F1", "Precision", "Recall", "LogLoss",
                       "InferenceLatency"}

    out = tmp_path / "out" / "bc"
    board = pd.read_csv(out / "leaderboard.csv")
    assert list(board["rank"]) == list(range(1, len(names) + 1))
    assert board.loc[0, "candidate_name"] == best["CandidateName"]
    assert {"objective_value", "AUC", "LogLoss", "fit_seconds", "predict_seconds_per_1k_rows", "status"} <= set(board)
    definition = json.loads((out / "best_candidate" / "definition.json").read_text())
    assert definition["CandidateName"] == best["CandidateName"]
    base = json.loads((out / "candidates" / "bc-lightgbm-L1" / "definition.json").read_text())
    assert base["Hyperparameters"]["learning_rate"] == 0.05 and base["Bagging"]["Folds"] == 5
    assert [f["fold"] for f in base["FoldFacts"]] == [0, 1, 2, 3, 4] and base["FoldFacts"][0]["rounds"] >= 1
    assert base["Preprocessing"]["Columns"]["mean_radius"] == "numeric"
    stacked = json.loads((out / "candidates" / "bc-lightgbm-L2" / "definition.json").read_text())
    assert set(stacked["StackedOn"][0]) == {"bc-lightgbm-L1", "bc-linear-learner-L1", "bc-extra-trees-L1"}
    saved = json.loads((out / "describe.json").read_text())
    assert saved["AutoMLJobStatus"] == "Completed" and saved["BestCandidate"]["CandidateName"] == best["CandidateName"]
    assert not list(out.rglob(".tmp-*")), "no temporary file may remain visible"

    log = (home / "logs" / "bc.log").read_text()
    for stage in ("InProgress/AnalyzingData", "InProgress/FeatureEngineering", "InProgress/TrainingModels",
                  "Completed/Completed"):
        assert f"bc: {stage}" in log
    assert "bc: 500 training and 69 validation rows (validation channel), 30 features" in log
    assert "bc: candidate bc-lightgbm-L1 (lightgbm) started" in log
    assert re.search(r"bc: candidate bc-lightgbm-L1 Completed in [0-9.]+ s, F1 [0-9.]+", log)
    assert f"bc: best candidate {best['CandidateName']}, F1 " in log

    predictions = sm.predict("bc", valid)
    assert list(predictions.columns) == ["predicted_label", "probability", "probabilities", "labels"]
    truth = breast_cancer.iloc[500:]["diagnosis"].to_numpy()
    score = f1_score(truth, predictions["predicted_label"], pos_label="malignant")
    assert score == pytest.approx(best["FinalAutoMLJobObjectiveMetric"]["Value"], abs=1e-12)
    assert predictions["labels"].iloc[0] == ["benign", "malignant"]


def test_regression_and_multiclass_jobs(sm, tmp_path, breast_cancer, digits_csv):
    regression = tmp_path / "reg.csv"
    breast_cancer.drop(columns=["diagnosis"]).to_csv(regression, index=False)
    sm.create_auto_ml_job(**request(regression, target="worst_area", name="reg",
                                    AutoMLJobConfig=only("lightgbm", "linear-learner")))
    sm.create_auto_ml_job(**request(digits_csv, target="target", name="digits", output=tmp_path / "out",
                                    AutoMLJobObjective={"MetricName": "F1macro"},
                                    AutoMLJobConfig=only("linear-learner", "extra-trees")))
    reg = sm.wait("reg", timeout=120)
    assert reg["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "MSE"}
    assert reg["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["Type"] == "Minimize"
    assert reg["BestCandidate"]["CandidateProperties"]["CandidateMetrics"][-1]["StandardMetricName"] == \
        "InferenceLatency"
    r2 = {m["StandardMetricName"]: m["Value"] for m in reg["BestCandidate"]["CandidateProperties"]["CandidateMetrics"]}
    assert r2["R2"] > 0.9
    names = {c["CandidateName"] for c in candidates(sm, "reg")["Candidates"]}
    assert {"reg-lightgbm-L1", "reg-linear-learner-L1", "reg-WeightedEnsemble-L2"} <= names
    assert not {"reg-lightgbm-L2", "reg-linear-learner-L2"} & names, "no validation channel to judge a stack layer"
    digits = sm.wait("digits", timeout=120)
    assert digits["ResolvedAttributes"]["ProblemType"] == "MulticlassClassification"
    assert digits["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.9
    frame = pd.read_csv(digits_csv).drop(columns=["target"]).head(5)
    assert len(sm.predict("digits", frame)["probabilities"].iloc[0]) == 10


def test_definitions_only_listing_sorting_and_pagination(sm, tmp_path, breast_cancer):
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    for name in ("beta-job", "alpha-job", "gamma-run"):
        sm.create_auto_ml_job(**request(data, name=name, GenerateCandidateDefinitionsOnly=True))
    for name in ("beta-job", "alpha-job", "gamma-run"):
        final = sm.wait(name, timeout=60)
        assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed",
                                                                                 "CandidateDefinitionsGenerated")
    defs = json.loads((tmp_path / "out" / "alpha-job" / "candidate_definitions.json").read_text())
    assert [d["Algorithm"] for d in defs] == ["lightgbm", "linear-learner", "catboost", "xgboost", "extra-trees",
                                              "randomforest", "nn-torch", "fastai"]
    assert candidates(sm, "alpha-job")["Candidates"] == []

    def names(**query):
        answer = sm.list_auto_ml_jobs(**query)
        validate_response("ListAutoMLJobs", answer)
        return [s["AutoMLJobName"] for s in answer["AutoMLJobSummaries"]], answer.get("NextToken")

    assert names()[0] == ["gamma-run", "beta-job", "alpha-job"]
    assert names(SortBy="Name", SortOrder="Ascending")[0] == ["alpha-job", "beta-job", "gamma-run"]
    assert names(SortBy="CreationTime", SortOrder="Ascending")[0] == ["beta-job", "alpha-job", "gamma-run"]
    assert names(NameContains="JOB")[0] == ["beta-job", "alpha-job"]
    assert names(StatusEquals="Failed")[0] == []
    first, token = names(SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert first == ["alpha-job", "beta-job"] and token
    rest, last = names(SortBy="Name", SortOrder="Ascending", MaxResults=2, NextToken=token)
    assert rest == ["gamma-run"] and last is None
    with pytest.raises(ValidationException, match="NextToken: belongs to a request with other filters"):
        sm.list_auto_ml_jobs(SortBy="Status", MaxResults=2, NextToken=token)
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)
    assert names(CreationTimeAfter=future.to_pydatetime())[0] == []


def test_data_failure_found_by_the_worker_fails_the_job(sm, home, tmp_path, breast_cancer, monkeypatch):
    monkeypatch.setenv("AUTOML_CREATE_ANALYSIS_BYTES", "0")  # big-data path: analysis happens in the worker
    data = tmp_path / "one.csv"
    breast_cancer.assign(diagnosis="benign").to_csv(data, index=False)
    sm.create_auto_ml_job(**request(data, name="one-class"))
    final = sm.wait("one-class", timeout=60)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Failed", "Failed")
    assert final["FailureReason"] == ("InputDataConfig[0].TargetAttributeName: the target has a single class; "
                                      "classification needs at least two; got 'benign'")
    assert "EndTime" in final and "BestCandidate" not in final
    log = (home / "logs" / "one-class.log").read_text()
    assert "one-class: InProgress/AnalyzingData" in log and f"one-class: Failed: {final['FailureReason']}" in log


def test_stop_keeps_the_best_finished_candidate(sm, slow_csv, tmp_path):
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="to-stop", output=tmp_path / "out",
                                    AutoMLJobConfig=only("linear-learner", "lightgbm")))
    wait_for(sm, "to-stop", lambda d: "BestCandidate" in d or any(
        c["CandidateStatus"] == "Completed" for c in candidates(sm, "to-stop")["Candidates"]))
    sm.stop_auto_ml_job(AutoMLJobName="to-stop")
    asked = time.time()
    assert sm.describe_auto_ml_job(AutoMLJobName="to-stop")["AutoMLJobStatus"] in ("Stopping", "Stopped")
    final = sm.wait("to-stop", timeout=30, poll_s=0.2)
    assert time.time() - asked < 10
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Stopped", "Stopped")
    assert final["BestCandidate"]["CandidateName"] == "to-stop-linear-learner-L1"
    statuses = {c["CandidateName"]: c["CandidateStatus"] for c in candidates(sm, "to-stop")["Candidates"]}
    assert statuses == {"to-stop-linear-learner-L1": "Completed", "to-stop-lightgbm-L1": "Stopped"}
    with pytest.raises(ValidationException, match="only an InProgress job can be stopped"):
        sm.stop_auto_ml_job(AutoMLJobName="to-stop")


def test_max_job_runtime_ends_gracefully_with_the_best_model(sm, slow_csv, tmp_path):
    limit = 20  # a slow machine spends seconds starting the worker and its fork server
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="timed", output=tmp_path / "out",
                                    AutoMLJobConfig=only("linear-learner", "lightgbm", "xgboost") | {
                                        "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": limit}}))
    final = sm.wait("timed", timeout=60, poll_s=0.2)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed",
                                                                             "MaxAutoMLJobRuntimeReached")
    runtime = (final["EndTime"] - final["CreationTime"]).total_seconds()
    assert runtime <= limit + 3, "overshoot at most max(5%, 3 s), counted from creation"
    assert "BestCandidate" in final
    assert (tmp_path / "out" / "timed" / "best_candidate" / "model.joblib").exists()


def test_per_candidate_limit_cuts_training_short(sm, slow_csv, tmp_path):
    """6 s: lightgbm would grow on digits6 for tens of seconds. With 3 s, a machine whose cores were shared 3 to
    1 (CI's) left lightgbm under a second of CPU after its soft end (60% of the limit) to score and save its
    model, and it ran past the limit."""
    limit = 6
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="per-cand", output=tmp_path / "out",
                                    AutoMLJobConfig=only("lightgbm", "linear-learner") | {
                                        "CompletionCriteria": {"MaxRuntimePerTrainingJobInSeconds": limit,
                                                               "MaxCandidates": 2}}))
    final = sm.wait("per-cand", timeout=60)
    listed = {c["CandidateName"]: c for c in candidates(sm, "per-cand")["Candidates"]}
    # lightgbm stops growing at its soft deadline, fits the folds its limit affords, and is kept; nothing runs
    # past the hard limit (a candidate that would is ended and Failed); the cap of 2 leaves no ensemble.
    assert len(listed) == 2 and final["AutoMLJobSecondaryStatus"] == "MaxCandidatesReached"
    assert listed["per-cand-lightgbm-L1"]["CandidateStatus"] == "Completed"
    kept = json.loads((tmp_path / "out" / "per-cand" / "candidates" / "per-cand-lightgbm-L1" / "definition.json")
                      .read_text())
    assert [f["cut_short"] for f in kept["FoldFacts"]] == [True] * kept["Bagging"]["FoldsFitted"], \
        "its soft end, not its own stopping rule, ended lightgbm's growth"
    for candidate in listed.values():
        assert (candidate["EndTime"] - candidate["CreationTime"]).total_seconds() < limit + 1.5
        assert candidate["CandidateStatus"] == "Completed" or candidate["FailureReason"].endswith(
            "ran past MaxRuntimePerTrainingJobInSeconds")


def test_max_candidates(sm, tmp_path, breast_cancer):
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    sm.create_auto_ml_job(**request(data, name="capped", AutoMLJobConfig={
        "Mode": "ENSEMBLING", "CompletionCriteria": {"MaxCandidates": 2}}))
    final = sm.wait("capped", timeout=60)
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxCandidatesReached")
    assert len(candidates(sm, "capped")["Candidates"]) == 2
    assert final["ResolvedAttributes"]["CompletionCriteria"]["MaxCandidates"] == 2


def test_dead_worker_is_reported_failed(sm, home, slow_csv, tmp_path):
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="doomed", output=tmp_path / "out",
                                    AutoMLJobConfig=only("lightgbm")))
    wait_for(sm, "doomed", lambda d: d["AutoMLJobSecondaryStatus"] == "TrainingModels")
    pid = sm.store.job("doomed").pid
    os.kill(pid, signal.SIGKILL)
    final = wait_for(sm, "doomed", lambda d: d["AutoMLJobStatus"] == "Failed", timeout=15)
    assert final["FailureReason"] == (f"the worker process (pid {pid}) ended without finishing the job: it was "
                                      "killed or the machine stopped")
    with sqlite3.connect(home / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    time.sleep(0.5)
    assert living_in_group(pid) == [], "nothing the worker started may train on"


def test_queue_starts_jobs_in_submission_order(sm, tmp_path, breast_cancer, monkeypatch):
    monkeypatch.setenv("AUTOML_MAX_RUNNING_JOBS", "1")
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    for name in ("first", "second"):
        sm.create_auto_ml_job(**request(data, name=name, AutoMLJobConfig=only("linear-learner")))
    assert sm.store.job("second").queued and sm.store.job("second").pid is None
    first, second = sm.wait("first", timeout=60), sm.wait("second", timeout=60)
    assert first["AutoMLJobStatus"] == second["AutoMLJobStatus"] == "Completed"
    started = candidates(sm, "second")["Candidates"][0]["CreationTime"]
    assert started >= first["EndTime"] - pd.Timedelta(seconds=1)


def test_queueing_off_refuses_beyond_the_limit(sm, slow_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_MAX_RUNNING_JOBS", "1")
    monkeypatch.setenv("AUTOML_QUEUE", "0")
    sm.create_auto_ml_job(**request(slow_csv, target="target", name="busy", output=tmp_path / "out",
                                    AutoMLJobConfig=only("lightgbm")))
    with pytest.raises(ResourceLimitExceeded, match="queueing is off"):
        sm.create_auto_ml_job(**request(slow_csv, target="target", name="refused", output=tmp_path / "out"))
    sm.stop_auto_ml_job(AutoMLJobName="busy")
    assert sm.wait("busy", timeout=30)["AutoMLJobStatus"] == "Stopped"
    assert [s["AutoMLJobName"] for s in sm.list_auto_ml_jobs()["AutoMLJobSummaries"]] == ["busy"]


def test_job_reading_and_writing_s3(sm, s3, breast_cancer):
    s3.put_object(Bucket="data", Key="bc/train.csv", Body=breast_cancer.to_csv(index=False).encode())
    sm.create_auto_ml_job(**request("s3://data/bc/", name="on-s3", output="s3://data/results",
                                    AutoMLJobConfig=only("lightgbm")))
    final = sm.wait("on-s3", timeout=180)
    assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="results/on-s3/")["Contents"]}
    assert {"results/on-s3/leaderboard.csv", "results/on-s3/describe.json",
            "results/on-s3/best_candidate/model.joblib"} <= keys
    assert final["BestCandidate"]["InferenceContainers"][0]["ModelDataUrl"].startswith("s3://data/results/on-s3/")
    assert len(sm.predict("on-s3", breast_cancer.head(3))) == 3
