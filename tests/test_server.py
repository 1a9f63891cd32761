"""`automl serve` driven by the real, unmodified clients: boto3 (with its paginators and waiters) and the aws CLI.

One server process on a loopback port serves a store in which one small job trains to completion and deploys its
endpoint; the other jobs wait in the queue (one job runs at a time), so the test costs one short training.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import boto3
import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import automl
from automl.contract import validate_response
from tests.conftest import BREAST_CANCER, ROLE, _free_port, request

CREDENTIALS = {"aws_access_key_id": "AKIDLOCAL", "aws_secret_access_key": "local-secret"}
DEPLOYED = "served"


def _start(home, extra_env=None):
    port = _free_port()
    env = os.environ | {"AUTOML_HOME": str(home), "AUTOML_MAX_RUNNING_JOBS": "1"} | (extra_env or {})
    with open(home.parent / f"server-{port}.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "automl.cli", "serve", "--port", str(port),
                                    "--model-port-base", str(_free_port())], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/ping", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None:
                raise AssertionError((home.parent / f"server-{port}.log").read_text()) from None
            time.sleep(0.2)
    raise AssertionError("the server did not answer /ping in 60 s")


def _stop(process):
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def client(url, service="sagemaker", **credentials):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}), **(credentials or CREDENTIALS))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    home = root / "home"
    home.mkdir()
    frame = pd.read_csv(BREAST_CANCER)
    train = root / "train.csv"
    frame.iloc[:500].to_csv(train, index=False)
    process, url = _start(home)
    sm = client(url)
    body = request(train, name=DEPLOYED, output=root / "out", ModelDeployConfig={"AutoGenerateEndpointName": True},
                   AutoMLJobConfig={"Mode": "ENSEMBLING", "CompletionCriteria": {
                       "MaxCandidates": 2, "MaxAutoMLJobRuntimeInSeconds": 60},
                       "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner"]}]}})
    arn = sm.create_auto_ml_job(**body)["AutoMLJobArn"]
    try:
        yield {"url": url, "sm": sm, "arn": arn, "root": root, "home": home, "train": train,
               "rows": frame.iloc[500:].drop(columns=["diagnosis"]), "body": body}
    finally:
        _stop(process)


def _deployed(served, timeout=180):
    sm = served["sm"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        answer = sm.describe_auto_ml_job(AutoMLJobName=DEPLOYED)
        if answer["AutoMLJobStatus"] in ("Completed", "Failed", "Stopped"):
            return answer
        time.sleep(0.5)
    raise AssertionError(f"{DEPLOYED} did not end in {timeout} s")


def _renamed(body: dict, name: str) -> dict:
    """The deployed job's request for another job, without an endpoint."""
    return {k: v for k, v in body.items() if k != "ModelDeployConfig"} | {"AutoMLJobName": name}


def test_control_plane_operations_with_boto3(served):
    sm = served["sm"]
    answer = sm.describe_auto_ml_job(AutoMLJobName=DEPLOYED)
    assert answer["AutoMLJobArn"] == served["arn"]
    assert answer["ModelDeployConfig"] == {"AutoGenerateEndpointName": True}
    assert answer["CreationTime"].tzinfo is not None  # botocore parsed our epoch timestamp
    for name in ("queued-a", "queued-b", "queued-c"):
        sm.create_auto_ml_job(**(_renamed(served["body"], name)))
    pages = list(sm.get_paginator("list_auto_ml_jobs").paginate(
        NameContains="queued", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 2}))
    assert [len(p["AutoMLJobSummaries"]) for p in pages] == [2, 1]
    assert [s["AutoMLJobName"] for p in pages for s in p["AutoMLJobSummaries"]] == ["queued-a", "queued-b",
                                                                                     "queued-c"]
    assert sm.stop_auto_ml_job(AutoMLJobName="queued-a")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sm.describe_auto_ml_job(AutoMLJobName="queued-a")["AutoMLJobStatus"] == "Stopped"
    for name in ("queued-b", "queued-c"):
        sm.stop_auto_ml_job(AutoMLJobName=name)
    v2 = sm.describe_auto_ml_job_v2(AutoMLJobName="queued-b")
    assert v2["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"]["MaxCandidates"] == 2
    with pytest.raises(sm.exceptions.ResourceNotFound) as caught:
        sm.describe_auto_ml_job(AutoMLJobName="no-such-job")
    assert caught.value.response["Error"]["Message"] == "AutoMLJobName: no job named 'no-such-job'"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_auto_ml_job(**(_renamed(served["body"], "QUEUED-A")))
    with pytest.raises(ClientError) as caught:  # rules are the engine's, exactly as without the server
        sm.create_auto_ml_job(**(served["body"] | {"AutoMLJobName": "bad", "ModelDeployConfig": {
            "AutoGenerateEndpointName": True, "EndpointName": "x"}}))
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "ModelDeployConfig.EndpointName: must not be set when AutoGenerateEndpointName is true; got 'x'"}


def test_v2_create_through_the_server(served):
    sm = served["sm"]
    arn = sm.create_auto_ml_job_v2(
        AutoMLJobName="v2-queued", RoleArn=ROLE,
        AutoMLJobInputDataConfig=[{"ChannelType": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": str(served["train"])}}}],
        OutputDataConfig={"S3OutputPath": str(served["root"] / "out")},
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "diagnosis",
                                                      "CompletionCriteria": {"MaxCandidates": 1}}})["AutoMLJobArn"]
    assert arn.endswith(":automl-job/v2-queued")
    sm.stop_auto_ml_job(AutoMLJobName="v2-queued")
    answer = sm.describe_auto_ml_job_v2(AutoMLJobName="v2-queued")
    assert (answer["AutoMLJobStatus"], answer["AutoMLProblemTypeConfigName"]) == ("Stopped", "Tabular")


def _post(url, body: bytes, headers: dict):
    req = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_protocol_errors_and_the_server_keeps_serving(served):
    url = served["url"]
    json_11 = {"Content-Type": "application/x-amz-json-1.1"}
    assert _post(url, b"{not json", json_11 | {"X-Amz-Target": "SageMaker.ListAutoMLJobs"}) == (400, {
        "__type": "SerializationException",
        "message": "the request body is not valid JSON: Expecting property name enclosed in double quotes: line 1 "
                   "column 2 (char 1)"})
    status, body = _post(url, b"{}", json_11 | {"X-Amz-Target": "Kinesis.ListStreams"})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "must start with 'SageMaker.'" in body["message"]
    status, body = _post(url, b"{}", json_11 | {"X-Amz-Target": "SageMaker.CreateNotebookInstance"})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert body["message"].startswith("CreateNotebookInstance is not an operation of this engine; it serves: "
                                      "CreateAutoMLJob, ")
    status, body = _post(url, b'{"AutoMLJobName": "x", "Bogus": 1}', json_11 | {
        "X-Amz-Target": "SageMaker.DescribeAutoMLJob"})
    assert (status, body["__type"]) == (400, "ValidationException")
    assert body["message"].startswith("Bogus: is not a member of DescribeAutoMLJobRequest")
    status, body = _post(url, b" " * (6 * 1024 * 1024 + 1), json_11 | {"X-Amz-Target": "SageMaker.ListAutoMLJobs"})
    assert (status, body["__type"]) == (413, "RequestEntityTooLargeException")
    assert "the limit is 6291456 bytes" in body["message"]
    assert served["sm"].list_auto_ml_jobs()["ResponseMetadata"]["HTTPStatusCode"] == 200


AWS = shutil.which("aws") or os.path.join(os.path.dirname(sys.executable), "aws")


def aws(url, home, *args):
    env = os.environ | {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION":
                        "us-east-1", "AWS_CONFIG_FILE": str(home / "no-config"), "AWS_MAX_ATTEMPTS": "1",
                        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"), "AWS_PAGER": ""}
    done = subprocess.run([AWS, "sagemaker", *args, "--endpoint-url", url, "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr


@pytest.mark.skipif(not os.path.exists(AWS), reason="the aws CLI (awscli, in the test extra) is not installed")
def test_the_aws_cli_unmodified(served):
    url, root = served["url"], served["root"]
    shorthand = (f"DataSource={{S3DataSource={{S3DataType=S3Prefix,S3Uri={served['train']}}}}},"
                 "TargetAttributeName=diagnosis")
    code, answer, err = aws(url, root, "create-auto-ml-job", "--auto-ml-job-name", "cli-short",
                            "--input-data-config", shorthand, "--output-data-config",
                            f"S3OutputPath={root / 'out'}", "--role-arn", ROLE,
                            "--auto-ml-job-config", "CompletionCriteria={MaxCandidates=1}")
    assert code == 0, err
    assert answer["AutoMLJobArn"].endswith(":automl-job/cli-short")
    request_file = root / "cli.json"
    request_file.write_text(json.dumps(_renamed(served["body"], "cli-json")))
    code, answer, err = aws(url, root, "create-auto-ml-job", "--cli-input-json", f"file://{request_file}")
    assert code == 0, err
    code, answer, err = aws(url, root, "describe-auto-ml-job", "--auto-ml-job-name", "cli-short")
    assert code == 0, err
    assert answer["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] == 1
    code, answer, err = aws(url, root, "list-auto-ml-jobs", "--name-contains", "cli-")
    assert code == 0, err
    assert sorted(s["AutoMLJobName"] for s in answer["AutoMLJobSummaries"]) == ["cli-json", "cli-short"]
    for name in ("cli-short", "cli-json"):
        code, answer, err = aws(url, root, "stop-auto-ml-job", "--auto-ml-job-name", name)
        assert code == 0, err
    code, answer, err = aws(url, root, "describe-auto-ml-job", "--auto-ml-job-name", "nope")
    assert code == 255  # aws CLI v1 (awscli on PyPI) exits 255 on a service error; v2 exits 254
    assert "An error occurred (ResourceNotFound) when calling the DescribeAutoMLJob operation: AutoMLJobName: no " \
           "job named 'nope'" in err


def test_deployed_endpoint_answers_as_sagemaker_runtime(served):
    final = _deployed(served)
    assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
    assert final["ModelDeployResult"] == {"EndpointName": DEPLOYED}
    sm, url, rows = served["sm"], served["url"], served["rows"]
    sm.get_waiter("endpoint_in_service").wait(EndpointName=DEPLOYED, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    described = sm.describe_endpoint(EndpointName=DEPLOYED)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointArn"].endswith(":endpoint/served")
    validate_response("DescribeEndpoint", {k: v for k, v in described.items() if k != "ResponseMetadata"})
    listed = [e["EndpointName"] for p in sm.get_paginator("list_endpoints").paginate() for e in p["Endpoints"]]
    assert listed == [DEPLOYED]

    expected = automl.client(served["home"]).predict(DEPLOYED, rows)
    runtime = client(url, "sagemaker-runtime")
    csv = rows.to_csv(header=False, index=False).encode()
    answer = runtime.invoke_endpoint(EndpointName=DEPLOYED, ContentType="text/csv", Body=csv)
    assert answer["ContentType"] == "text/csv"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    labels = answer["Body"].read().decode().splitlines()
    assert labels == [str(v) for v in expected["predicted_label"]]
    instances = {"instances": [{"features": list(r)} for r in rows.head(5).itertuples(index=False)]}
    answer = runtime.invoke_endpoint(EndpointName=DEPLOYED, ContentType="application/json",
                                     Accept="application/json", Body=json.dumps(instances))
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert [p["predicted_label"] for p in predictions] == list(expected["predicted_label"].head(5))

    short = b"1.0,2.0\n"
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName=DEPLOYED, ContentType="text/csv", Body=short)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert caught.value.response["Error"]["Message"] == (
        "Received client error (400) from primary with message \"row 1: must have 30 fields, as the model's features; "
        "got 2\".")
    worded = ("many," + csv.decode().splitlines()[0].split(",", 1)[1]).encode()
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName=DEPLOYED, ContentType="text/csv", Body=worded)
    assert "row 1" in caught.value.response["Error"]["Message"] and "'many'" in caught.value.response["Error"][
        "Message"], caught.value.response["Error"]
    with pytest.raises(runtime.exceptions.ValidationError) as caught:
        runtime.invoke_endpoint(EndpointName="nowhere", ContentType="text/csv", Body=csv)
    assert caught.value.response["Error"]["Message"] == "Endpoint nowhere of account 000000000000 not found."

    deadline, invocations = time.time() + 15, None
    while invocations is None and time.time() < deadline:  # the watcher starts an endpoint's server within ~1 s
        ports = json.loads(urllib.request.urlopen(url + "/automl/endpoints", timeout=5).read())["Endpoints"]
        invocations = next((p["InvocationsUrl"] for p in ports if p["EndpointName"] == DEPLOYED), None)
        time.sleep(0 if invocations else 0.5)
    assert invocations, ports
    assert urllib.request.urlopen(invocations.replace("/invocations", "/ping"), timeout=10).status == 200
    container = urllib.request.Request(invocations, data=csv, headers={"Content-Type": "text/csv"}, method="POST")
    assert urllib.request.urlopen(container, timeout=10).read().decode().splitlines() == labels

    model = served["root"] / "out" / DEPLOYED / "best_candidate" / "model.joblib"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    fresh, fresh_url = _start(served["home"])  # a server that has not loaded the model yet
    try:
        with pytest.raises(runtime.exceptions.ModelError) as caught:
            client(fresh_url, "sagemaker-runtime").invoke_endpoint(EndpointName=DEPLOYED, ContentType="text/csv",
                                                                   Body=csv)
        message = caught.value.response["Error"]["Message"]
        assert message.startswith(f"the model of endpoint {DEPLOYED} did not load: file://{model}: not loaded: "
                                  "changed since it was written (recorded sha256 "), message
        assert runtime.invoke_endpoint(EndpointName=DEPLOYED, ContentType="text/csv", Body=csv)[
            "Body"].read().decode().splitlines() == labels  # the warm model was checked when it loaded
    finally:
        _stop(fresh)
        model.write_bytes(original)

    sm.delete_endpoint(EndpointName=DEPLOYED)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=DEPLOYED, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    with pytest.raises(ClientError) as caught:
        sm.describe_endpoint(EndpointName=DEPLOYED)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    frame = pd.read_csv(io.BytesIO(csv), header=None)
    assert len(frame) == len(labels)


def test_signatures_are_verified_when_keys_are_configured(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    process, url = _start(home, {"AUTOML_ACCESS_KEYS": "AKIDGOOD:right-secret,AKIDTWO:other"})
    try:
        good = client(url, aws_access_key_id="AKIDGOOD", aws_secret_access_key="right-secret")
        assert good.list_auto_ml_jobs()["AutoMLJobSummaries"] == []
        wrong = client(url, aws_access_key_id="AKIDGOOD", aws_secret_access_key="wrong-secret")
        with pytest.raises(ClientError) as caught:
            wrong.list_auto_ml_jobs()
        assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        stranger = client(url, aws_access_key_id="AKIDNOBODY", aws_secret_access_key="right-secret")
        with pytest.raises(ClientError) as caught:
            stranger.describe_auto_ml_job(AutoMLJobName="x")
        assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
        status, body = _post(url, b"{}", {"Content-Type": "application/x-amz-json-1.1",
                                          "X-Amz-Target": "SageMaker.ListAutoMLJobs"})
        assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
        runtime = client(url, "sagemaker-runtime", aws_access_key_id="AKIDTWO", aws_secret_access_key="other")
        with pytest.raises(runtime.exceptions.ValidationError):  # signed right: the endpoint is what is missing
            runtime.invoke_endpoint(EndpointName="none", ContentType="text/csv", Body=b"1,2")
    finally:
        _stop(process)


def test_transform_job_through_the_server(served):
    assert _deployed(served)["AutoMLJobStatus"] == "Completed"
    sm, root, rows = served["sm"], served["root"], served["rows"]
    inputs = root / "batch"
    inputs.mkdir()
    rows.head(40).to_csv(inputs / "a.csv", index=False)
    rows.tail(29).to_csv(inputs / "b.csv", header=False, index=False)
    arn = sm.create_transform_job(
        TransformJobName="batch-1", ModelName=DEPLOYED,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(inputs)}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": str(root / "batch-out"), "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Environment={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability"})["TransformJobArn"]
    assert arn.endswith(":transform-job/batch-1")
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="batch-1",
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    answer = sm.describe_transform_job(TransformJobName="batch-1")
    assert answer["TransformJobStatus"] == "Completed", answer.get("FailureReason")
    assert answer["AutoMLJobArn"] == served["arn"]
    expected = automl.client(served["home"]).predict(DEPLOYED, rows)
    out = pd.concat([pd.read_csv(root / "batch-out" / name, header=None) for name in ("a.csv.out", "b.csv.out")])
    assert list(out[0]) == list(expected["predicted_label"])
    assert out[1].to_numpy() == pytest.approx(expected["probability"].to_numpy(), rel=1e-6)
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_transform_job(**{"TransformJobName": "BATCH-1", "ModelName": DEPLOYED,
                                   "TransformInput": {"DataSource": {"S3DataSource": {
                                       "S3DataType": "S3Prefix", "S3Uri": str(inputs)}}},
                                   "TransformOutput": {"S3OutputPath": str(root / "x")},
                                   "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    with pytest.raises(ClientError) as caught:
        sm.create_transform_job(TransformJobName="batch-2", ModelName="no-model",
                                TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                                "S3Uri": str(inputs)}}},
                                TransformOutput={"S3OutputPath": str(root / "x")},
                                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    assert caught.value.response["Error"]["Message"].startswith('ModelName: Could not find model "no-model"')
