"""The inference codec: request bodies parse to the frame `predict` scores, value for value, and answers render
in Autopilot's keys; a bad record is refused by row and column, never scored as missing."""
import csv
import io
import json

import pandas as pd
import pytest

import automl
from automl.errors import ValidationException
from automl.estimator import job_model
from automl.inference import RecordError, output_keys, parse_body, render
from automl.problem import ProblemType
from tests.conftest import BREAST_CANCER, only, request

FAST = only("linear-learner") | {"CompletionCriteria": {"MaxCandidates": 1, "MaxAutoMLJobRuntimeInSeconds": 60}}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """A binary job on breast cancer and a regression job (mean_area) with two categorical columns."""
    root = tmp_path_factory.mktemp("inference")
    frame = pd.read_csv(BREAST_CANCER)
    frame["site"] = (["north", "south", "east"] * 190)[:len(frame)]
    regression = root / "regression.csv"
    frame.to_csv(regression, index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        sm = automl.client()
        sm.create_auto_ml_job(**request(BREAST_CANCER, name="codec-b", output=root / "out", AutoMLJobConfig=FAST))
        sm.create_auto_ml_job(**request(regression, target="mean_area", name="codec-r", output=root / "out",
                                        ProblemType="Regression", AutoMLJobObjective={"MetricName": "MSE"},
                                        AutoMLJobConfig=FAST))
        for name in ("codec-b", "codec-r"):
            assert sm.wait(name, timeout=120)["AutoMLJobStatus"] == "Completed"
        yield {name: {"model": job_model(sm.store, name), "data": data, "expected": sm.predict(name, data)}
               for name, data in (("codec-b", BREAST_CANCER), ("codec-r", regression))}


def _parse(job, body, content_type):
    model = job["model"]
    return parse_body(body, content_type, list(model.feature_names_in_), model.model.kinds)


@pytest.mark.parametrize("name", ["codec-b", "codec-r"])
def test_every_request_format_scores_as_predict_does(jobs, name):
    job = jobs[name]
    features = list(job["model"].feature_names_in_)
    frame = pd.read_csv(job["data"])
    records = frame[features].to_dict(orient="records")
    shuffled = frame[list(reversed(frame.columns))]  # a header in another order, the target among its columns
    bodies = [
        (frame[features].to_csv(index=False, header=False), "text/csv"),
        (shuffled.to_csv(index=False), "text/csv; header=present; charset=utf-8"),
        (json.dumps({"instances": [list(r.values()) for r in records]}), "application/json"),
        (json.dumps([{"features": list(r.values())} for r in records]), "application/json"),
        (json.dumps({"instances": records}), "application/json"),
        ("\n".join(json.dumps({"data": r}) for r in records), "application/jsonlines"),
        ("\n".join(json.dumps(r) for r in records) + "\n\n", "application/x-jsonlines"),
    ]
    for body, content_type in bodies:
        answer = job["model"].infer(_parse(job, body.encode(), content_type))
        pd.testing.assert_frame_equal(answer, job["expected"], check_exact=True)


def test_empty_cells_are_missing_and_kinds_are_applied(jobs):
    job = jobs["codec-r"]
    features = list(job["model"].feature_names_in_)
    row = pd.read_csv(job["data"])[features].iloc[[0]]
    body = row.to_csv(index=False, header=False).replace("north", "").encode()
    parsed = _parse(job, body, "text/csv")
    assert parsed["site"].isna().all() and parsed["diagnosis"].tolist() == ["malignant"]
    assert parsed["mean_radius"].tolist() == [17.99] and parsed["mean_radius"].dtype == "float64"


def test_bad_records_are_refused_by_row(jobs):
    job = jobs["codec-b"]
    lines = pd.read_csv(BREAST_CANCER).drop(columns="diagnosis").head(3).to_csv(index=False, header=False).splitlines()
    short = "\n".join([lines[0], lines[1], lines[2].rsplit(",", 1)[0]]).encode()
    long = "\n".join([lines[0], lines[1] + ",9", lines[2]]).encode()
    text = "\n".join([lines[0], "\n", "abc" + lines[1], lines[2]]).encode()  # the blank line is not a record
    cases = [
        (short, "text/csv", "row 3: must have 30 fields, as the model's features; got 29"),
        (long, "text/csv", "row 2: must have 30 fields, as the model's features; got 31"),
        (text, "text/csv", "row 2: mean_radius must be a number; got 'abc20.57'"),
        (b'{"instances": [[1, 2]]}', "application/json", "row 1: must have 30 values, one per feature; got 2"),
        (b'{"instances": [{"mean_radius": 1}]}', "application/json", "row 1: lacks features (send null for a "
                                                                      "missing value): mean_texture"),
        (b'[{"features": [true' + b", 1" * 29 + b"]}]", "application/json",
         "row 1: mean_radius must be a number; got 'True'"),
        (b'[1, 2]\n{"a": ', "application/jsonlines", "row 2: is not valid JSON"),
    ]
    for body, content_type, message in cases:
        with pytest.raises(RecordError) as caught:
            _parse(job, body, content_type)
        assert caught.value.message.startswith(message), caught.value


def test_bodies_and_types_that_are_not_requests(jobs):
    job = jobs["codec-b"]
    header = ",".join(job["model"].feature_names_in_).encode()
    cases = [
        (b"", "text/csv", "Body: must hold at least one record; got an empty body"),
        (header + b"\n", "text/csv", "Body: must hold at least one record; got a header only"),
        (b"1,2", "text/plain", "ContentType: must be one of text/csv, application/json, application/jsonlines, "
                               "application/x-jsonlines; got 'text/plain'"),
        (b'{"rows": []}', "application/json", 'Body: must be {"instances": [...]} or a list of instances; '
                                              "got 'dict'"),
        (b"{", "application/json", "Body: is not valid JSON"),
    ]
    for body, content_type, message in cases:
        with pytest.raises(ValidationException) as caught:
            _parse(job, body, content_type)
        assert caught.value.message.startswith(message), caught.value


def test_output_keys_follow_sagemaker_inference_output():
    assert output_keys(ProblemType.BINARY, None) == ["predicted_label"]
    assert output_keys(ProblemType.MULTICLASS, "") == ["predicted_label"]
    assert output_keys(ProblemType.BINARY, "probability, labels") == ["probability", "labels"]
    assert output_keys(ProblemType.REGRESSION, "predicted_label") == ["predicted_label"]
    with pytest.raises(ValidationException, match="SAGEMAKER_INFERENCE_OUTPUT: .* a Regression model supports: "
                                                  "predicted_label; got 'predicted_label,probability'"):
        output_keys(ProblemType.REGRESSION, "predicted_label,probability")
    with pytest.raises(ValidationException, match="predicted_label,probability,probabilities,labels; got 'score'"):
        output_keys(ProblemType.BINARY, "score")


def test_answers_render_in_each_accept_type():
    answer = pd.DataFrame({"predicted_label": ["b", "a"], "probability": [0.75, 0.5],
                           "probabilities": [[0.25, 0.75], [0.5, 0.5]], "labels": [["a", "b"], ["a", "b"]]})
    keys = ["predicted_label", "probability", "probabilities", "labels"]
    body, content_type = render(answer, keys, None)
    assert content_type == "text/csv"
    assert body == b'b,0.75,"[0.25, 0.75]","[""a"", ""b""]"\na,0.5,"[0.5, 0.5]","[""a"", ""b""]"\n'
    assert [[json.loads(v) if v.startswith("[") else v for v in row] for row in csv.reader(io.StringIO(
        body.decode()))] == [["b", "0.75", [0.25, 0.75], ["a", "b"]], ["a", "0.5", [0.5, 0.5], ["a", "b"]]]
    assert render(answer, keys, "*/*") == (body, "text/csv")
    assert render(answer, ["probability"], "text/html, text/csv;q=0.9")[0] == b"0.75\n0.5\n"
    body, content_type = render(answer, ["predicted_label", "probability"], "application/json")
    assert content_type == "application/json" and json.loads(body) == {"predictions": [
        {"predicted_label": "b", "probability": 0.75}, {"predicted_label": "a", "probability": 0.5}]}
    body, content_type = render(answer, ["labels"], "application/jsonlines")
    assert content_type == "application/jsonlines" and body == b'{"labels": ["a", "b"]}\n' * 2
    with pytest.raises(ValidationException, match="Accept: must be one of .* or \\*/\\*; got 'text/html'"):
        render(answer, keys, "text/html")


def test_the_answer_of_a_real_model_converts_numpy_values(jobs):
    expected = jobs["codec-b"]["expected"].head(2)
    body, _ = render(expected, ["predicted_label", "probability", "probabilities"], "application/json")
    predictions = json.loads(body)["predictions"]
    assert [p["predicted_label"] for p in predictions] == expected["predicted_label"].tolist()
    assert [p["probability"] for p in predictions] == expected["probability"].tolist()
    assert [p["probabilities"] for p in predictions] == expected["probabilities"].tolist()
