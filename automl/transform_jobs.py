"""CreateTransformJob / DescribeTransformJob: a batch transform (automl.transform) run detached, as a job is.

`ModelName` names the model as this engine knows models: an AutoML job (its best candidate) or one of its
Completed candidates by name (SageMaker's CreateModel step is not needed: the candidates are the models). The
transform runs in its own process, `python -m automl.transform_jobs NAME`, logging to
`AUTOML_HOME/logs/transform-<name>.log`; a process that dies leaves the job Failed with the reason.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import traceback

from automl.errors import AutoMLError, ResourceInUse, ValidationException, field_error
from automl.processes import alive, process_start
from automl.spec import ACCOUNT, REGION
from automl.store import Store

log = logging.getLogger("automl.transform")

IN_PROGRESS, COMPLETED, FAILED = "InProgress", "Completed", "Failed"


def arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{name.lower()}"


def resolve_model(store: Store, model_name: str) -> tuple[str, str | None]:
    """(job, candidate or None for its best) that ModelName names."""
    for job in store.jobs():
        if job.name.lower() == model_name.lower():
            if not job.best_candidate:
                raise field_error("ModelName", f"job {job.name!r} has no best candidate yet (status "
                                  f"{job.status.value})", model_name)
            return job.name, None
    for job in store.jobs():
        if any(c.name == model_name and c.completed for c in store.candidates(job.name)):
            return job.name, model_name
    raise ValidationException(f"ModelName: Could not find model \"{model_name}\": name an AutoML job (its best "
                              "candidate) or a Completed candidate of one")


def check(request: dict) -> None:
    """The transform options this engine runs; the others are refused rather than ignored."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise field_error("TransformInput.DataSource.S3DataSource.S3DataType", "must be S3Prefix (a file or a "
                          "folder of files)", source["S3DataType"])
    split = request["TransformInput"].get("SplitType", "Line")
    if split not in ("Line", "None"):
        raise field_error("TransformInput.SplitType", "must be Line (one record per line) or None", split)
    if request["TransformOutput"].get("AssembleWith", "Line") not in ("Line", "None"):
        raise field_error("TransformOutput.AssembleWith", "must be Line or None", request["TransformOutput"]
                          ["AssembleWith"])
    if request.get("DataProcessing"):
        raise field_error("DataProcessing", "input and output filters are not available; transform the input "
                          "columns the model was trained on")


def create(store: Store, request: dict) -> dict:
    check(request)
    job, candidate = resolve_model(store, request["ModelName"])
    name = request["TransformJobName"]
    with store.transaction() as db:
        row = db.execute("SELECT name FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        if row is not None:
            raise ResourceInUse(f"TransformJobName: a transform job named {row['name']!r} already exists")
        db.execute("INSERT INTO transform_jobs (name_key, name, request, model_job, candidate, status, creation_time)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", (name.lower(), name, json.dumps(request), job, candidate,
                                                     IN_PROGRESS, time.time()))
    logs = store.root / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"transform-{name.lower()}.log", "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "automl.transform_jobs", name], stdout=out, stderr=out,
                                   stdin=subprocess.DEVNULL, env=os.environ | {"AUTOML_HOME": str(store.root)},
                                   start_new_session=True, close_fds=True)
    _update(store, name, pid=process.pid, pid_start=process_start(process.pid))
    return {"TransformJobArn": arn(name)}


def _update(store: Store, name: str, **fields) -> None:
    columns = ", ".join(f"{k} = ?" for k in fields)
    with store.transaction() as db:
        db.execute(f"UPDATE transform_jobs SET {columns} WHERE name_key = ?", (*fields.values(), name.lower()))


def _row(store: Store, name: str):
    with store.connect() as db:
        row = db.execute("SELECT * FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone()
    if row is None:
        raise ValidationException(f"Could not find requested job with name {name}")
    return row


def _reap(store: Store, row) -> None:
    """A transform whose process is gone without ending the job failed with it."""
    if row["status"] == IN_PROGRESS and row["pid"] is not None and not alive(row["pid"], row["pid_start"]):
        with store.transaction() as db:
            db.execute("UPDATE transform_jobs SET status = ?, end_time = ?, failure_reason = ? WHERE name_key = ? "
                       "AND status = ?", (FAILED, time.time(), f"the transform process (pid {row['pid']}) ended "
                                          "without finishing: it was killed or the machine stopped",
                                          row["name_key"], IN_PROGRESS))


def describe(store: Store, name: str) -> dict:
    from automl.responses import timestamp

    _reap(store, _row(store, name))
    row = _row(store, name)
    request = json.loads(row["request"])
    body = {
        "TransformJobName": row["name"], "TransformJobArn": arn(row["name"]), "TransformJobStatus": row["status"],
        "FailureReason": row["failure_reason"], "ModelName": request["ModelName"],
        "TransformInput": request["TransformInput"],
        "TransformOutput": request["TransformOutput"], "TransformResources": request["TransformResources"],
        "Environment": request.get("Environment"), "BatchStrategy": request.get("BatchStrategy"),
        "CreationTime": timestamp(row["creation_time"]), "TransformStartTime": timestamp(row["start_time"]),
        "TransformEndTime": timestamp(row["end_time"]),
    }
    if row["candidate"] is None:
        from automl.forecast_plan import load_plan

        body["AutoMLJobArn"] = load_plan(store.job(row["model_job"]).plan).arn
    return {k: v for k, v in body.items() if v is not None}


def run(store: Store, name: str) -> None:
    from automl.transform import transform

    row = _row(store, name)
    request = json.loads(row["request"])
    _update(store, name, start_time=time.time())
    keys = (request.get("Environment") or {}).get("SAGEMAKER_INFERENCE_OUTPUT")
    result = transform(store, row["model_job"], request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
                       request["TransformOutput"]["S3OutputPath"], candidate=row["candidate"],
                       content_type=request["TransformInput"].get("ContentType", "text/csv"),
                       accept=request["TransformOutput"].get("Accept", "text/csv"),
                       keys=keys)  # Gzip is told by its magic bytes, CompressionType or not
    _update(store, name, status=COMPLETED, end_time=time.time(), records=result.records)
    log.info("%s: Completed: %d records in %d files", name, result.records, result.files)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    store, name = Store(), argv[0]
    try:
        run(store, name)
    except AutoMLError as exc:
        log.error("%s: Failed: %s", name, exc.message)
        _update(store, name, status=FAILED, end_time=time.time(), failure_reason=exc.message[:1024])
    except Exception as exc:
        log.exception("%s: internal error", name)
        reason = "internal error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _update(store, name, status=FAILED, end_time=time.time(), failure_reason=reason[:1024])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
