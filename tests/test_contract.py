"""The botocore shape check: every error names the field path, the rule and the value."""
import pytest

from automl.contract import validate_request
from automl.errors import ValidationException
from tests.conftest import request


def error_of(body) -> str:
    with pytest.raises(ValidationException) as info:
        validate_request("CreateAutoMLJob", body)
    return info.value.message


def test_valid_request_passes():
    validate_request("CreateAutoMLJob", request("s3://bucket/train.csv", output="s3://bucket/out"))


def test_job_name_pattern_and_length():
    assert error_of(request("/d.csv", name="bad_name")).startswith("AutoMLJobName: must match the pattern")
    assert error_of(request("/d.csv", name="a" * 33)) == "AutoMLJobName: must have at most 32 characters; got 33"


def test_required_member_named_with_its_path():
    body = request("/d.csv")
    del body["InputDataConfig"][0]["TargetAttributeName"]
    assert error_of(body) == "InputDataConfig[0].TargetAttributeName: is required"
    del body["RoleArn"]
    assert error_of(body) == "2 problems:\nRoleArn: is required\nInputDataConfig[0].TargetAttributeName: is required"


def test_enum_and_unknown_member():
    body = request("/d.csv")
    body["InputDataConfig"][0]["ChannelType"] = "test"
    assert error_of(body) == ("InputDataConfig[0].ChannelType: must be one of training, validation; got 'test'")
    body = request("/d.csv", ProblemType="Classification")
    assert error_of(body).startswith("ProblemType: must be one of BinaryClassification")
    body = request("/d.csv")
    body["InputDataConfig"][0]["Target"] = "x"
    assert error_of(body).startswith("InputDataConfig[0].Target: is not a member of AutoMLChannel")


def test_ranges_lengths_and_types():
    body = request("/d.csv", AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": 751}})
    assert error_of(body) == "AutoMLJobConfig.CompletionCriteria.MaxCandidates: must be at most 750; got 751"
    body = request("/d.csv", AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": "5"}})
    assert error_of(body) == "AutoMLJobConfig.CompletionCriteria.MaxCandidates: must be an integer; got '5'"
    body = request("/d.csv")
    body["InputDataConfig"] *= 3
    assert error_of(body) == "InputDataConfig: must have at most 2 items; got 3"
    body = request("/d.csv", AutoMLJobConfig={"CandidateGenerationConfig": {"AlgorithmsConfig": [
        {"AutoMLAlgorithms": ["xgboost"]}, {"AutoMLAlgorithms": ["lightgbm"]}]}})
    assert error_of(body) == ("AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig: must have at most 1 "
                              "item; got 2")


def test_role_arn_pattern():
    body = request("/d.csv")
    body["RoleArn"] = "arn:aws:iam::123:role/my-role"
    assert error_of(body).startswith("RoleArn: must match the pattern")


def test_locations_accept_local_paths_and_file_uris_but_not_blank():
    validate_request("CreateAutoMLJob", request("file:///data/train.csv", output="./out"))
    body = request("/d.csv", output=" ")
    assert error_of(body).startswith("OutputDataConfig.S3OutputPath: must be an s3://")
