"""A job's reports end to end: written where Describe says, agreeing with the job's own numbers, runnable,
reachable from `automl report` and `automl serve`, and opened in a real headless browser (Debian's chromium,
driven by playwright) with no console error and every image loaded.

One small job trains (breast cancer with a validation channel, plus a categorical column whose name is HTML);
the other tests read what it wrote.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import nbformat
import numpy as np
import pandas as pd
import pytest

import automl
from automl.contract import validate_response
from tests.conftest import BREAST_CANCER, request, wait_for
from tests.test_server import _start, _stop

HTML_NAME = "<img src=x onerror=alert(1)>"
JOB = "reported"


def _local(uri: str) -> str:
    return uri.removeprefix("file://")


def _read(*parts: str) -> str:
    with open(os.path.join(*parts)) as handle:
        return handle.read()


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    home = root / "home"
    previous = os.environ.get("AUTOML_HOME")
    os.environ["AUTOML_HOME"] = str(home)
    frame = pd.read_csv(BREAST_CANCER)
    frame[HTML_NAME] = np.where(frame["mean_radius"] > 14, "large <b>", "small")
    frame.iloc[:500].to_csv(root / "train.csv", index=False)
    frame.iloc[500:].to_csv(root / "valid.csv", index=False)
    body = request(root / "train.csv", name=JOB, output=root / "out",
                   AutoMLJobConfig={"Mode": "ENSEMBLING", "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 60},
                                    "CandidateGenerationConfig": {"AlgorithmsConfig": [
                                        {"AutoMLAlgorithms": ["lightgbm", "linear-learner"]}]}})
    body["InputDataConfig"].append({"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                    "S3Uri": str(root / "valid.csv")}},
                                    "TargetAttributeName": "diagnosis", "ChannelType": "validation"})
    body["InputDataConfig"][0]["ChannelType"] = "training"
    sm = automl.Client(home)
    sm.create_auto_ml_job(**body)
    describe = wait_for(sm, JOB, lambda d: d["AutoMLJobStatus"] != "InProgress", timeout=180)
    try:
        yield {"sm": sm, "root": root, "home": home, "describe": describe, "frame": frame}
    finally:
        if previous is None:
            os.environ.pop("AUTOML_HOME", None)
        else:
            os.environ["AUTOML_HOME"] = previous


def test_describe_names_every_report_and_they_exist(job):
    d = job["describe"]
    assert (d["AutoMLJobStatus"], d["AutoMLJobSecondaryStatus"]) == ("Completed", "Completed"), d
    validate_response("DescribeAutoMLJob", d)
    artifacts = d["AutoMLJobArtifacts"]
    assert os.path.isfile(_local(artifacts["DataExplorationNotebookLocation"]))
    assert os.path.isfile(_local(artifacts["CandidateDefinitionNotebookLocation"]))
    locations = d["BestCandidate"]["CandidateProperties"]["CandidateArtifactLocations"]
    for kind in ("ModelInsights", "Explainability"):
        assert os.path.isfile(os.path.join(_local(locations[kind]), "report.html")), kind
    assert "PartialFailureReasons" not in d, d.get("PartialFailureReasons")
    v2 = job["sm"].describe_auto_ml_job_v2(AutoMLJobName=JOB)
    validate_response("DescribeAutoMLJobV2", v2)
    assert v2["AutoMLJobArtifacts"] == artifacts


def test_insights_are_the_metrics_describe_reports_on_the_same_rows(job):
    best = job["describe"]["BestCandidate"]
    folder = _local(best["CandidateProperties"]["CandidateArtifactLocations"]["ModelInsights"])
    metrics = json.loads(_read(folder, "metrics.json"))
    reported = {m["MetricName"]: m["Value"] for m in best["CandidateProperties"]["CandidateMetrics"]
                if "MetricName" in m}
    predictions = pd.read_csv(os.path.join(folder, "predictions.csv"))
    assert len(predictions) == len(job["frame"]) - 500  # the validation channel's rows
    for name in ("F1", "Accuracy", "AUC"):
        assert metrics["metrics"][name] == pytest.approx(reported[name], abs=1e-9), name
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] == pytest.approx(metrics["metrics"]["F1"], abs=1e-9)


def test_explainability_is_per_original_column_in_clarify_layout(job):
    locations = job["describe"]["BestCandidate"]["CandidateProperties"]["CandidateArtifactLocations"]
    analysis = json.loads(_read(_local(locations["Explainability"]), "analysis.json"))
    labels = analysis["explanations"]["kernel_shap"]
    columns = set(next(iter(labels.values()))["global_shap_values"])
    features = set(job["frame"].columns) - {"diagnosis"}
    assert columns == features  # one value per original column: none encoded, none missing
    report = _read(_local(locations["Explainability"]), "report.html")
    assert HTML_NAME not in report and "&lt;img src=x onerror=alert(1)&gt;" in report


def test_the_candidate_definition_notebook_refits_the_candidates_exactly(job):
    path = _local(job["describe"]["AutoMLJobArtifacts"]["CandidateDefinitionNotebookLocation"])
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, path, "exec"), namespace)
    models = namespace["models"]
    assert {f"{JOB}-lightgbm-L1", f"{JOB}-linear-learner-L1"} <= set(models)
    valid = pd.read_csv(job["root"] / "valid.csv")
    for name, refit in models.items():
        saved = automl.load_model(JOB, candidate=name)
        np.testing.assert_allclose(refit.predict_proba(valid), saved.predict_proba(valid), atol=1e-6, err_msg=name)


def test_automl_report_prints_the_locations_and_explains_another_candidate_on_request(job):
    env = os.environ | {"AUTOML_HOME": str(job["home"])}
    other = f"{JOB}-linear-learner-L1"
    out = subprocess.run([sys.executable, "-m", "automl.cli", "report", JOB, "--candidate", other], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    locations = json.loads(out.stdout)
    assert os.path.isfile(_local(locations["DataExplorationReport"]))
    assert os.path.isfile(_local(locations["Candidates"][other]["ModelInsights"]))
    candidates = job["sm"].list_candidates_for_auto_ml_job(AutoMLJobName=JOB)["Candidates"]
    record = next(c for c in candidates if c["CandidateName"] == other)
    assert set(record["CandidateProperties"]["CandidateArtifactLocations"]) == {"ModelInsights", "Explainability"}
    bad = subprocess.run([sys.executable, "-m", "automl.cli", "report", JOB, "--candidate", "nope"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_a_failed_job_still_gets_its_exploration_report(tmp_path, sm, monkeypatch):
    monkeypatch.setenv("AUTOML_CREATE_ANALYSIS_BYTES", "0")  # the worker analyses the data, not create
    frame = pd.read_csv(BREAST_CANCER).iloc[:300]
    frame.to_csv(tmp_path / "small.csv", index=False)
    sm.create_auto_ml_job(**request(tmp_path / "small.csv", name="too-small", output=tmp_path / "out"))
    d = wait_for(sm, "too-small", lambda d: d["AutoMLJobStatus"] != "InProgress")
    assert d["AutoMLJobStatus"] == "Failed" and "500 rows" in d["FailureReason"]
    profile = json.loads(_read(os.path.dirname(_local(d["AutoMLJobArtifacts"]["DataExplorationNotebookLocation"])),
                             "profile.json"))
    assert any(f["kind"] == "too_few_rows" for f in profile["findings"]), profile["findings"]


def _browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium): the browser checks need it")
    playwright = pytest.importorskip("playwright.sync_api")
    return chromium, playwright


def _open(page, url: str) -> dict:
    """Load a page; its console errors and failed requests, and the state of each image."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
    response = page.goto(url)
    images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    return {"status": response.status, "errors": errors, "images": images, "text": page.inner_text("body"),
            "links": page.evaluate("[...document.links].map(a => a.href)")}


def test_the_web_page_and_every_report_open_in_a_real_browser(job):
    chromium, playwright = _browser()
    process, url = _start(job["home"])
    try:
        with urllib.request.urlopen(url + "/") as answer:
            assert "script-src" not in answer.headers["Content-Security-Policy"]  # default-src 'none': no script
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page()
            index = _open(page, url + "/")
            assert index["status"] == 200 and JOB in index["text"] and not index["errors"]
            job_url = next(link for link in index["links"] if link.endswith(f"/automl/jobs/{JOB}"))
            page = browser.new_page()
            detail = _open(page, job_url)
            assert detail["status"] == 200 and not detail["errors"], detail["errors"]
            reports = [link for link in detail["links"] if link.endswith("report.html")]
            assert len(reports) >= 3, reports  # exploration, insights and explainability of the best
            for link in reports:
                page = browser.new_page()
                opened = _open(page, link)
                assert opened["status"] == 200 and not opened["errors"], (link, opened["errors"])
                assert opened["images"], link
                for complete, width, height in opened["images"]:
                    assert complete and width >= 200 and height >= 100, (link, width, height)
                if "data_exploration" in link or "explainability" in link:
                    assert HTML_NAME in opened["text"], link  # shown as text ...
                    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0  # ... never run
            browser.close()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/automl/jobs/{JOB}/files/../../home/automl.db")
        assert refused.value.code == 404
    finally:
        _stop(process)


def test_with_access_keys_the_pages_ask_for_one(job):
    import base64

    process, url = _start(job["home"], {"AUTOML_ACCESS_KEYS": "AKIDPAGE:page-secret"})
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/")
        assert refused.value.code == 401 and "Basic" in refused.value.headers["WWW-Authenticate"]
        wrong = urllib.request.Request(url + "/", headers={
            "Authorization": "Basic " + base64.b64encode(b"AKIDPAGE:guess").decode()})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong)
        assert refused.value.code == 401
        right = urllib.request.Request(f"{url}/automl/jobs/{JOB}", headers={
            "Authorization": "Basic " + base64.b64encode(b"AKIDPAGE:page-secret").decode()})
        with urllib.request.urlopen(right) as answer:
            assert answer.status == 200 and f"Job {JOB}" in answer.read().decode()
    finally:
        _stop(process)
