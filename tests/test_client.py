"""The Python client as boto3 code uses it: botocore ClientErrors, paginators and waiters, every problem of a
request at once, predict refusing bad input by the argument's name, and progress that tells the truth.

One short tuning job (with an endpoint) serves the whole module; it is waited for with both progress displays.
"""
from __future__ import annotations

import contextlib
import io
import pickle
import re
import time

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError, OperationNotPageableError, WaiterError

import automl
from automl.candidate import CandidateStatus
from automl.contract import input_shape
from automl.progress import JobProgress, ProgressPrinter
from tests.conftest import BREAST_CANCER, request

JOB, ENDPOINT, BUDGET_S = "client-job", "client-endpoint", 90
FAST = {"Delay": 1, "MaxAttempts": 60}


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("client")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        sm = automl.client()
        sm.create_auto_ml_job(**request(BREAST_CANCER, name=JOB, output=root / "out", AutoMLJobConfig={
            "Mode": "HYPERPARAMETER_TUNING",
            "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": BUDGET_S, "MaxCandidates": 4},
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "linear-learner"]}]}},
            ModelDeployConfig={"EndpointName": ENDPOINT}))
        time.sleep(2)  # the job runs before anyone watches: progress counts from its creation, not from here
        lines, bar = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(bar):
            final = sm.wait(JOB, progress=True, on_poll=ProgressPrinter(lines))
        assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
        yield {"sm": sm, "root": root, "final": final, "lines": lines.getvalue().splitlines(),
               "bar": bar.getvalue(), "features": pd.read_csv(BREAST_CANCER).drop(columns="diagnosis")}


# 1. Errors are botocore ClientErrors


def test_an_error_is_a_botocore_client_error_with_the_response_botocore_builds(sm):
    with pytest.raises(ClientError) as caught:
        sm.describe_auto_ml_job(AutoMLJobName="nope")
    error = caught.value
    assert isinstance(error, sm.exceptions.ResourceNotFound) and isinstance(error, automl.ResourceNotFound)
    assert error.response["Error"] == {"Code": "ResourceNotFound", "Message": "AutoMLJobName: no job named 'nope'"}
    meta = error.response["ResponseMetadata"]
    assert (meta["HTTPStatusCode"], meta["RetryAttempts"]) == (400, 0)
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]
    assert meta["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert error.operation_name == "DescribeAutoMLJob"
    assert str(error) == ("An error occurred (ResourceNotFound) when calling the DescribeAutoMLJob operation: "
                          "AutoMLJobName: no job named 'nope'")
    assert str(error) == str(ClientError(error.response, "DescribeAutoMLJob")), "botocore's own wording"
    assert (error.code, error.message) == ("ResourceNotFound", "AutoMLJobName: no job named 'nope'")


def test_boto3_error_handling_runs_unchanged(sm):
    def describe_or_none(name):
        try:
            return sm.describe_auto_ml_job(AutoMLJobName=name)
        except sm.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFound":
                return None
            raise

    assert describe_or_none("nope") is None
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        automl.describe_auto_ml_job(AutoMLJobName="not a name")  # the module functions name the operation too
    assert caught.value.operation_name == "DescribeAutoMLJob"
    with pytest.raises(ClientError) as caught:
        sm.call("DescribeTrainingJob", {})
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    assert str(caught.value).startswith("An error occurred (UnknownOperationException) when calling the "
                                        "DescribeTrainingJob operation: DescribeTrainingJob is not an operation")


def test_an_error_outside_an_operation_and_a_pickled_one():
    error = automl.ValidationException("data: has no rows")
    assert str(error) == "An error occurred (ValidationException): data: has no rows"
    error.operation_name = "CreateAutoMLJob"
    back = pickle.loads(pickle.dumps(error))  # botocore's ClientError would come back a bare ClientError
    assert type(back) is automl.ValidationException
    assert (back.message, back.operation_name, back.response) == (error.message, error.operation_name,
                                                                  error.response)


# 2. Paginators and waiters


def test_paginators_are_botocores_over_the_list_methods(job):
    sm = job["sm"]
    assert [sm.can_paginate(m) for m in ("list_auto_ml_jobs", "list_candidates_for_auto_ml_job", "list_endpoints",
                                         "describe_auto_ml_job")] == [True, True, True, False]
    with pytest.raises(OperationNotPageableError):
        sm.get_paginator("describe_auto_ml_job")
    names = [c.name for c in sm.store.candidates(JOB)]
    assert len(names) >= 2, "the job made at least two candidates to page through"
    paginator = sm.get_paginator("list_candidates_for_auto_ml_job")
    pages = list(paginator.paginate(AutoMLJobName=JOB, PaginationConfig={"PageSize": 1}))
    assert [[c["CandidateName"] for c in p["Candidates"]] for p in pages] == [[n] for n in names]
    first = paginator.paginate(AutoMLJobName=JOB, PaginationConfig={"MaxItems": 1, "PageSize": 1}).build_full_result()
    assert [c["CandidateName"] for c in first["Candidates"]] == names[:1]
    rest = paginator.paginate(AutoMLJobName=JOB, PaginationConfig={"StartingToken": first["NextToken"]})
    assert [c["CandidateName"] for c in rest.build_full_result()["Candidates"]] == names[1:]
    assert list(paginator.paginate(AutoMLJobName=JOB).search("Candidates[].CandidateName")) == names
    jobs = sm.get_paginator("list_auto_ml_jobs").paginate().build_full_result()
    assert [j["AutoMLJobName"] for j in jobs["AutoMLJobSummaries"]] == [JOB]
    endpoints = sm.get_paginator("list_endpoints").paginate(NameContains="client").build_full_result()
    assert [e["EndpointName"] for e in endpoints["Endpoints"]] == [ENDPOINT]


def test_endpoint_waiters(job):
    sm = job["sm"]
    assert sm.waiter_names == ["endpoint_deleted", "endpoint_in_service", "transform_job_completed_or_stopped"]
    with pytest.raises(ValueError, match="Waiter does not exist: training_job_completed_or_stopped"):
        sm.get_waiter("training_job_completed_or_stopped")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig=FAST)
    with pytest.raises(WaiterError, match="Waiter EndpointDeleted failed: Max attempts exceeded"):
        sm.get_waiter("endpoint_deleted").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 0, "MaxAttempts": 2})
    sm.delete_endpoint(EndpointName=ENDPOINT)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=ENDPOINT, WaiterConfig=FAST)  # ValidationException: gone
    with pytest.raises(WaiterError, match="terminal failure state: Matched expected service error code: "
                                          "ValidationException") as caught:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig=FAST)
    assert caught.value.last_response["Error"]["Message"] == f'Could not find endpoint "{ENDPOINT}".'


def test_transform_job_waiter(job):
    sm, root = job["sm"], job["root"]
    good, bad = root / "batch-good", root / "batch-bad"
    for folder, text in ((good, None), (bad, "oops")):
        folder.mkdir()
        rows = job["features"].head(20).astype(object)
        if text:
            rows.iloc[5, 0] = text
        rows.to_csv(folder / "rows.csv", index=False)
    for name, folder in (("batch-good", good), ("batch-bad", bad)):
        sm.create_transform_job(
            TransformJobName=name, ModelName=JOB,
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(folder)}},
                            "ContentType": "text/csv", "SplitType": "Line"},
            TransformOutput={"S3OutputPath": str(root / f"{name}-out")},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    waiter = sm.get_waiter("transform_job_completed_or_stopped")
    waiter.wait(TransformJobName="batch-good", WaiterConfig=FAST)
    assert sm.describe_transform_job(TransformJobName="batch-good")["TransformJobStatus"] == "Completed"
    with pytest.raises(WaiterError, match="Waiter TransformJobCompletedOrStopped failed: Waiter encountered a "
                                          "terminal failure state") as caught:
        waiter.wait(TransformJobName="batch-bad", WaiterConfig=FAST)
    assert caught.value.last_response["TransformJobStatus"] == "Failed"
    assert "mean_radius must be a number; got 'oops'" in caught.value.last_response["FailureReason"]


# 3. Every problem of a request at once


def test_a_request_with_three_problems_reports_all_three(sm, tmp_path):
    body = request(BREAST_CANCER, name="bad name!", output=tmp_path / "out", Colour="blue")
    del body["OutputDataConfig"]
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        sm.create_auto_ml_job(**body)
    members = ", ".join(input_shape("CreateAutoMLJob").members)
    assert caught.value.message.split("\n") == [
        "3 problems:",
        f"Colour: is not a member of CreateAutoMLJobRequest; valid members: {members}",
        "OutputDataConfig: is required",
        "AutoMLJobName: must match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}; got 'bad name!'",
    ]
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_problems_deep_in_a_request_are_all_named_by_path(sm, tmp_path):
    body = request(BREAST_CANCER, output=tmp_path / "out", AutoMLJobConfig={
        "CompletionCriteria": {"MaxCandidates": 0, "MaxAutoMLJobRuntimeInSeconds": "long"}})
    body["InputDataConfig"][0]["ChannelType"] = "test"
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        sm.create_auto_ml_job(**body)
    assert caught.value.message.split("\n") == [
        "3 problems:",
        "InputDataConfig[0].ChannelType: must be one of training, validation; got 'test'",
        "AutoMLJobConfig.CompletionCriteria.MaxCandidates: must be at least 1; got 0",
        "AutoMLJobConfig.CompletionCriteria.MaxAutoMLJobRuntimeInSeconds: must be an integer; got 'long'",
    ]


# 4. predict refuses bad input, naming `data`


def test_predict_takes_a_frame_a_path_and_a_2d_array_alike(job):
    sm, features = job["sm"], job["features"].head(12)
    path = job["root"] / "rows.csv"
    features.to_csv(path, index=False)
    expected = sm.predict(JOB, features)
    pd.testing.assert_frame_equal(sm.predict(JOB, str(path)), expected)
    pd.testing.assert_frame_equal(sm.predict(JOB, features.to_numpy()), expected)


def test_predict_refuses_a_value_that_is_no_number_in_a_numeric_column(job):
    sm = job["sm"]
    rows = job["features"].head(6).astype(object)
    rows.iloc[2, 1], rows.iloc[4, 1], rows.iloc[0, 3] = "abc", "x", "NA"  # NA: a missing value, as in training
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        sm.predict(JOB, rows)
    assert caught.value.message == ("data: row 3, column 'mean_texture': must be a number, as the model was trained "
                                    "on it (and 1 more row); got 'abc'")
    path = job["root"] / "bad.csv"
    rows.iloc[4, 1] = 20.5
    rows.to_csv(path, index=False)
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        sm.predict(JOB, path)
    assert caught.value.message == ("data: row 3, column 'mean_texture': must be a number, as the model was trained "
                                    "on it; got 'abc'")


def test_predict_refuses_no_rows_and_data_it_cannot_read(job):
    sm, features = job["sm"], job["features"]
    header = job["root"] / "header.csv"
    features.head(0).to_csv(header, index=False)
    n = features.shape[1]
    cases = [
        (header, f"data: {header} has no rows"),
        (features.head(0), "data: the DataFrame has no rows"),
        (job["root"] / "nothing.csv", f"data: matches no data file; got '{job['root'] / 'nothing.csv'}'"),
        (features.drop(columns="mean_area"), "data: lacks columns the model was trained on: mean_area"),
        (features.to_numpy()[0], f"data: a numpy array must be 2-D with one column per feature, in the training "
                                 f"order ({n}: mean_radius, mean_texture, "),
        (features.to_numpy()[:, :5], "data: a numpy array must be 2-D"),
        ([[1.0] * n], "data: must be a pandas DataFrame, a 2-D numpy array or a data location (a path or URI); "
                      "got 'list'"),
    ]
    for data, message in cases:
        with pytest.raises(sm.exceptions.ValidationException) as caught:
            sm.predict(JOB, data)
        assert caught.value.message.startswith(message), caught.value.message
    assert "shape (30,)" in _refusal(sm, features.to_numpy()[0]) and "shape (569, 5)" in _refusal(
        sm, features.to_numpy()[:, :5])
    assert np.isfinite(sm.predict(JOB, features.head(2).to_numpy())["probability"]).all()


def _refusal(sm, data) -> str:
    with pytest.raises(sm.exceptions.ValidationException) as caught:
        sm.predict(JOB, data)
    return caught.value.message


# 5. Progress that tells the truth


def test_progress_counts_from_the_job_creation_and_shows_the_budget(job):
    lines, final = job["lines"], job["final"]
    clock = re.compile(r"^\[(\d+)s of (\d+)s, (\d+)s left\] (\S+)  candidates (\d+) done")
    parsed = [clock.match(line) for line in lines]
    assert all(parsed), lines
    first = parsed[0]
    assert int(first[1]) >= 2, "the job had run two seconds before wait attached"
    assert all(int(m[2]) == BUDGET_S for m in parsed)
    assert all(int(m[3]) == max(0, BUDGET_S - int(m[1])) for m in parsed)
    assert parsed[-1][4] == f"Completed/{final['AutoMLJobSecondaryStatus']}"
    records = job["sm"].store.candidates(JOB)
    stopped = [r for r in records if r.status is CandidateStatus.STOPPED]
    pruned = sum("pruned by" in (r.failure_reason or "") for r in stopped)
    counted = (f"candidates {sum(r.completed for r in records)} done, {len(stopped)} stopped"
               + (f" ({pruned} pruned)" if pruned else "")
               + f", {sum(r.status is CandidateStatus.FAILED for r in records)} failed  best F1=")
    assert counted in lines[-1], lines[-1]
    best = final["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]
    assert lines[-1].endswith(f"best F1={best['Value']:.4f}")


def test_progress_of_an_ended_job_is_its_whole_run(job):
    final = job["final"]
    progress = JobProgress.of(final, job["sm"].store.candidates(JOB), now=time.time() + 3600)
    assert progress.elapsed_s == pytest.approx((final["EndTime"] - final["CreationTime"]).total_seconds())
    assert progress.budget_s == BUDGET_S
    out = io.StringIO()
    ProgressPrinter(out)(final, job["sm"].store.candidates(JOB))
    assert out.getvalue().startswith(f"[{progress.elapsed_s:.0f}s of {BUDGET_S}s, ")


def test_wait_with_progress_draws_a_tqdm_bar_of_the_budget(job):
    bar, final = job["bar"], job["final"]
    ran_s = (final["EndTime"] - final["CreationTime"]).total_seconds()
    last = bar.rstrip().rsplit("\r", 1)[-1]  # a job that ends early stops the bar short of 100%: truthfully
    shown = min(ran_s, BUDGET_S)
    assert re.match(rf"{JOB}: +{100 * shown / BUDGET_S:.0f}%\|[^|]*\| {shown:.0f}/{BUDGET_S}s, "
                    rf"Completed/{final['AutoMLJobSecondaryStatus']}, ", last), last
    assert re.search(rf"{JOB}: +\d+%\|[^|]*\| [2-9]/{BUDGET_S}s, InProgress/", bar), "the first draw, seconds in"


def test_the_module_wait_draws_the_bar_too(job, capsys):
    assert automl.wait(JOB, progress=True)["AutoMLJobStatus"] == "Completed"  # AUTOML_HOME is the job's store
    assert f"/{BUDGET_S}s, Completed/" in capsys.readouterr().err
