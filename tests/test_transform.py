"""Batch transform: one `.out` per input file, one answer line per record, the same answers as predict, whatever
the chunking; a bad record names its file and line and leaves no output behind."""
import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
import automl.transform
from automl.cli import main
from automl.errors import ValidationException
from automl.forecast_plan import ForecastPlan
from automl.transform import transform
from tests.conftest import BREAST_CANCER, only, request

JOB = "tr"
KEYS = "predicted_label,probability,probabilities"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("transform")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        sm = automl.client()
        sm.create_auto_ml_job(**request(BREAST_CANCER, name=JOB, output=root / "out", AutoMLJobConfig=only(
            "linear-learner") | {"CompletionCriteria": {"MaxCandidates": 1, "MaxAutoMLJobRuntimeInSeconds": 60}}))
        assert sm.wait(JOB, timeout=120)["AutoMLJobStatus"] == "Completed"
        frame = pd.read_csv(BREAST_CANCER)
        yield {"sm": sm, "home": root / "home", "frame": frame, "expected": sm.predict(JOB, frame)}


@pytest.fixture
def inputs(tmp_path, job):
    """A folder: a CSV with its header (target included), a headerless one in a subfolder, a gzipped one, and
    files a transform skips (hidden, an earlier output)."""
    frame, folder = job["frame"], tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    frame.iloc[:300].to_csv(folder / "a.csv", index=False)
    frame.iloc[300:500].drop(columns="diagnosis").to_csv(folder / "sub" / "b.csv", index=False, header=False)
    with gzip.open(folder / "c.csv.gz", "wt") as handle:
        frame.iloc[500:].to_csv(handle, index=False)
    (folder / ".hidden.csv").write_text("not,data\n")
    (folder / "old.csv.out").write_text("stale\n")
    return folder


def _answers(path) -> pd.DataFrame:
    rows = list(csv.reader(path.read_text().splitlines()))
    return pd.DataFrame({"predicted_label": [r[0] for r in rows], "probability": [float(r[1]) for r in rows],
                         "probabilities": [json.loads(r[2]) for r in rows]})


def test_a_folder_gives_one_out_file_per_input_with_predicts_answers(job, inputs, tmp_path):
    out = tmp_path / "out"
    result = transform(job["sm"].store, JOB, str(inputs), str(out), keys=KEYS)
    names = ["a.csv.out", "c.csv.gz.out", "sub/b.csv.out"]
    assert (result.files, result.records) == (3, 569) and result.seconds > 0
    assert result.outputs == tuple(str(out / n) for n in names)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.csv.out", "c.csv.gz.out", "sub",
                                                                       "sub/b.csv.out"]
    expected = job["expected"][["predicted_label", "probability", "probabilities"]]
    for name, rows in zip(names, [slice(0, 300), slice(500, 569), slice(300, 500)], strict=True):
        pd.testing.assert_frame_equal(_answers(out / name), expected.iloc[rows].reset_index(drop=True),
                                      check_exact=True)


def test_small_chunks_give_the_same_answers(job, inputs, tmp_path):
    """Labels byte for byte; probabilities to float32's precision: the model's own arithmetic (float32, vectorised)
    rounds its last bits differently for a batch of 7 rows than for 300, whoever splits the batches."""
    store, seen = job["sm"].store, []
    for keys in ("predicted_label", KEYS):
        whole = transform(store, JOB, str(inputs), str(tmp_path / "whole"), keys=keys)
        chunked = transform(store, JOB, f"file://{inputs}", str(tmp_path / "chunked"), keys=keys, chunk_rows=7,
                            progress=lambda *event: seen.append(event))
        for a, b in zip(whole.outputs, chunked.outputs, strict=True):
            if keys == "predicted_label":
                assert Path(a).read_bytes() == Path(b).read_bytes()
            else:
                left, right = _answers(Path(a)), _answers(Path(b))
                assert left["predicted_label"].tolist() == right["predicted_label"].tolist()
                np.testing.assert_allclose(np.vstack(left["probabilities"]), np.vstack(right["probabilities"]),
                                           rtol=1e-6, atol=1e-7)
    a_csv = [e for e in seen if e[0].endswith("a.csv")][:44]
    assert [e[1] for e in a_csv] == [*range(7, 300, 7), 300, 300] and a_csv[-1][3] is True


def test_json_lines_in_and_out(job, tmp_path):
    features = [c for c in job["frame"].columns if c != "diagnosis"]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in job["frame"][features].head(40).to_dict("records")))
    result = transform(job["sm"].store, JOB, str(source), str(tmp_path / "out"),
                       content_type="application/jsonlines", accept="application/jsonlines", keys="predicted_label")
    lines = [json.loads(line) for line in Path(result.outputs[0]).read_text().splitlines()]
    assert lines == [{"predicted_label": v} for v in job["expected"]["predicted_label"].head(40)]


def test_a_bad_row_names_its_file_and_line_and_leaves_no_output(job, inputs, tmp_path):
    text = (inputs / "a.csv").read_text().splitlines()
    text[120] = text[120].replace(",", ",oops,", 1)
    text.insert(50, "")  # a blank line: not a record, but it counts as a line
    (inputs / "a.csv").write_text("\n".join(text) + "\n")
    out = tmp_path / "out"
    with pytest.raises(ValidationException) as caught:
        transform(job["sm"].store, JOB, str(inputs), str(out), chunk_rows=16)
    assert caught.value.message == f"{inputs / 'a.csv'} line 122: must have 31 fields, as the header's; got 32"
    assert list(out.rglob("*")) == []


def test_refusals_before_any_work(job, inputs, tmp_path, monkeypatch):
    store, out = job["sm"].store, str(tmp_path / "out")
    cases = [({"content_type": "application/json"}, "ContentType: must be one of text/csv, application/jsonlines"),
             ({"accept": "application/json"}, "Accept: must be one of text/csv, application/jsonlines"),
             ({"keys": "score"}, "SAGEMAKER_INFERENCE_OUTPUT: must list"),
             ({"chunk_rows": 0}, "chunk_rows: must be at least 1; got 0")]
    for options, message in cases:
        with pytest.raises(ValidationException, match=message):
            transform(store, JOB, str(inputs), out, **options)
    with pytest.raises(ValidationException, match="input: does not exist"):
        transform(store, JOB, str(tmp_path / "nothing"), out)
    monkeypatch.setattr(automl.transform, "load_plan", lambda text: object.__new__(ForecastPlan))
    with pytest.raises(ValidationException, match="AutoMLJobName: is a forecasting job; batch transform scores "
                                                  "tabular jobs only; got 'tr'"):
        transform(store, JOB, str(inputs), out)


def test_cli_transform_end_to_end(job, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUTOML_HOME", str(job["home"]))
    out = tmp_path / "out"
    code = main(["transform", "--job", JOB, "--input", str(inputs), "--output", str(out),
                 "--output-keys", "predicted_label,probability", "--chunk-rows", "100"])
    err = capsys.readouterr().err
    assert code == 0 and "569 records in 3 files" in err and f"{inputs / 'a.csv'}: 300 records" in err
    rows = [line.split(",") for line in (out / "sub" / "b.csv.out").read_text().splitlines()]
    assert [r[0] for r in rows] == job["expected"]["predicted_label"].iloc[300:500].tolist()
    assert [float(r[1]) for r in rows] == job["expected"]["probability"].iloc[300:500].tolist()
    code = main(["transform", "--job", JOB, "--input", str(inputs), "--output", str(out), "--output-keys", "x"])
    assert code == 254 and "SAGEMAKER_INFERENCE_OUTPUT" in capsys.readouterr().err


def test_s3_input_and_output(job, s3, tmp_path):
    """Through fsspec: an object prefix in, `.out` objects out, each committed only when complete."""
    s3.put_object(Bucket="data", Key="in/a.csv", Body=job["frame"].head(30).to_csv(index=False).encode())
    s3.put_object(Bucket="data", Key="in/b.csv", Body=b"1,2,3\n")
    with pytest.raises(ValidationException, match="data/in/b.csv line 1: must have 30 fields"):
        transform(job["sm"].store, JOB, "s3://data/in/", "s3://data/out/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"] if o["Key"].startswith(("in/", "out/"))]
    assert keys == ["in/a.csv", "in/b.csv", "out/a.csv.out"]  # files before the bad one are complete
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="data")
    s3.delete_object(Bucket="data", Key="in/b.csv")
    result = transform(job["sm"].store, JOB, "s3://data/in", "s3://data/out")
    assert result.outputs == ("s3://data/out/a.csv.out",)
    body = s3.get_object(Bucket="data", Key="out/a.csv.out")["Body"].read().decode()
    assert body.splitlines() == job["expected"]["predicted_label"].head(30).tolist()
