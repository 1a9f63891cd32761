"""Model files load only with a record this installation signed that still matches their bytes."""
import hashlib
import json
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import automl
from automl import integrity
from automl.artifacts import copy_model, dump_model, load_model, public_uri
from automl.errors import ValidationException
from tests.conftest import BREAST_CANCER, only, request

MODEL = {"weights": [0.25, 0.5, 0.25], "classes": ["benign", "malignant"]}


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_dump_then_load_round_trips_with_the_real_digest(home, tmp_path):
    path = tmp_path / "m" / "model.joblib"
    dump_model(str(path), MODEL)
    assert load_model(str(path)) == MODEL
    record = json.loads((tmp_path / "m" / "model.joblib.sha256").read_text())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    key = (home / "model-signing.key").read_bytes()
    assert len(key) == 32 and stat.S_IMODE((home / "model-signing.key").stat().st_mode) == 0o600
    assert integrity.signing_key() == key, "made once, then read"


def test_concurrent_first_uses_agree_on_one_key(home):
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: integrity.signing_key(), range(16)))
    assert keys == {(home / "model-signing.key").read_bytes()}
    assert [p.name for p in home.iterdir()] == ["model-signing.key"], "no temporary key file remains"


def test_a_changed_byte_is_refused_with_both_digests(home, tmp_path):
    path = tmp_path / "model.joblib"
    dump_model(str(path), MODEL)
    recorded = hashlib.sha256(path.read_bytes()).hexdigest()
    flip_a_byte(path)
    now = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValidationException) as caught:
        load_model(str(path))
    assert caught.value.message == (f"{public_uri(str(path))}: not loaded: changed since it was written "
                                    f"(recorded sha256 {recorded}, now {now})")


def test_a_missing_record_is_foreign(home, tmp_path):
    path = tmp_path / "model.joblib"
    dump_model(str(path), MODEL)
    (tmp_path / "model.joblib.sha256").unlink()
    with pytest.raises(ValidationException) as caught:
        load_model(str(path))
    uri = public_uri(str(path))
    assert caught.value.message == (
        f"{uri}: not loaded: foreign: no integrity record written by this engine ({uri}.sha256 is missing); a "
        f"model must be written by a job of this installation; one from another installation loads once that "
        f"installation's model-signing.key is copied to {home / 'model-signing.key'}")


def test_another_installations_model_loads_once_its_key_is_copied(home, tmp_path, monkeypatch):
    other = tmp_path / "other-home"
    monkeypatch.setenv("AUTOML_HOME", str(other))
    dump_model(str(tmp_path / "shipped" / "model.joblib"), MODEL)
    monkeypatch.setenv("AUTOML_HOME", str(home))
    dump_model(str(tmp_path / "own.joblib"), MODEL)  # this installation's key exists, and differs
    shutil.copytree(tmp_path / "shipped", tmp_path / "here")
    with pytest.raises(ValidationException, match=r"here/model\.joblib: not loaded: foreign: its integrity record "
                                                  r".*here/model\.joblib\.sha256 is not signed by this installation's "
                                                  r"key \(signed by another installation's key, or edited\)"):
        load_model(str(tmp_path / "here" / "model.joblib"))
    shutil.copy(other / "model-signing.key", home / "model-signing.key")
    assert load_model(str(tmp_path / "here" / "model.joblib")) == MODEL


def test_an_edited_record_is_foreign(home, tmp_path):
    """Rewriting the digest to the changed file's does not help without the key."""
    path = tmp_path / "model.joblib"
    dump_model(str(path), MODEL)
    flip_a_byte(path)
    sidecar = tmp_path / "model.joblib.sha256"
    record = json.loads(sidecar.read_text()) | {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    sidecar.write_text(json.dumps(record))
    with pytest.raises(ValidationException, match="not loaded: foreign: its integrity record"):
        load_model(str(path))
    sidecar.write_text("not json")
    with pytest.raises(ValidationException, match="not loaded: foreign: its integrity record"):
        load_model(str(path))


def test_copy_model_verifies_its_source_and_signs_the_copy(home, tmp_path):
    dump_model(str(tmp_path / "a.joblib"), MODEL)
    copy_model(str(tmp_path / "a.joblib"), str(tmp_path / "b" / "model.joblib"))
    assert load_model(str(tmp_path / "b" / "model.joblib")) == MODEL
    flip_a_byte(tmp_path / "a.joblib")
    with pytest.raises(ValidationException, match=r"a\.joblib: not loaded: changed since it was written"):
        copy_model(str(tmp_path / "a.joblib"), str(tmp_path / "c.joblib"))
    assert not (tmp_path / "c.joblib").exists()


JOB = "signed"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """One small real job (lightgbm, linear-learner and their weighted ensemble) in its own AUTOML_HOME."""
    root = tmp_path_factory.mktemp("integrity")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        sm = automl.client()
        sm.create_auto_ml_job(**request(BREAST_CANCER, name=JOB, output=root / "out", AutoMLJobConfig=only(
            "lightgbm", "linear-learner") | {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 30}}))
        final = sm.wait(JOB, timeout=120)
        assert final["AutoMLJobStatus"] == "Completed"
        yield {"sm": sm, "out": root / "out" / JOB, "best": final["BestCandidate"]["CandidateName"],
               "X": pd.read_csv(BREAST_CANCER).drop(columns=["diagnosis"]).head(20)}


def test_every_model_file_of_a_job_has_its_record(job):
    models = [*job["out"].glob("candidates/*/*.joblib"), job["out"] / "best_candidate" / "model.joblib"]
    assert len(models) >= 3
    for path in models:
        record = json.loads(path.with_name(path.name + ".sha256").read_text())
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), path


def test_a_tampered_best_candidate_copy_is_refused(job):
    copy = job["out"] / "best_candidate" / "model.joblib"
    flip_a_byte(copy)
    with pytest.raises(ValidationException, match=f"^[^:]*: {public_uri(str(copy))}: not loaded: changed since it was"):
        automl.load_model(job["out"])
    # the candidate's own file is untouched: by name, and through the store, it still predicts
    expected = job["sm"].predict(JOB, job["X"])["predicted_label"]
    got = automl.load_model(job["out"], candidate=job["best"]).predict(job["X"])
    assert list(got) == list(expected) and len(got) == 20


def test_a_tampered_member_is_refused_by_predict_and_by_its_ensemble(job):
    member = f"{JOB}-linear-learner-L1"
    path = job["out"] / "candidates" / member / "model.joblib"
    flip_a_byte(path)
    message = f"^[^:]*: {public_uri(str(path))}: not loaded: changed since it was written"
    with pytest.raises(ValidationException, match=message):
        job["sm"].predict(JOB, job["X"], candidate=member)
    with pytest.raises(ValidationException, match=message):
        automl.predict(JOB, job["X"], candidate=member)
    with pytest.raises(ValidationException, match=message):
        automl.load_model(job["out"], candidate=f"{JOB}-WeightedEnsemble-L2").predict(job["X"])
    assert len(job["sm"].predict(JOB, job["X"], candidate=f"{JOB}-lightgbm-L1")) == 20
