"""Every channel kind: file, Gzip, Parquet, folder, key prefix, ManifestFile, file://, and s3:// on a local
S3-compatible server; plus column-type inference."""
import gzip
import json

import pandas as pd
import pytest

from automl.channels import CSV, PARQUET, ChannelSource, list_objects, read_frame, read_header
from automl.columns import ColumnKind, infer_kind
from automl.errors import ValidationException


def source(uri, data_type="S3Prefix", compression="None", content_type=CSV):
    return ChannelSource(str(uri), data_type, compression, content_type, "InputDataConfig[0]")


@pytest.fixture
def parts(tmp_path, breast_cancer):
    """The dataset cut in three files under a folder, plus a decoy that shares the key prefix."""
    folder = tmp_path / "train"
    folder.mkdir()
    for i, chunk in enumerate((breast_cancer.iloc[:200], breast_cancer.iloc[200:400], breast_cancer.iloc[400:])):
        chunk.to_csv(folder / f"part-{i}.csv", index=False)
    (folder / "_SUCCESS").write_text("")
    return folder


def test_single_csv_and_header(tmp_path, breast_cancer):
    path = tmp_path / "d.csv"
    breast_cancer.to_csv(path, index=False)
    frame = read_frame(source(path))
    assert frame.shape == breast_cancer.shape
    assert read_header(source(path)) == list(breast_cancer.columns)
    assert read_frame(source(f"file://{path}")).shape == breast_cancer.shape


def test_csv_is_read_in_blocks_and_a_type_change_further_down_falls_back_to_text(tmp_path, breast_cancer,
                                                                                 monkeypatch):
    from automl import channels

    monkeypatch.setattr(channels, "CSV_BLOCK_BYTES", 4096)  # ~20 rows per block
    frame = breast_cancer.assign(code=[str(i) for i in range(len(breast_cancer))])
    frame.loc[len(frame) - 1, "code"] = "x-17"
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    read = read_frame(source(path))
    assert read.shape == frame.shape and read["code"].iloc[-1] == "x-17" and read["code"].iloc[3] == "3"
    assert read_frame(source(tmp_path / "d.csv.gz"))["mean_radius"].astype(float).tolist() == pytest.approx(
        breast_cancer["mean_radius"].tolist())


def test_gzip_declared_and_detected(tmp_path, breast_cancer):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(breast_cancer.to_csv(index=False).encode()))
    assert read_frame(source(path, compression="Gzip")).shape == breast_cancer.shape
    assert read_frame(source(path)).shape == breast_cancer.shape
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ValidationException, match=r"S3Uri: file .*bad.gz is not valid Gzip"):
        read_frame(source(bad, compression="Gzip"))


def test_parquet(tmp_path, breast_cancer):
    path = tmp_path / "d.parquet"
    breast_cancer.to_parquet(path)
    frame = read_frame(source(path, content_type=PARQUET))
    pd.testing.assert_frame_equal(frame, breast_cancer)
    assert read_header(source(path, content_type=PARQUET)) == list(breast_cancer.columns)


def test_folder_reads_every_file_in_key_order(parts, breast_cancer):
    objects = list_objects(source(parts))
    assert [o.uri.rsplit("/", 1)[1] for o in objects] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    frame = read_frame(source(parts))
    pd.testing.assert_frame_equal(frame, breast_cancer)


def test_key_prefix_matches_names_starting_with_it(parts, breast_cancer):
    frame = read_frame(source(str(parts / "part-")))
    assert len(frame) == len(breast_cancer)
    assert len(read_frame(source(str(parts / "part-1")))) == 200


def test_files_of_a_channel_must_share_a_header(parts, breast_cancer):
    breast_cancer.iloc[:5].drop(columns=["mean_area"]).to_csv(parts / "part-3.csv", index=False)
    with pytest.raises(ValidationException, match="every file of a channel must share one header"):
        read_frame(source(parts))


def test_manifest_file(parts, tmp_path, breast_cancer):
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": str(parts) + "/"}, "part-2.csv", "part-0.csv"]))
    frame = read_frame(source(manifest, data_type="ManifestFile"))
    assert len(frame) == len(breast_cancer) - 200
    assert frame.iloc[0].equals(breast_cancer.iloc[400])
    manifest.write_text(json.dumps(["part-0.csv"]))
    with pytest.raises(ValidationException, match=r'a manifest must be \[\{"prefix"'):
        read_frame(source(manifest, data_type="ManifestFile"))


def test_s3_prefix_object_and_gzip(s3, breast_cancer):
    body = breast_cancer.to_csv(index=False).encode()
    s3.put_object(Bucket="data", Key="train/part-0.csv", Body=body[: body.index(b"\n", 60000) + 1])
    rest = body[body.index(b"\n", 60000) + 1:]
    s3.put_object(Bucket="data", Key="train/part-1.csv.gz", Body=gzip.compress(body.split(b"\n", 1)[0] + b"\n" + rest))
    frame = read_frame(source("s3://data/train/"))
    assert len(frame) == len(breast_cancer)
    assert read_header(source("s3://data/train/part-0.csv")) == list(breast_cancer.columns)
    assert [o.uri for o in list_objects(source("s3://data/train/part"))] == [
        "s3://data/train/part-0.csv", "s3://data/train/part-1.csv.gz"]


def test_column_kind_inference():
    n = 400
    frame = pd.DataFrame({
        "age": range(n),
        "numeric_text": [str(i * 1.5) for i in range(n)],
        "city": ["Paris", "Lyon", "Nice", "Lille"] * (n // 4),
        "flag": [True, False] * (n // 2),
        "review": [f"the food was great and item {i} arrived quickly {i % 7}" for i in range(n)],
        "when": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
    })
    assert {c: infer_kind(frame[c]) for c in frame} == {
        "age": ColumnKind.NUMERIC, "numeric_text": ColumnKind.NUMERIC, "city": ColumnKind.CATEGORICAL,
        "flag": ColumnKind.CATEGORICAL, "review": ColumnKind.TEXT, "when": ColumnKind.DATETIME}
