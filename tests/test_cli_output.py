"""The aws CLI's global options on `automl`: the same command line run with the real `aws sagemaker` (against
`automl serve`) and with `automl` (on the same store) prints the same bytes, for every --output and a --query,
paged or not; --endpoint-url sends automl's operations to the server; bad options are usage errors."""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from automl.cli import main
from automl.cli_output import render
from tests.conftest import BREAST_CANCER, REPO, request
from tests.test_server import AWS, _start, _stop, client

JOB = "shown"
pytestmark = pytest.mark.skipif(not os.path.exists(AWS), reason="the aws CLI (awscli, in the test extra) is missing")


def _env(home, extra=None) -> dict:
    """The same settings for both CLIs: fixed credentials and region, no AWS config or output default."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_DEFAULT_OUTPUT", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE")}
    return env | {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                  "AWS_CONFIG_FILE": str(home.parent / "no-config"), "AWS_MAX_ATTEMPTS": "1",
                  "AWS_SHARED_CREDENTIALS_FILE": str(home.parent / "no-credentials"), "AWS_PAGER": "",
                  "AUTOML_HOME": str(home), "PYTHONPATH": str(REPO)} | (extra or {})


def automl(home, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl.cli", *args], env=_env(home, env), capture_output=True,
                          text=True, timeout=120)


def aws(store, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([AWS, "sagemaker", *args, "--endpoint-url", store["url"]], env=_env(store["home"], env),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """`automl serve` on a store with one small finished job and one stopped in the queue."""
    root = tmp_path_factory.mktemp("cli-output")
    home = root / "home"
    home.mkdir()
    train = root / "train.csv"
    pd.read_csv(BREAST_CANCER).iloc[:500].to_csv(train, index=False)
    process, url = _start(home)
    try:
        sm = client(url)
        body = request(train, name=JOB, output=root / "out", AutoMLJobConfig={
            "Mode": "ENSEMBLING", "CompletionCriteria": {"MaxCandidates": 2, "MaxAutoMLJobRuntimeInSeconds": 60},
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner"]}]}})
        sm.create_auto_ml_job(**body)
        sm.create_auto_ml_job(**(body | {"AutoMLJobName": "queued"}))
        sm.stop_auto_ml_job(AutoMLJobName="queued")  # one job runs at a time: this one never starts
        deadline = time.time() + 180
        while sm.describe_auto_ml_job(AutoMLJobName=JOB)["AutoMLJobStatus"] == "InProgress":
            assert time.time() < deadline, f"{JOB} did not end in 180 s"
            time.sleep(0.5)
        final = sm.describe_auto_ml_job(AutoMLJobName=JOB)
        assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
        yield {"url": url, "home": home, "root": root}
    finally:
        _stop(process)


NAMES = ("--query", "AutoMLJobSummaries[].AutoMLJobName")
LINES = {  # id: (the aws sagemaker line, the automl line when it differs: global options before the command)
    "describe-json": (["describe-auto-ml-job", "--auto-ml-job-name", JOB, "--output", "json"], None),
    "describe-text": (["describe-auto-ml-job", "--auto-ml-job-name", JOB, "--output", "text"], None),
    "describe-table": (["describe-auto-ml-job", "--auto-ml-job-name", JOB, "--output", "table"], None),
    "describe-query-table": (["describe-auto-ml-job", "--auto-ml-job-name", JOB, "--output", "table", "--query",
                              "BestCandidate.{Name: CandidateName, Objective: FinalAutoMLJobObjectiveMetric}"], None),
    "list-query-text-before": (["list-auto-ml-jobs", *NAMES, "--output", "text"],
                               ["--output", "text", *NAMES, "list-auto-ml-jobs"]),
    "list-pages-text": (["list-auto-ml-jobs", "--page-size", "1", "--output", "text"], None),
    "list-one-item-json": (["list-auto-ml-jobs", "--page-size", "1", "--max-items", "1"], None),
    "candidates-pages-text": (["list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB, "--page-size", "1",
                               "--output", "text"], None),
    "candidates-pages-table": (["list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB, "--page-size", "1",
                                "--output", "table"], None),
    "candidates-one-call": (["list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB, "--max-results", "1"],
                            None),
}


@pytest.mark.parametrize("line", list(LINES), ids=list(LINES))
def test_the_same_bytes_as_the_aws_cli(store, line):
    theirs, ours = LINES[line]
    expected = aws(store, *theirs)
    assert expected.returncode == 0, expected.stderr
    assert expected.stdout.strip()
    got = automl(store["home"], *(ours or theirs))
    assert got.returncode == 0, got.stderr
    assert got.stdout == expected.stdout
    if "--max-items" in theirs:  # cut short: the answer ends with the token to go on from
        assert json.loads(got.stdout)["NextToken"]
    if line == "list-pages-text":  # one call per job, every page shown
        assert got.stdout.count("AUTOMLJOBSUMMARIES\t") == 2


def test_the_output_default_comes_from_aws_default_output(store):
    line = ["list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB]
    expected = aws(store, *line, env={"AWS_DEFAULT_OUTPUT": "table"})
    got = automl(store["home"], *line, env={"AWS_DEFAULT_OUTPUT": "table"})
    assert got.returncode == 0, got.stderr
    assert got.stdout == expected.stdout and got.stdout.startswith("-" * 20)


def test_yaml_holds_what_the_aws_cli_json_holds(store):
    line = ["describe-auto-ml-job", "--auto-ml-job-name", JOB]
    expected = json.loads(aws(store, *line).stdout)
    got = automl(store["home"], *line, "--output", "yaml")
    assert got.returncode == 0, got.stderr
    assert yaml.safe_load(got.stdout) == expected
    assert got.stdout.startswith("AutoMLJobArn: arn:aws:sagemaker:")  # block style, keys sorted


def test_endpoint_url_sends_the_operation_to_the_server(store, tmp_path):
    elsewhere = tmp_path / "empty-home"  # nothing here: every answer must come from the server
    url = store["url"]
    line = ["describe-auto-ml-job", "--auto-ml-job-name", JOB, "--output", "text"]
    got = automl(elsewhere, "--endpoint-url", url, *line)
    assert got.returncode == 0, got.stderr
    assert got.stdout == aws(store, *line).stdout
    line = ["list-candidates-for-auto-ml-job", "--auto-ml-job-name", JOB, "--page-size", "1"]
    got = automl(elsewhere, *line, "--endpoint-url", url, "--region", "eu-west-1", "--no-sign-request")
    assert got.returncode == 0, got.stderr
    assert got.stdout == aws(store, *line).stdout
    got = automl(elsewhere, "--endpoint-url", url, "describe-auto-ml-job", "--auto-ml-job-name", "ghost")
    assert got.returncode == 254
    assert got.stderr == ("An error occurred (ResourceNotFound) when calling the DescribeAutoMLJob operation: "
                          "AutoMLJobName: no job named 'ghost'\n")


@pytest.fixture
def plain_aws(home, tmp_path, monkeypatch):
    """In-process runs of the CLI: no output default, profile or config file from the machine."""
    for name in ("AWS_DEFAULT_OUTPUT", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return tmp_path


def run_main(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_and_usage_errors(plain_aws, capsys):
    code, out, _ = run_main(capsys, "--version")
    name, python, system, botocore_version = out.split()
    assert code == 0
    assert name.startswith("automl/") and python.startswith("Python/3.") and "/" in system
    assert botocore_version.startswith("botocore/1.")
    code, _, err = run_main(capsys, "list-auto-ml-jobs", "--output", "xml")
    assert code == 252 and "--output: must be one of json, text, table, yaml; got 'xml'" in err
    code, _, err = run_main(capsys, "list-auto-ml-jobs", "--query", "AutoMLJobSummaries[")
    assert code == 252 and "--query: is not a valid JMESPath expression" in err
    code, _, err = run_main(capsys, "--endpoint-url", "http://127.0.0.1:9", "run", "data.csv", "--target", "y")
    assert code == 252 and "--endpoint-url: is an option of the aws sagemaker operations only; 'run'" in err
    code, _, err = run_main(capsys, "list-auto-ml-jobs", "--no-paginate", "--max-items", "2")
    assert code == 252 and "--max-items: cannot be given with --no-paginate" in err


def test_the_output_default_comes_from_the_environment_or_the_profile(plain_aws, capsys, monkeypatch):
    config = plain_aws / "config"
    config.write_text("[default]\noutput = text\n[profile tidy]\noutput = yaml\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert run_main(capsys, "--profile", "tidy", "list-auto-ml-jobs") == (0, "AutoMLJobSummaries: []\n", "")
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "json")  # the environment wins over the profile
    assert run_main(capsys, "list-auto-ml-jobs", "--profile", "tidy")[1] == '{\n    "AutoMLJobSummaries": []\n}\n'
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "xml")
    code, _, err = run_main(capsys, "list-auto-ml-jobs")
    assert code == 252 and "AWS_DEFAULT_OUTPUT: must be one of json, text, table, yaml; got 'xml'" in err
    code, _, err = run_main(capsys, "list-auto-ml-jobs", "--output", "json", "--profile", "nope",
                            "--endpoint-url", "http://127.0.0.1:9")
    assert code == 252 and "--profile: The config profile (nope) could not be found" in err


AWKWARD = [  # shapes no SageMaker answer of ours has, where the aws CLI's layout rules show
    {"Wide": [{f"Key{i}": "value " * 3 for i in range(9)}], "Wider": {"A": "x" * 90, "B": 1}},
    {"Items": [{"Name": "日本語の名前", "Nested": {"X": 1.5, "Y": [1, 2]}}, {"Name": "é", "Extra": True}],
     "Lists": [[1, 2], [3, 4]], "Empty": [], "None": None, "One": {"Only": "v"}},
    {"Rows": [["a", "b"], ["c", "d"]], "Tags": ["x", "y"], "Zero": 0},
]


@pytest.mark.parametrize("output", ["json", "text", "table"])
@pytest.mark.parametrize("width", [80, 200])
def test_awkward_shapes_as_the_aws_cli_formats_them(output, width):
    from awscli.formatter import get_formatter

    for value in AWKWARD:
        formatter = get_formatter(output, argparse.Namespace(query=None, color="off"))
        if output == "table":
            formatter.table._terminal_width = width
        stream = io.StringIO()
        formatter("Title", json.loads(json.dumps(value)), stream)
        assert render(value, output, None, title="Title", width=width) == stream.getvalue()
