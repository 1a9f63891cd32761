"""A saved model is a self-contained package: it loads without the trainer, from a moved output folder, and
behaves as a scikit-learn estimator; the CLI and the client predict with any Completed candidate."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.metrics import get_scorer, roc_auc_score

import automl
from automl.columns import ColumnKind
from automl.errors import ValidationException
from automl.features import Preprocessor
from tests.conftest import BREAST_CANCER, REPO, request

JOB = "pkg"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """One ENSEMBLING job (lightgbm + linear-learner, validation channel: stacks and weighted ensembles) with
    its best candidate's predictions on the validation rows."""
    root = tmp_path_factory.mktemp("package")
    frame = pd.read_csv(BREAST_CANCER)
    train, valid = root / "train.csv", root / "valid.csv"
    frame.iloc[:500].to_csv(train, index=False)
    frame.iloc[500:].to_csv(valid, index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        sm = automl.client()
        body = request(train, name=JOB, output=root / "out", AutoMLJobConfig={
            "Mode": "ENSEMBLING", "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 40},
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm",
                                                                                     "linear-learner"]}]}})
        body["InputDataConfig"].append({"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                        "S3Uri": str(valid)}},
                                        "TargetAttributeName": "diagnosis", "ChannelType": "validation"})
        sm.create_auto_ml_job(**body)
        final = sm.wait(JOB, timeout=120)
        assert final["AutoMLJobStatus"] == "Completed"
        completed = {r.name: r for r in sm.store.candidates(JOB) if r.completed}
        yield {"sm": sm, "root": root, "out": root / "out" / JOB, "valid": valid, "final": final,
               "completed": completed, "X": frame.iloc[500:].drop(columns=["diagnosis"]),
               "y": frame.iloc[500:]["diagnosis"].to_numpy(), "best": sm.predict(JOB, valid)}


BLOCKED = textwrap.dedent("""
    import json, sys

    class NoTrainer:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("runners", "optuna"):
                raise ImportError(f"the trainer is not needed to load a model: {name}")

    sys.meta_path.insert(0, NoTrainer())
    import automl

    answers = [automl.load_model(sys.argv[1], candidate).infer(sys.argv[2]) for candidate in (None, sys.argv[3])]
    print(json.dumps({"labels": [list(a["predicted_label"]) for a in answers],
                      "probabilities": [list(a["probabilities"]) for a in answers],
                      "trainer": [m for m in sys.modules if m.split(".")[0] in ("runners", "optuna")]}))
""")


def test_output_folder_loads_and_predicts_without_the_trainer(job):
    """The best candidate, and a stack over both layers, from the output folder alone."""
    stack = f"{JOB}-lightgbm-L2"
    done = subprocess.run([sys.executable, "-c", BLOCKED, str(job["out"]), str(job["valid"]), stack],
                          capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["trainer"] == []
    for expected, labels, probabilities in zip([job["best"], job["sm"].predict(JOB, job["valid"], candidate=stack)],
                                               answer["labels"], answer["probabilities"], strict=True):
        assert labels == list(expected["predicted_label"])
        np.testing.assert_allclose(probabilities, np.stack(expected["probabilities"]), rtol=0, atol=1e-12)


def test_loaded_model_is_a_scikit_learn_classifier(job):
    model = automl.load_model(JOB)
    assert model.candidate == job["final"]["BestCandidate"]["CandidateName"]
    assert list(model.classes_) == ["benign", "malignant"]
    assert list(model.feature_names_in_) == list(job["X"].columns) and model.n_features_in_ == 30
    proba = model.predict_proba(job["X"])
    assert proba.shape == (len(job["X"]), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.predict(job["X"])) == list(job["best"]["predicted_label"])
    assert list(model.predict(job["X"].to_numpy())) == list(job["best"]["predicted_label"]), "arrays too"
    auc = roc_auc_score(job["y"] == "malignant", proba[:, 1])
    assert get_scorer("roc_auc")(model, job["X"], job["y"]) == pytest.approx(auc)
    importance = permutation_importance(model, job["X"], job["y"], n_repeats=2, random_state=0)
    assert importance.importances_mean.shape == (30,)
    assert model.score(job["X"], job["y"]) > 0.9
    with pytest.raises(ValidationException, match="^[^:]*: fit: is not available"):
        model.fit(job["X"], job["y"])


def test_any_candidate_by_job_folder_or_file(job):
    stack = f"{JOB}-lightgbm-L2"
    assert stack in job["completed"], "the fixture's job stacks"
    by_job = automl.load_model(JOB, candidate=stack).predict_proba(job["X"])
    folder = automl.load_model(job["out"] / "candidates" / stack).predict_proba(job["X"])
    by_output = automl.load_model(str(job["out"]) + "/", candidate=stack).predict_proba(job["X"])
    np.testing.assert_array_equal(by_job, folder)
    np.testing.assert_array_equal(by_job, by_output)
    with pytest.raises(ValidationException, match="^[^:]*: candidate: is not a Completed candidate of job 'pkg'"):
        automl.load_model(JOB, candidate="pkg-nope")
    with pytest.raises(ValidationException, match="^[^:]*: candidate: has no model in"):
        automl.load_model(job["out"], candidate="pkg-nope")
    with pytest.raises(ValidationException, match="^[^:]*: path_or_job: is neither a job"):
        automl.load_model(job["root"] / "nowhere")


def test_cli_predicts_with_a_chosen_candidate(job):
    best = job["final"]["BestCandidate"]["CandidateName"]
    other = next(n for n in job["completed"] if n != best and n.endswith("-linear-learner-L1"))
    predictions = job["root"] / "other.csv"
    env = os.environ | {"PYTHONPATH": str(REPO), "AUTOML_HOME": str(job["root"] / "home")}
    cli = [sys.executable, "-m", "automl.cli", "predict", "--job", JOB, "--input", str(job["valid"])]
    done = subprocess.run([*cli, "--candidate", other, "--output", str(predictions)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(predictions)
    expected = job["sm"].predict(JOB, job["valid"], candidate=other)
    assert list(written["predicted_label"]) == list(expected["predicted_label"])
    np.testing.assert_allclose(written["probability"], expected["probability"])
    done = subprocess.run([*cli, "--candidate", "pkg-ghost"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0 and not predictions.with_name("ghost.csv").exists()
    assert "(ValidationException)" in done.stderr and "candidate: is not a Completed candidate" in done.stderr


def test_moved_output_folder_still_predicts_its_ensembles(job):
    """Last in the module: the job's folder is moved away."""
    names = [f"{JOB}-WeightedEnsemble-L2", f"{JOB}-WeightedEnsemble-L3", f"{JOB}-lightgbm-L2"]
    assert set(names) <= set(job["completed"])
    before = {n: automl.load_model(job["out"], candidate=n).predict_proba(job["X"]) for n in names}
    moved = job["root"] / "elsewhere" / JOB
    moved.parent.mkdir()
    shutil.move(job["out"], moved)
    for name in names:
        np.testing.assert_array_equal(automl.load_model(moved, candidate=name).predict_proba(job["X"]), before[name])
    # A stack copied as the best candidate (with its integrity record) finds its members from best_candidate/.
    for file in ("model.joblib", "model.joblib.sha256"):
        shutil.copy(moved / "candidates" / names[2] / file, moved / "best_candidate" / file)
    np.testing.assert_array_equal(automl.load_model(moved).predict_proba(job["X"]), before[names[2]])


@pytest.mark.parametrize("style", ["tree", "linear", "neural"])
def test_preprocessor_names_every_output_column(style):
    rng = np.random.default_rng(0)
    n = 120
    words = ["good", "bad", "great", "awful", "fine", "slow"]
    X = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n),
                      "d": pd.date_range("2020-01-01", periods=n, freq="D"),
                      "t": [" ".join(rng.choice(words, 4)) for _ in range(n)],
                      "u": [" ".join(rng.choice(words, 3)) for _ in range(n)]})
    X.loc[3, "x"] = np.nan
    kinds = {"x": ColumnKind.NUMERIC, "c": ColumnKind.CATEGORICAL, "d": ColumnKind.DATETIME,
             "t": ColumnKind.TEXT, "u": ColumnKind.TEXT}
    pre = Preprocessor(kinds, style).fit(X)
    names = list(pre.get_feature_names_out())
    assert len(names) == pre.transform(X).shape[1] == len(set(names))
    assert names[0] == "x" and {"d:year", "d:elapsed_days"} <= set(names)
    assert ("missingindicator_x" in names) == (style != "tree"), "scaled styles impute with an indicator"
    assert ("c" in names) == (style != "linear") and ("c_a" in names) == (style == "linear")
    if style == "linear":  # TF-IDF terms, per text column (both columns share the words)
        assert {"t:good", "u:good", "t:good bad"} <= set(names)
    else:
        text = [n for n in names if n.startswith("t:")]
        assert text and text == [f"t:svd{i}" for i in range(len(text))]
