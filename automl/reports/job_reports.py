"""Which reports a job gets, when, and in what time: the worker's side of `automl.reports`.

The exploration report is begun during AnalyzingData, before anything can fail on the data's content, and drawn
while the job goes on; the job ends only once it is written, so a job that Failed or was Stopped has one too.
The best candidate's model insights and explainability are written after training, in the time the budget kept
for them (`reserve_s`): what does not fit is skipped and said in PartialFailureReasons. No report ever fails its job.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import traceback
from dataclasses import replace

import numpy as np
import pandas as pd

from automl.artifacts import JobOutput, load_model, public_uri, read_bytes, write_bytes
from automl.candidate import Candidate
from automl.channels import join_uri
from automl.errors import AutoMLError
from automl.forecast_plan import ForecastPlan, load_plan
from automl.held_out import HeldOut
from automl.problem import Mode, ProblemType
from automl.reports.page import Page
from automl.store import Store, completed_candidate

log = logging.getLogger("automl.reports")

INSIGHT_ROWS = 50_000  # held-out rows kept for insights: the curves and metrics are exact on a sample this large
EXPLAIN_ROWS = 1_000  # rows a tree model's SHAP values are computed for
EXPLAIN_MIN_S = 0.5  # less time than this left for SHAP: the insights are written without it
_writing: list[threading.Thread] = []  # reports this worker draws in the background (`settle`)


REPORT_SHARE = 0.07  # of the job's budget, kept for the best candidate's reports after training
MIN_REPORT_S, MAX_REPORT_S = 2.0, 300.0
QUICK_REPORT_S = 8.0  # a job that ended early may take this long for its reports, out of the budget it left


def reserve_s(max_job_runtime_s: float) -> float:
    """Time kept at the end of a job's budget for its model insights and explainability: 7% of it, between
    2 s and 5 minutes (the training runs in the rest)."""
    return min(MAX_REPORT_S, max(MIN_REPORT_S, REPORT_SHARE * max_job_runtime_s))


def report_s(elapsed_s: float) -> float:
    """The reports' time once training is over: a tenth of the time the job took, at least QUICK_REPORT_S and
    at most MAX_REPORT_S; the budget's deadline caps it (a job that used its budget has its reserve left). So a
    quick job's insights and SHAP values (2.5 s here, twice that on a slower machine) are not cut short, and a
    job that trained for 20 s of a 30-day budget waits seconds, not minutes."""
    return min(MAX_REPORT_S, max(QUICK_REPORT_S, 0.1 * elapsed_s))


def preload() -> None:
    """Import the reports' libraries in a thread while the models train: shap alone takes over a second, which
    would otherwise come out of the few seconds a short job keeps for its reports."""
    threading.Thread(target=_import_libraries, name="reports-preload", daemon=True).start()


def _import_libraries() -> None:
    with contextlib.suppress(Exception):  # a library that fails to import fails its report later, said there
        import matplotlib.backends.backend_agg  # noqa: F401
        import shap  # noqa: F401


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AutoMLError):
        return exc.message
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _skip(store: Store, job: str, report: str, exc: BaseException | str) -> None:
    reason = exc if isinstance(exc, str) else _reason(exc)
    if not isinstance(exc, (str, AutoMLError)):
        log.warning("%s: %s failed", job, report, exc_info=exc)
    log.warning("%s: %s skipped: %s", job, report, reason)
    store.note_reports(job, skipped=f"{report} skipped: {reason}")


def explore(store: Store, plan, frame: pd.DataFrame) -> pd.DataFrame:
    """The data exploration report of the job's training channel (a tabular profile, or the series' view for a
    forecasting job); the frame is returned untouched, so the worker passes it on without a second reference.
    The profile is computed now, from the frame; the page is drawn on a thread (`settle` waits for it): its
    figures took 1-2 s here and 10 s on a busy machine, which a short job's first candidate would wait for."""
    began = time.time()
    try:
        from automl.reports import exploration

        if isinstance(plan, ForecastPlan):
            profile = exploration.profile_series(frame, plan)
        else:
            profile = exploration.profile(frame, target=plan.target, problem_type=plan.problem_type,
                                          weight=plan.weight, feature_spec=plan.feature_spec)
    except Exception as exc:
        _skip(store, plan.name, "data exploration report", exc)
        return frame
    writer = threading.Thread(target=_write_exploration, args=(store, plan, profile, began), name="exploration")
    writer.start()
    _writing.append(writer)
    return frame


def _write_exploration(store: Store, plan, profile, began: float) -> None:
    try:
        from automl.reports import exploration

        output = JobOutput(plan.job_output)
        exploration.write_exploration(output, profile, data_uri=plan.training.uri, target=plan.target,
                                      title=f"Data exploration: {plan.name}")
        store.note_reports(plan.name, locations={
            "DataExplorationNotebookLocation": public_uri(output.exploration_notebook)})
        log.info("%s: data exploration report written in %.2f s", plan.name, time.time() - began)
    except Exception as exc:
        _skip(store, plan.name, "data exploration report", exc)


def settle() -> None:
    """Wait for the reports this worker is writing in the background: a job ends, and the best candidate's
    reports (matplotlib is not thread-safe) start, only after them."""
    while _writing:
        _writing.pop().join()


def candidate_notebook(store: Store, plan, job_request: dict, definitions: list[dict]) -> None:
    """The candidate definition notebook: code that fits the candidates again with the public API."""
    try:
        from automl.reports.candidate_notebook import notebook

        output = JobOutput(plan.job_output)
        write_bytes(output.candidate_notebook, notebook(plan, job_request, definitions).encode())
        store.note_reports(plan.name, locations={
            "CandidateDefinitionNotebookLocation": public_uri(output.candidate_notebook)})
    except Exception as exc:
        _skip(store, plan.name, "candidate definition notebook", exc)


def definitions_of(records: list[Candidate]) -> list[dict]:
    """The saved definitions of a trained job's Completed candidates (what its notebook reproduces)."""
    return [json.loads(read_bytes(r.definition_uri)) for r in records if r.completed and r.definition_uri]


# Held-out rows are kept beside the reports, so insights of any candidate can be made later on request.
def keep_held_out(output: JobOutput, held: HeldOut, predictions: dict[str, np.ndarray]) -> None:
    """The rows (features, target, weight) and what they are once, and each candidate's predictions of them."""
    frame = held.X.assign(__target=held.y, **({"__weight": held.w} if held.w is not None else {}))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes(output.held_out("rows.parquet"), buffer.getvalue())
    labels = [c.item() if isinstance(c, np.generic) else c for c in held.classes]
    write_bytes(output.held_out("rows.json"), json.dumps({
        "problem_type": held.problem_type.value, "classes": labels, "positive_index": held.positive_index,
        "source": held.source}).encode())
    for name, prediction in predictions.items():
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction, dtype=np.float64))
        write_bytes(output.held_out(f"{name}.npy"), buffer.getvalue())


def background_rows(output: JobOutput) -> pd.DataFrame | None:
    """The features of the held-out rows the job kept: what a masked column is drawn from when rows are explained
    on request (the rows being explained are no sample of the data: one row against itself explains nothing)."""
    try:
        frame = pd.read_parquet(io.BytesIO(read_bytes(output.held_out("rows.parquet"))))
    except FileNotFoundError:
        return None
    return frame.drop(columns=[c for c in ("__target", "__weight") if c in frame])


def kept_held_out(output: JobOutput, candidate: Candidate, *, predict_again: bool) -> HeldOut:
    """A candidate's held-out rows as its job kept them; its prediction read back, or made again by its model
    where no model of the job saw those rows (`predict_again`: the tuning mode's validation rows)."""
    try:
        meta = json.loads(read_bytes(output.held_out("rows.json")))
        frame = pd.read_parquet(io.BytesIO(read_bytes(output.held_out("rows.parquet"))))
    except FileNotFoundError:
        raise AutoMLError(f"the job kept no held-out rows in {output.held_out('')}: it ended before its best "
                          "candidate's reports") from None
    y = frame.pop("__target").to_numpy()
    w = frame.pop("__weight").to_numpy() if "__weight" in frame else None
    try:
        prediction = np.load(io.BytesIO(read_bytes(output.held_out(f"{candidate.name}.npy"))))
    except FileNotFoundError:
        if not predict_again:
            raise AutoMLError(f"{candidate.name}'s held-out predictions were not kept by its job, and its model "
                              "may have seen those rows (an ensembling job refits on all of them)") from None
        prediction = load_model(candidate.model_uri).predict_raw(frame)
    return HeldOut(ProblemType(meta["problem_type"]), meta["classes"], meta["positive_index"], frame, y, w,
                   prediction, meta["source"])


def candidate_reports(store: Store, plan, record: Candidate, held: HeldOut, deadline: float,
                      on_explain=lambda: None) -> Candidate:
    """Model insights, then explainability, of one Completed tabular candidate, by `deadline`; the candidate
    with the locations written (CandidateArtifactLocations), which the caller stores."""
    settle()
    output = JobOutput(plan.job_output)
    locations = {}
    began = time.time()
    try:
        from automl.reports import insights

        insights.write_insights(output.insights(record.name), held.sample(INSIGHT_ROWS), candidate=record.name,
                                objective=plan.objective)
        locations["ModelInsights"] = public_uri(output.insights(record.name))
        log.info("%s: model insights of %s written in %.2f s", plan.name, record.name, time.time() - began)
    except Exception as exc:
        _skip(store, plan.name, f"model insights of {record.name}", exc)
    on_explain()
    began = time.time()
    folder = output.explainability(record.name)
    try:
        from automl.reports import explain, explainability

        if deadline - time.time() < EXPLAIN_MIN_S:
            raise explain.ExplainTimeout(f"{max(0.0, deadline - time.time()):.1f} s of the job's budget were left, "
                                         f"too few for SHAP values")
        rows = held.sample(EXPLAIN_ROWS)
        explain.check_size(record.name, record.model_uri, explain.MAX_MODEL_BYTES)
        explanation = explain.explain(load_model(record.model_uri), rows.X, deadline=deadline,
                                      max_model_bytes=explain.MAX_MODEL_BYTES)
        explainability.write_explainability(folder, explanation, candidate=record.name, source=held.source)
        log.info("%s: explainability of %s (%s, %d rows) written in %.2f s", plan.name, record.name,
                 explanation.method, explanation.rows, time.time() - began)
    except Exception as exc:
        _skip(store, plan.name, f"explainability report of {record.name}", exc)
        _explainability_skipped(folder, record.name, _reason(exc))
    locations["Explainability"] = public_uri(folder)
    return replace(record, artifacts=locations)


def _explainability_skipped(folder: str, candidate: str, reason: str) -> None:
    """The Explainability location Describe names holds a page that says why it has no SHAP values."""
    page = Page(f"Explainability of {candidate}", "Not computed")
    page.note(f"No SHAP values were computed for this candidate: {reason}")
    page.paragraph("Its model insights were written; `automl report JOB --candidate NAME` explains another "
                   "candidate on request.")
    write_bytes(join_uri(folder, "report.html"), page.html().encode())


def forecast_reports(store: Store, plan, record: Candidate, history: pd.DataFrame | None = None) -> Candidate:
    """A forecasting candidate's insights: backtest plots, quantile coverage, covariates' and holidays' impact
    (its explainability, as Autopilot's forecasting reports define it)."""
    settle()
    output = JobOutput(plan.job_output)
    began = time.time()
    try:
        from automl.reports import forecast_insights

        forecast_insights.write_forecast_insights(output.insights(record.name), record.backtest_uri, plan,
                                                  candidate=record.name, history=history, model_uri=record.model_uri)
        log.info("%s: forecast insights of %s written in %.2f s", plan.name, record.name, time.time() - began)
    except Exception as exc:
        _skip(store, plan.name, f"model insights of {record.name}", exc)
        return record
    folder = public_uri(output.insights(record.name))
    return replace(record, artifacts={"ModelInsights": folder, "Explainability": folder})


ON_REQUEST_S = 120.0  # the time `automl report --candidate` gives a candidate's explainability


def report(store: Store, name: str, candidate: str | None = None) -> dict:
    """Where a job's reports are; with `candidate`, that Completed candidate's insights and explainability are
    made first if it has none (from the held-out rows its job kept)."""
    job = store.job(name)
    plan = load_plan(job.plan)
    output = JobOutput(plan.job_output)
    if candidate is not None:
        record = completed_candidate(store, name, candidate)
        if not record.artifacts or "ModelInsights" not in record.artifacts:
            if isinstance(plan, ForecastPlan):
                record = forecast_reports(store, plan, record)
            else:
                held = kept_held_out(output, record, predict_again=plan.mode is Mode.HYPERPARAMETER_TUNING)
                record = candidate_reports(store, plan, record, held, time.time() + ON_REQUEST_S)
            store.put_candidate(name, record)
    job = store.job(name)
    locations = {k: v for k, v in (job.reports or {}).items() if k.endswith("NotebookLocation")}
    if "DataExplorationNotebookLocation" in locations:
        locations["DataExplorationReport"] = public_uri(join_uri(output.exploration, "report.html"))
    candidates = {}
    for record in store.candidates(name):
        if record.artifacts:
            candidates[record.name] = {kind: join_uri(folder, "report.html")
                                       for kind, folder in record.artifacts.items()
                                       if kind in ("ModelInsights", "Explainability")}
    return locations | {"Candidates": candidates, "Skipped": list((job.reports or {}).get("skipped", []))}
