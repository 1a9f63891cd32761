"""The read-only web page of `automl serve`: the jobs, each job's status, leaderboard, best candidate and
reports, and the report files themselves, read from the job's output location.

Pages are plain HTML from `automl.reports.page` (every name escaped), sent with a Content-Security-Policy
that allows no script and nothing from elsewhere. Where the server verifies access keys, the pages ask for
one by HTTP Basic authentication (user: the access key id, password: its secret), which a browser can send.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from automl.artifacts import JobOutput, exists, read_bytes
from automl.candidate import Candidate
from automl.errors import ResourceNotFound
from automl.forecast_metrics import FORECAST_METRICS
from automl.forecast_plan import ForecastPlan, load_plan
from automl.leaderboard import rank
from automl.metrics import METRICS
from automl.reports.page import Link, Page
from automl.store import JobRow, Store

CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
SERVED = {".html": "text/html; charset=utf-8", ".png": "image/png", ".json": "application/json",
          ".ipynb": "application/x-ipynb+json", ".csv": "text/csv; charset=utf-8"}
TOP_FILES = ("leaderboard.csv", "describe.json", "candidate_definitions.json")


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _job_href(name: str, *rest: str) -> str:
    return "/".join(["/automl/jobs", name, *rest])


def _file_link(job: str, output: JobOutput, uri: str, label: str) -> Link:
    return Link(label, _job_href(job, "files", output.relative(uri)))


def jobs_page(store: Store) -> str:
    page = Page("AutoML jobs", f"Store {store.root}; newest first. Read-only: jobs are created through the API.")
    rows = []
    for job in reversed(store.jobs()):
        best = (job.best_candidate or {}).get("name")
        rows.append({"Job": Link(job.name, _job_href(job.name)), "Status": job.status.value,
                     "Secondary status": job.secondary_status, "Created": _when(job.creation_time),
                     "Ended": _when(job.end_time), "Best candidate": best or "-"})
    if rows:
        page.table(rows)
    else:
        page.paragraph("No job yet: create one with automl create-auto-ml-job or the Python API.")
    page.link("Endpoints served here (JSON)", "/automl/endpoints")
    return page.html()


def _report_links(job: JobRow, output: JobOutput, record: Candidate) -> list[Link]:
    links = []
    for kind, folder in sorted((record.artifacts or {}).items()):
        if kind in ("ModelInsights", "Explainability"):
            links.append(_file_link(job.name, output, folder.rstrip("/") + "/report.html",
                                    "model insights" if kind == "ModelInsights" else "explainability"))
    return links


def _problem(plan) -> str:
    if isinstance(plan, ForecastPlan):
        return "TimeSeriesForecasting"
    return plan.problem_type.value if plan.problem_type else "problem type not yet known"


def job_page(store: Store, name: str) -> str:
    job = store.job(name)
    plan = load_plan(job.plan)
    output = JobOutput(plan.job_output)
    records = store.candidates(name)
    page = Page(f"Job {job.name}", f"{job.status.value} / {job.secondary_status}; {_problem(plan)}, objective "
                                   f"{plan.objective or '-'}; created {_when(job.creation_time)}, ended "
                                   f"{_when(job.end_time)}")
    page.nav([Link("All jobs", "/")])
    if job.failure_reason:
        page.note(f"Failure reason: {job.failure_reason}")
    for reason in (job.reports or {}).get("skipped", []):
        page.note(reason)
    page.heading("Reports")
    reports = []
    locations = job.reports or {}
    if locations.get("DataExplorationNotebookLocation"):
        reports.append({"Report": "Data exploration", "Open": [
            _file_link(job.name, output, output.exploration + "/report.html", "report"),
            _file_link(job.name, output, output.exploration_notebook, "notebook")]})
    if locations.get("CandidateDefinitionNotebookLocation"):
        reports.append({"Report": "Candidate definitions", "Open": [
            _file_link(job.name, output, output.candidate_notebook, "notebook")]})
    for record in records:
        links = _report_links(job, output, record)
        if links:
            reports.append({"Report": f"Candidate {record.name}", "Open": links})
    if reports:
        page.table(reports)
    else:
        page.paragraph("No report yet.")
    best = (job.best_candidate or {}).get("name")
    if best:
        page.heading("Best candidate")
        record = next((r for r in records if r.name == best), None)
        page.table([{"Candidate": best, "Algorithm": record.algorithm if record else "-",
                     plan.objective or "Objective": record.objective_value if record else None}])
    page.heading("Leaderboard")
    metric = (FORECAST_METRICS if isinstance(plan, ForecastPlan) else METRICS).get(plan.objective or "")
    rows = [{"Candidate": r.name, "Algorithm": r.algorithm, "Status": r.status.value,
             plan.objective or "Objective": r.objective_value, "Fit s": r.fit_s,
             "Reports": _report_links(job, output, r) or "-"} for r in (rank(records, metric) if metric else records)]
    if rows:
        page.table(rows)
    else:
        page.paragraph("No candidate yet.")
    page.nav([_file_link(job.name, output, output.at(f), f) for f in TOP_FILES if exists(output.at(f))])
    return page.html()


def job_file(store: Store, name: str, path: str) -> tuple[bytes, str]:
    """A file of the job's output folder that the pages link to: the reports under documentation/ and a few
    top-level files; nothing else, and never a path that climbs out."""
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) or not (parts[0] == "documentation" or path in TOP_FILES):
        raise ResourceNotFound(f"path: {path!r} is not a report file of job {name!r}")
    suffix = "." + path.rsplit(".", 1)[-1] if "." in parts[-1] else ""
    if suffix not in SERVED:
        raise ResourceNotFound(f"path: {path!r} is not a report file of job {name!r}")
    output = JobOutput(load_plan(store.job(name).plan).job_output)
    try:
        return read_bytes(output.at(*parts)), SERVED[suffix]
    except FileNotFoundError:
        raise ResourceNotFound(f"path: job {name!r} has no file {path!r}") from None


def _authorized(request: Request, keys: dict[str, str]) -> bool:
    if not keys:
        return True
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        key, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return key in keys and hmac.compare_digest(keys[key].encode(), secret.encode())


def routes(store_of, keys: dict[str, str]) -> list[Route]:
    """`store_of()`: the store the server's client uses (read on every request: tests swap homes)."""
    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            if not _authorized(request, keys):
                return Response("an access key is required (user: access key id, password: secret)", 401,
                                headers={"WWW-Authenticate": 'Basic realm="automl"'})
            try:
                return await handler(request)
            except ResourceNotFound as exc:
                return HTMLResponse(Page("Not found", exc.message).html(), 404,
                                    headers={"Content-Security-Policy": CSP})
        return endpoint

    async def index(request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(jobs_page, store_of()), headers={"Content-Security-Policy": CSP})

    async def job(request: Request) -> Response:
        body = await run_in_threadpool(job_page, store_of(), request.path_params["name"])
        return HTMLResponse(body, headers={"Content-Security-Policy": CSP})

    async def file(request: Request) -> Response:
        body, media = await run_in_threadpool(job_file, store_of(), request.path_params["name"],
                                              request.path_params["path"])
        return Response(body, headers={"Content-Type": media, "Content-Security-Policy": CSP,
                                       "X-Content-Type-Options": "nosniff"})

    return [Route("/", guarded(index), methods=["GET"]),
            Route("/automl/jobs/{name}", guarded(job), methods=["GET"]),
            Route("/automl/jobs/{name}/files/{path:path}", guarded(file), methods=["GET"])]
