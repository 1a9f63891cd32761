"""The `automl` command: aws-style flags (shorthand, JSON, file://, --cli-input-json, skeleton), run, wait,
predict; errors printed as the AWS CLI prints them."""
import json

import pandas as pd
import pytest

from automl.cli import main
from automl.shorthand import parse_shorthand
from tests.conftest import ROLE


def run_cli(capsys, *argv):
    code = main(list(map(str, argv)))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_shorthand_syntax():
    assert parse_shorthand("DataSource={S3DataSource={S3DataType=S3Prefix,S3Uri=s3://b/k}},TargetAttributeName=y,"
                           "ContentType=text/csv;header=present", "--input-data-config") == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}},
        "TargetAttributeName": "y", "ContentType": "text/csv;header=present"}
    assert parse_shorthand("AutoMLAlgorithms=[xgboost,lightgbm]", "x") == {"AutoMLAlgorithms": ["xgboost", "lightgbm"]}
    from automl.errors import ValidationException
    with pytest.raises(ValidationException, match=r"--x: is not valid shorthand \(missing '}'"):
        parse_shorthand("A={B=1", "--x")


def test_create_with_shorthand_flags_then_describe_and_list(capsys, home, tmp_path, breast_cancer):
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    code, out, _ = run_cli(
        capsys, "create-auto-ml-job", "--auto-ml-job-name", "cli-job",
        "--input-data-config", f"DataSource={{S3DataSource={{S3DataType=S3Prefix,S3Uri={data}}}}},"
                               "TargetAttributeName=diagnosis",
        "--output-data-config", f"S3OutputPath={tmp_path / 'out'}", "--role-arn", ROLE,
        "--problem-type", "BinaryClassification", "--auto-ml-job-objective", "MetricName=AUC",
        "--auto-ml-job-config", '{"Mode": "ENSEMBLING", "CompletionCriteria": {"MaxCandidates": 2}}',
        "--tags", "Key=team,Value=ml", "Key=env,Value=dev")
    assert code == 0, out
    assert json.loads(out) == {"AutoMLJobArn": "arn:aws:sagemaker:local:000000000000:automl-job/cli-job"}
    code, out, err = run_cli(capsys, "wait", "cli-job", "--timeout", "120")
    assert code == 0 and "Completed/MaxCandidatesReached" in err and "cli-job: Completed" in out
    code, out, _ = run_cli(capsys, "describe-auto-ml-job", "--auto-ml-job-name", "cli-job")
    described = json.loads(out)
    assert described["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert described["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "AUC"
    code, out, _ = run_cli(capsys, "list-candidates-for-auto-ml-job", "--auto-ml-job-name", "cli-job",
                           "--sort-by", "FinalObjectiveMetricValue", "--sort-order", "Descending", "--max-results", "1")
    listed = json.loads(out)
    assert len(listed["Candidates"]) == 1 and "NextToken" in listed
    assert listed["Candidates"][0]["CandidateName"] == described["BestCandidate"]["CandidateName"]


def test_cli_input_json_and_errors(capsys, home, tmp_path, breast_cancer):
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    body = {"AutoMLJobName": "from-json", "InputDataConfig": [{"DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": str(data)}}, "TargetAttributeName": "nope"}],
        "OutputDataConfig": {"S3OutputPath": str(tmp_path / "out")}, "RoleArn": ROLE}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    code, _, err = run_cli(capsys, "create-auto-ml-job", "--cli-input-json", f"file://{path}")
    assert code == 254
    assert err.startswith("An error occurred (ValidationException) when calling the CreateAutoMLJob operation: "
                          "InputDataConfig[0].TargetAttributeName: is not a column of the training data")
    code, _, err = run_cli(capsys, "describe-auto-ml-job", "--auto-ml-job-name", "ghost")
    assert code == 254 and "(ResourceNotFound)" in err and "no job named 'ghost'" in err
    code, _, err = run_cli(capsys, "create-auto-ml-job", "--cli-input-json", f"file://{path}",
                           "--auto-ml-job-config", "CompletionCriteria={MaxCandidates=many}")
    assert code == 254 and "AutoMLJobConfig.CompletionCriteria.MaxCandidates: must be a number" in err


def test_generate_cli_skeleton(capsys):
    code, out, _ = run_cli(capsys, "create-auto-ml-job", "--generate-cli-skeleton")
    skeleton = json.loads(out)
    assert code == 0 and skeleton["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] == 0
    assert skeleton["InputDataConfig"][0]["DataSource"]["S3DataSource"] == {"S3DataType": "", "S3Uri": ""}
    code, out, _ = run_cli(capsys, "describe-auto-ml-job", "--generate-cli-skeleton", "output")
    assert "BestCandidate" in json.loads(out)


def test_run_short_form_and_predict(capsys, home, tmp_path, breast_cancer):
    data = tmp_path / "d.csv"
    breast_cancer.to_csv(data, index=False)
    code, out, err = run_cli(capsys, "run", data, "--target", "diagnosis", "--name", "quick", "--output",
                             tmp_path / "out", "--objective", "Accuracy", "--max-runtime", "25", "--mode", "ENSEMBLING")
    assert code == 0, err
    assert "candidates " in err and "quick-" in out and "quick: Completed (MaxAutoMLJobRuntimeReached)" in out
    board = pd.read_csv(tmp_path / "out" / "quick" / "leaderboard.csv")
    assert (board["objective_metric"] == "Accuracy").all() and (board["status"] == "Completed").sum() >= 3
    predictions = tmp_path / "pred.csv"
    code, _, _ = run_cli(capsys, "predict", "--job", "quick", "--input", data, "--output", predictions)
    frame = pd.read_csv(predictions)
    assert code == 0 and len(frame) == len(breast_cancer)
    accuracy = (frame["predicted_label"] == breast_cancer["diagnosis"]).mean()
    assert accuracy > 0.95
    assert json.loads(frame["labels"].iloc[0]) == ["benign", "malignant"]
