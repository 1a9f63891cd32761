"""Batch transform: every record of a file or folder scored by a job's model, as SageMaker's batch transform with
SplitType Line and AssembleWith Line does it.

Each input file (a folder's files recursively, in key order, hidden files and `*.out` skipped) gives
`<relative path>.out` under the output location: one answer line per input record, in order. Files are read
as a stream of lines (Gzip decompressed on the fly) and scored `chunk_rows` records at a time through the
endpoint's codec (`automl.inference`), so memory stays bounded whatever the file's size. An output appears
only once complete: a failed transform leaves no half-written `.out`.
"""
from __future__ import annotations

import gzip
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from automl.channels import filesystem
from automl.errors import field_error
from automl.forecast_plan import ForecastPlan, load_plan
from automl.inference import CSV, JSONLINES, RecordError, csv_header, media_type, output_keys, parse_body, render
from automl.store import Store

if TYPE_CHECKING:
    from automl.estimator import FittedModel

CHUNK_ROWS = 20_000  # a few tens of MB of frame for a wide table; large enough that per-chunk costs vanish
LINE_TYPES = {CSV: CSV, JSONLINES: JSONLINES, "application/x-jsonlines": JSONLINES}
GZIP_MAGIC = b"\x1f\x8b"

Progress = Callable[[str, int, float, bool], None]  # (input file, records done, seconds on it, file finished)


@dataclass(frozen=True)
class TransformResult:
    files: int
    records: int
    seconds: float
    outputs: tuple[str, ...]  # the `.out` locations, in input order


@dataclass(frozen=True)
class _Scorer:
    """What every chunk goes through: the endpoint's parse, the model, the endpoint's render."""

    model: FittedModel
    content_type: str
    accept: str
    keys: list[str]

    def __call__(self, body: bytes) -> bytes:
        features = list(self.model.feature_names_in_)
        frame = parse_body(body, self.content_type, features, self.model.model.kinds)
        return render(self.model.infer(frame), self.keys, self.accept)[0]


def transform(store: Store, job: str, input_uri: str, output_uri: str, *, candidate: str | None = None,
              content_type: str = CSV, accept: str = CSV, keys: str | None = None, chunk_rows: int = CHUNK_ROWS,
              progress: Progress | None = None) -> TransformResult:
    """Score every input file with the job's best model (or its Completed `candidate`).

    `keys`: SAGEMAKER_INFERENCE_OUTPUT's comma-separated form (default predicted_label). A record the model
    cannot take fails the transform with its file and line."""
    if isinstance(load_plan(store.job(job).plan), ForecastPlan):
        raise field_error("AutoMLJobName", "is a forecasting job; batch transform scores tabular jobs only", job)
    if chunk_rows < 1:
        raise field_error("chunk_rows", "must be at least 1", chunk_rows)
    content_type = media_type(content_type, "ContentType", LINE_TYPES)
    accept = media_type(accept, "Accept", LINE_TYPES)
    from automl.estimator import job_model  # scikit-learn's: loaded with a model, not by the CLI's every command

    model = job_model(store, job, candidate)
    scorer = _Scorer(model, content_type, accept, output_keys(model.model.problem_type, keys))
    started, records, outputs = time.monotonic(), 0, []
    in_fs, _ = filesystem(input_uri)
    out_fs, out_root = filesystem(output_uri)
    for path, relative in _inputs(input_uri):
        target = f"{out_root.rstrip('/')}/{relative}.out"
        records += _transform_file(in_fs, path, out_fs, target, scorer, chunk_rows, progress)
        outputs.append(_uri(output_uri, out_fs, target))
    return TransformResult(len(outputs), records, time.monotonic() - started, tuple(outputs))


def _uri(output_uri: str, fs, path: str) -> str:
    return path if "://" not in output_uri or output_uri.startswith("file://") else fs.unstrip_protocol(path)


def _inputs(input_uri: str) -> list[tuple[str, str]]:
    """(path, path relative to the input folder) of every file to transform."""
    fs, root = filesystem(input_uri)
    if fs.isdir(root):
        root = root.rstrip("/")
        found = [(p, p[len(root) + 1:]) for p in sorted(fs.find(root))]
        files = [(p, r) for p, r in found
                 if not any(part.startswith(".") for part in r.split("/")) and not r.endswith(".out")]
        if not files:
            raise field_error("input", "is a folder without files to transform", input_uri)
        return files
    if not fs.exists(root):
        raise field_error("input", "does not exist", input_uri)
    return [(root, root.rstrip("/").rsplit("/", 1)[-1])]


def _transform_file(in_fs, path: str, out_fs, target: str, scorer: _Scorer, chunk_rows: int,
                    progress: Progress | None) -> int:
    started, done = time.monotonic(), 0
    with _lines(in_fs, path) as lines, _published(out_fs, target) as out:
        try:
            for header, numbers, chunk in _chunks(lines, scorer, chunk_rows):
                try:
                    out.write(scorer(header + b"".join(chunk)))
                except RecordError as exc:
                    raise field_error(f"{path} line {numbers[exc.row - 1]}", exc.rule, exc.got) from None
                done += len(chunk)
                if progress:
                    progress(path, done, time.monotonic() - started, False)
        except (gzip.BadGzipFile, EOFError) as exc:
            raise field_error(path, f"is not valid Gzip: {exc}") from None
    if progress:
        progress(path, done, time.monotonic() - started, True)
    return done


def _chunks(lines: Iterator[bytes], scorer: _Scorer, chunk_rows: int):
    """(header, line numbers, lines) per `chunk_rows` records; blank lines are not records. A CSV file's header
    (its first line naming every feature) heads every chunk, so each is parsed in the header's column order."""
    header, numbers, chunk = b"", [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == 1 and scorer.content_type == CSV and csv_header(line, list(scorer.model.feature_names_in_)):
            header = line if line.endswith(b"\n") else line + b"\n"
            continue
        numbers.append(number)
        chunk.append(line if line.endswith(b"\n") else line + b"\n")
        if len(chunk) == chunk_rows:
            yield header, numbers, chunk
            numbers, chunk = [], []
    if chunk:
        yield header, numbers, chunk


@contextmanager
def _lines(fs, path: str):
    """The file's lines, Gzip (by its magic bytes) decompressed as they are read."""
    with fs.open(path, "rb") as handle:
        magic = handle.read(2)
        handle.seek(0)
        if magic == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle) as stream:
                yield iter(stream)
        else:
            yield iter(handle)


@contextmanager
def _published(fs, path: str):
    """A writable file that appears under `path` only when the block ends without error: a local file is
    renamed into place, an object store's upload committed (else aborted)."""
    parent = path.rsplit("/", 1)[0]
    if "file" in fs.protocol or "local" in fs.protocol:
        os.makedirs(parent, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=parent, prefix=".tmp-", suffix=".out")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        return
    handle = fs.open(path, "wb", autocommit=False)
    try:
        yield handle
        handle.close()
        handle.commit()
    except BaseException:
        handle.discard()
        raise
