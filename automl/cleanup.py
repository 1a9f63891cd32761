"""Deleting finished jobs: `automl delete-job` and `Client.delete_jobs`. Not a SageMaker operation (SageMaker
keeps AutoML jobs forever), but a workstation's disk fills up.

What a job leaves, and what deleting it removes:
- store rows: the job, its candidates, and the finished transform jobs that used its model;
- its tuning study: AUTOML_HOME/studies/<job>.db, or the study of the job's name in the RDB it was created with
  (AUTOML_TUNING_STORAGE; the other studies there stay);
- logs: AUTOML_HOME/logs/<job>.log, and its transform jobs' logs/transform-<name>.log;
- scratch: AUTOML_HOME/scratch/<job>/ and scratch/<job>-join-<pid>/, which a killed worker leaves behind;
- outputs: S3OutputPath/<job>/ (the models), only when asked.

A job that still runs (InProgress, queued, Stopping), that an endpoint serves or that a running transform job
reads is refused (ResourceInUse): named, the whole deletion is refused; matched by the filters, it is kept and
said so. The rows of every job go in one transaction. Inside it, the job's files under AUTOML_HOME are moved to
AUTOML_HOME/trash/ (renames, undone if the transaction fails), so a job created under the same name after the
commit neither meets an old file (an old study would hand it the old trials) nor loses one of its own; and a
study in an RDB is deleted by name, last, so a server that cannot be reached keeps the job. After the commit
the trash and the outputs are removed, and what fails then is reported: the job is gone either way, and the
next deletion sweeps what one killed midway left in the trash.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from automl import artifacts, scheduler
from automl.channels import filesystem
from automl.errors import ResourceInUse, ResourceNotFound, field_error
from automl.forecast_plan import load_plan
from automl.processes import alive
from automl.store import RUNNING, TERMINAL, JobRow, JobStatus, Store

FINISHED = tuple(s.value for s in TERMINAL)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
SQLITE_FILES = ("", "-journal", "-wal", "-shm")  # a SQLite database and the files beside it
TRASH_STALE_S = 600  # a trash folder this old belongs to a deletion that was killed before emptying it


@dataclass(frozen=True)
class Trace:
    """One thing a job left: `kind` is store, study, log, scratch or outputs; `size` in bytes where known."""

    kind: str
    location: str
    detail: str = ""
    size: int | None = None


@dataclass
class Deletion:
    """One job's deletion (or, in a dry run, what it would remove)."""

    job: str
    status: str
    traces: list[Trace] = field(default_factory=list)
    kept: str | None = None  # why a job the filters matched stays: nothing of it is removed
    outputs_kept: str | None = None  # the outputs' location, when they stay (no `outputs`)
    problems: list[str] = field(default_factory=list)  # what could not be removed, and why
    files: list[Path] = field(default_factory=list, repr=False)  # under AUTOML_HOME: moved to the trash
    rdb_study: tuple[str, str] | None = field(default=None, repr=False)  # (storage URL, study name)
    output: str | None = field(default=None, repr=False)  # the outputs folder to remove
    transforms: list[str] = field(default_factory=list, repr=False)  # transform jobs' name keys

    @property
    def size(self) -> int:
        return sum(t.size or 0 for t in self.traces)


def parse_duration(text: str, flag: str = "--older-than") -> float:
    """Seconds in `7d`, `12h`, `30m`, `90s`, `2w` or a sum of them (`1d12h`)."""
    compact = text.strip().lower().replace(" ", "")
    parts = DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise field_error(flag, "must be a duration: numbers with a unit s, m, h, d or w (90s, 12h, 7d, 1d12h)",
                          text)
    return sum(float(n) * UNITS[u] for n, u in parts)


def delete_jobs(store: Store, names=(), *, older_than_s: float | None = None, statuses=(), outputs: bool = False,
                dry_run: bool = False) -> list[Deletion]:
    """Delete the named jobs, or the finished jobs that ended at least `older_than_s` ago and/or have one of
    `statuses`; their outputs too with `outputs`. `dry_run` removes nothing and says what would go."""
    names = [names] if isinstance(names, str) else list(names)
    statuses = [statuses] if isinstance(statuses, str) else list(statuses)
    _check_selection(names, older_than_s, statuses)
    scheduler.reap(store)  # a job whose worker died is Failed now, and so can be deleted
    jobs = _named(store, names) if names else _matching(store, older_than_s, set(statuses or FINISHED))
    deletions = [_survey(store, job, outputs, refuse=bool(names)) for job in jobs]
    if dry_run:
        return deletions
    _empty_stale_trash(store)
    trash = store.root / "trash" / uuid.uuid4().hex
    moved: list[tuple[Path, Path]] = []
    try:
        with store.transaction() as db:
            for deletion in deletions:
                if deletion.kept is None:
                    _drop_rows(store, db, deletion, trash, moved, refuse=bool(names))
            for deletion in deletions:
                if deletion.kept is None and deletion.rdb_study is not None:
                    _delete_rdb_study(*deletion.rdb_study, job=deletion.job)
    except BaseException:
        for source, target in reversed(moved):
            os.replace(target, source)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    for deletion in deletions:
        if deletion.kept is None and deletion.output is not None:
            _remove_outputs(deletion)
    return deletions


def _check_selection(names, older_than_s, statuses) -> None:
    if names and (older_than_s is not None or statuses):
        raise field_error("names", "name the jobs to delete or select them by their age and status, not both")
    if not names and older_than_s is None and not statuses:
        raise field_error("names", "name the jobs to delete, or select them by their age and/or status")
    if older_than_s is not None and (isinstance(older_than_s, bool) or not isinstance(older_than_s, int | float)
                                     or not math.isfinite(older_than_s) or older_than_s < 0):
        raise field_error("older_than_s", "must be a number of seconds, at least 0", older_than_s)
    for status in statuses:
        if status not in FINISHED:
            raise field_error("statuses", "must each be Completed, Failed or Stopped: only a finished job can be "
                              "deleted", status)


def _named(store: Store, names) -> list[JobRow]:
    """Each named job once (names are case-insensitive); a name no job has is ResourceNotFound."""
    unique = {name.lower(): name for name in names}
    return [store.job(name) for name in unique.values()]


def _matching(store: Store, older_than_s: float | None, statuses: set[str]) -> list[JobRow]:
    now = time.time()
    return [j for j in store.jobs() if j.status.value in statuses
            and (older_than_s is None or now - (j.end_time or j.last_modified_time) >= older_than_s)]


def in_use(db, job: JobRow) -> str | None:
    """Why the job cannot be deleted now, or None."""
    if job.status in RUNNING:
        queued = " (queued)" if job.queued and job.status is JobStatus.IN_PROGRESS else ""
        then = ("stop it (StopAutoMLJob) and wait for it to end" if job.status is JobStatus.IN_PROGRESS
                else "wait for it to end")
        return (f"AutoMLJobName: job {job.name!r} is {job.status.value}{queued}; only a Completed, Failed or Stopped "
                f"job can be deleted: {then}")
    key = job.name.lower()
    endpoint = db.execute("SELECT name FROM endpoints WHERE lower(job) = ?", (key,)).fetchone()
    if endpoint is not None:
        return (f"AutoMLJobName: job {job.name!r} is the model of endpoint {endpoint['name']!r}; delete the endpoint "
                "first (DeleteEndpoint)")
    for row in db.execute("SELECT name, pid, pid_start FROM transform_jobs WHERE lower(model_job) = ? AND status = "
                          "'InProgress'", (key,)):
        if row["pid"] is None or alive(row["pid"], row["pid_start"]):
            return (f"AutoMLJobName: job {job.name!r} is the model of transform job {row['name']!r}, which is "
                    "InProgress; wait for it to end")
    return None


def _survey(store: Store, job: JobRow, outputs: bool, refuse: bool) -> Deletion:
    """What deleting the job removes (nothing is changed here)."""
    with store.connect() as db:
        busy = in_use(db, job)
        if busy and refuse:
            raise ResourceInUse(busy)
        deletion = Deletion(job.name, job.status.value, kept=busy)
        if busy:
            return deletion
        key = job.name.lower()
        candidates = db.execute("SELECT COUNT(*) FROM candidates WHERE job_key = ?", (key,)).fetchone()[0]
        transforms = db.execute("SELECT name FROM transform_jobs WHERE lower(model_job) = ? ORDER BY creation_time",
                                (key,)).fetchall()
    deletion.transforms = [r["name"].lower() for r in transforms]
    rows = ", ".join([f"the job, {candidates} candidate{'s' * (candidates != 1)}"]
                     + [f"transform job {r['name']}" for r in transforms])
    deletion.traces.append(Trace("store", str(store.path), rows))
    plan = load_plan(job.plan)
    _survey_study(store, deletion, getattr(plan, "study_storage", ""))
    logs = [store.root / "logs" / f"{key}.log"] + [store.root / "logs" / f"transform-{t}.log"
                                                   for t in deletion.transforms]
    _add_files(deletion, "log", [p for p in logs if p.exists()])
    _add_files(deletion, "scratch", _scratch(store, key))
    if outputs:
        _survey_outputs(deletion, plan.job_output, plan.output_path)
    else:
        deletion.outputs_kept = artifacts.public_uri(plan.job_output)
    return deletion


def _survey_study(store: Store, deletion: Deletion, url: str) -> None:
    if not url:
        return
    own = store.root / "studies" / f"{deletion.job.lower()}.db"
    if url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).resolve() == own.resolve():
        _add_files(deletion, "study", [own.with_name(own.name + s) for s in SQLITE_FILES
                                       if own.with_name(own.name + s).exists()])
        return
    shown = _masked(url)
    try:
        trials = _rdb_trials(url, deletion.job)
    except Exception as exc:  # a driver's or a connection's error: the study cannot be looked at now
        deletion.traces.append(Trace("study", shown, f"study {deletion.job}, not reachable now: {_first_line(exc)}"))
        deletion.rdb_study = (url, deletion.job)
        return
    if trials is not None:
        deletion.traces.append(Trace("study", shown, f"study {deletion.job}, {trials} trials"))
        deletion.rdb_study = (url, deletion.job)


def _rdb_trials(url: str, name: str) -> int | None:
    """How many trials the study of that name holds, or None when there is no such study."""
    from runners import study as studies

    storage = studies.storage(url)
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return len(storage.get_all_trials(study_id, deepcopy=False))


def _delete_rdb_study(url: str, name: str, job: str) -> None:
    import optuna

    from runners import study as studies

    try:
        optuna.delete_study(study_name=name, storage=studies.storage(url))
    except KeyError:
        return  # already gone
    except Exception as exc:
        raise field_error("AutoMLJobName", f"the tuning study of job {job!r} in {_masked(url)} could not be "
                          f"deleted, so nothing was deleted: {type(exc).__name__}: {_first_line(exc)}") from None


def _scratch(store: Store, key: str) -> list[Path]:
    """The job's scratch folder and its joined workers' (`<job>-join-<pid>`), not another job's of such a name."""
    root = store.root / "scratch"
    if not root.is_dir():
        return []
    jobs = {j.name.lower() for j in store.jobs()}
    joined = re.compile(re.escape(key) + r"-join-\d+")
    return sorted(p for p in root.iterdir() if p.name == key or (joined.fullmatch(p.name) and p.name not in jobs))


def _add_files(deletion: Deletion, kind: str, paths: list[Path]) -> None:
    for path in paths:
        deletion.files.append(path)
        deletion.traces.append(Trace(kind, str(path), size=_local_size(path)))


def _local_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _survey_outputs(deletion: Deletion, job_output: str, output_path: str) -> None:
    if not artifacts.is_anchored(output_path):
        deletion.problems.append(f"outputs not removed: S3OutputPath {output_path!r} is relative to the folder the "
                                 "job was created in (before outputs were made absolute), which is not known; remove "
                                 f"{job_output!r} there")
        return
    fs, path = filesystem(job_output)
    if fs.exists(path):
        uri = artifacts.public_uri(job_output)
        deletion.traces.append(Trace("outputs", uri, size=fs.du(path)))
        deletion.output = job_output


def _drop_rows(store: Store, db, deletion: Deletion, trash: Path, moved: list[tuple[Path, Path]],
               refuse: bool) -> None:
    """Inside the transaction: the job checked again (it may have been resumed or deleted since), its files moved
    into the trash, its rows deleted."""
    key = deletion.job.lower()
    row = db.execute("SELECT name FROM jobs WHERE name_key = ?", (key,)).fetchone()
    if row is None:
        if refuse:
            raise ResourceNotFound(f"AutoMLJobName: no job named {deletion.job!r}")
        deletion.kept = "deleted by another call meanwhile"
        return
    busy = in_use(db, store.job(key))
    if busy:
        if refuse:
            raise ResourceInUse(busy)
        deletion.kept = busy
        return
    for path in deletion.files:
        if path.exists():
            trash.mkdir(parents=True, exist_ok=True)
            target = trash / f"{len(moved)}-{path.name}"
            os.replace(path, target)
            moved.append((path, target))
    db.execute("DELETE FROM candidates WHERE job_key = ?", (key,))
    db.executemany("DELETE FROM transform_jobs WHERE name_key = ?", [(t,) for t in deletion.transforms])
    db.execute("DELETE FROM jobs WHERE name_key = ?", (key,))


def _remove_outputs(deletion: Deletion) -> None:
    fs, path = filesystem(deletion.output)
    try:
        fs.rm(path, recursive=True)
    except Exception as exc:  # a local OSError or an object store's error: reported, the job is gone already
        deletion.problems.append(f"outputs {artifacts.public_uri(deletion.output)} not removed: "
                                 f"{type(exc).__name__}: {_first_line(exc)}")


def _empty_stale_trash(store: Store) -> None:
    root = store.root / "trash"
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if time.time() - folder.stat().st_mtime > TRASH_STALE_S:
            shutil.rmtree(folder, ignore_errors=True)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy parses: show only its scheme
        return url.split("://", 1)[0] + "://..."


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
