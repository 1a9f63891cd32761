"""The job store: one SQLite file under AUTOML_HOME (WAL, so readers never block the workers writing).

Names are unique case-insensitively (`name_key`). Every status change is one short transaction, so a
worker killed at any instant leaves the database consistent; its job is then found dead (pid gone or
heartbeat stale) and marked Failed by whoever reads it next.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from automl.candidate import Candidate
from automl.errors import ResourceInUse, ResourceNotFound, ValidationException, field_error


class JobStatus(str, Enum):
    """SageMaker's AutoMLJobStatus values."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)
RUNNING = (JobStatus.IN_PROGRESS, JobStatus.STOPPING)  # a worker holds the job (or will, once admitted)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    request TEXT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL,
    secondary_status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    end_time REAL,
    failure_reason TEXT,
    best_candidate TEXT,
    pid INTEGER,
    pid_start TEXT,
    heartbeat REAL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    queued INTEGER NOT NULL DEFAULT 1,
    seq INTEGER NOT NULL,
    started_at REAL,
    spent_s REAL NOT NULL DEFAULT 0,
    deploy_result TEXT,
    reports TEXT
);
CREATE TABLE IF NOT EXISTS candidates (
    job_key TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    objective REAL,
    record TEXT NOT NULL,
    creation_time REAL NOT NULL,
    PRIMARY KEY (job_key, name)
);
CREATE TABLE IF NOT EXISTS endpoints (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    job TEXT NOT NULL,
    candidate TEXT NOT NULL,
    model_uri TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    failure_reason TEXT
);
CREATE TABLE IF NOT EXISTS transform_jobs (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    request TEXT NOT NULL,
    model_job TEXT NOT NULL,
    candidate TEXT,
    status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    failure_reason TEXT,
    pid INTEGER,
    pid_start TEXT,
    records INTEGER NOT NULL DEFAULT 0
);
"""


def completed_candidate(store: Store, job: str, candidate: str | None = None) -> Candidate:
    """The job's best candidate, or its Completed candidate named `candidate` (what predict and load serve)."""
    row = store.job(job)
    if candidate is None:
        if not row.best_candidate:
            raise ValidationException(f"AutoMLJobName: job {row.name!r} has no best candidate "
                                      f"(status {row.status.value}/{row.secondary_status})")
        candidate = row.best_candidate["name"]
    record = next((r for r in store.candidates(job) if r.name == candidate and r.completed), None)
    if record is None:
        raise ValidationException(f"candidate: is not a Completed candidate of job {row.name!r}; got {candidate!r}")
    return record


def name_in_use(existing: str) -> ResourceInUse:
    return ResourceInUse(f"AutoMLJobName: a job named {existing!r} already exists (names are case-insensitive)")


def home() -> Path:
    """AUTOML_HOME, or ~/.automl when it is unset or empty."""
    return Path(os.environ.get("AUTOML_HOME", "").strip() or Path.home() / ".automl").expanduser()


@dataclass
class JobRow:
    name: str
    request: dict
    plan: str
    status: JobStatus
    secondary_status: str
    creation_time: float
    last_modified_time: float
    end_time: float | None
    failure_reason: str | None
    best_candidate: dict | None
    pid: int | None
    pid_start: str | None
    heartbeat: float | None
    stop_requested: bool
    queued: bool
    seq: int
    started_at: float | None  # when the scheduler last admitted it: its budget's clock starts there
    spent_s: float  # time spent by earlier workers of a resumed job, counted against its budget
    deploy_result: dict | None  # ModelDeployResult, once the job's endpoint is deployed
    reports: dict | None  # AutoMLJobArtifacts' locations, and the reports skipped with their reasons


class Store:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else home()
        self.path = self.root / "jobs.sqlite3"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self.connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                _add_missing_columns(db)
        except (OSError, sqlite3.OperationalError) as exc:
            if root or (isinstance(exc, sqlite3.OperationalError) and "unable to open" not in str(exc)):
                raise
            raise field_error("AUTOML_HOME", f"must be a folder this user can create and write, for the job store "
                              f"({exc})", str(self.root)) from None

    @contextmanager
    def connect(self):
        """A connection for reads (autocommit: it never holds a lock writers wait on)."""
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=60000")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self):
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def insert_job(self, name: str, request: dict, plan: str) -> None:
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT name FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
            if row is not None:
                raise name_in_use(row["name"])
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            db.execute("INSERT INTO jobs (name_key, name, request, plan, status, secondary_status, creation_time, "
                       "last_modified_time, seq) VALUES (?, ?, ?, ?, ?, 'Starting', ?, ?, ?)",
                       (name.lower(), name, json.dumps(request), plan, JobStatus.IN_PROGRESS.value, now, now, seq))

    def job(self, name: str) -> JobRow:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        if row is None:
            raise ResourceNotFound(f"AutoMLJobName: no job named {name!r}")
        return _job_row(row)

    def jobs(self) -> list[JobRow]:
        with self.connect() as db:
            return [_job_row(r) for r in db.execute("SELECT * FROM jobs ORDER BY seq")]

    def update_job(self, name: str, **fields) -> None:
        """Set columns of a job; dicts are stored as JSON; LastModifiedTime moves with every change."""
        fields = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fields.items()}
        fields["last_modified_time"] = time.time()
        columns = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {columns} WHERE name_key = ?", (*fields.values(), name.lower()))

    def note_reports(self, name: str, *, locations: dict[str, str] | None = None, skipped: str | None = None) -> None:
        """Add AutoMLJobArtifacts' locations, or the reason a report was skipped, to the job's record of its
        reports (read and written in one transaction: the worker and `automl report` may both add)."""
        with self.transaction() as db:
            row = db.execute("SELECT reports FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
            reports = json.loads(row["reports"]) if row and row["reports"] else {}
            reports |= locations or {}
            if skipped and skipped not in reports.get("skipped", []):
                reports["skipped"] = [*reports.get("skipped", []), skipped]
            db.execute("UPDATE jobs SET reports = ? WHERE name_key = ?", (json.dumps(reports), name.lower()))

    def heartbeat(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE name_key = ?", (time.time(), name.lower()))

    def transition(self, name: str, status: JobStatus, secondary: str, *,
                   only_from: tuple[JobStatus, ...] = (JobStatus.IN_PROGRESS,), **fields) -> bool:
        """Move a job's status unless it is no longer in one of `only_from` (e.g. already Stopped or Failed)."""
        now = time.time()
        fields = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fields.items()}
        if status in TERMINAL:
            fields.setdefault("end_time", now)
        fields |= {"status": status.value, "secondary_status": secondary, "last_modified_time": now}
        columns = ", ".join(f"{k} = ?" for k in fields)
        marks = ", ".join("?" for _ in only_from)
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE jobs SET {columns} WHERE name_key = ? AND status IN ({marks})",
                                (*fields.values(), name.lower(), *(s.value for s in only_from)))
            return cursor.rowcount == 1

    def put_candidate(self, job: str, candidate: Candidate) -> None:
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM candidates WHERE job_key = ?",
                             (job.lower(),)).fetchone()[0]
            db.execute("INSERT INTO candidates (job_key, name, seq, status, objective, record, creation_time) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_key, name) DO UPDATE SET "
                       "status = excluded.status, objective = excluded.objective, record = excluded.record",
                       (job.lower(), candidate.name, seq, candidate.status.value, candidate.objective_value,
                        json.dumps(candidate.to_json()), candidate.creation_time))

    def candidates(self, job: str) -> list[Candidate]:
        with self.connect() as db:
            rows = db.execute("SELECT record FROM candidates WHERE job_key = ? ORDER BY seq", (job.lower(),))
            return [Candidate.from_json(json.loads(r["record"])) for r in rows]


def _job_row(row: sqlite3.Row) -> JobRow:
    return JobRow(name=row["name"], request=json.loads(row["request"]), plan=row["plan"],
                  status=JobStatus(row["status"]),
                  secondary_status=row["secondary_status"], creation_time=row["creation_time"],
                  last_modified_time=row["last_modified_time"], end_time=row["end_time"],
                  failure_reason=row["failure_reason"],
                  best_candidate=json.loads(row["best_candidate"]) if row["best_candidate"] else None,
                  pid=row["pid"], pid_start=row["pid_start"],
                  heartbeat=row["heartbeat"], stop_requested=bool(row["stop_requested"]), queued=bool(row["queued"]),
                  seq=row["seq"], started_at=row["started_at"], spent_s=row["spent_s"],
                  deploy_result=json.loads(row["deploy_result"]) if row["deploy_result"] else None,
                  reports=json.loads(row["reports"]) if row["reports"] else None)


def _add_missing_columns(db) -> None:
    """Stores made before a column existed gain it (with its default), so old jobs stay readable."""
    have = {r["name"] for r in db.execute("PRAGMA table_info(jobs)")}
    for column, declaration in (("started_at", "REAL"), ("spent_s", "REAL NOT NULL DEFAULT 0"),
                                ("deploy_result", "TEXT"), ("reports", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")
