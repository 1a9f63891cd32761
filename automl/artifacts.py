"""The output layout under `S3OutputPath/<job name>/`, and writes no reader can catch half-done.

Local files are written to a temporary name in the same folder, flushed, and renamed over the target
(rename is atomic); an object store's PUT is atomic by itself.
"""
from __future__ import annotations

import io
import json
import os
import tempfile

import joblib

from automl.channels import filesystem, join_uri


def _is_local(uri: str) -> bool:
    return uri.startswith("file://") or "://" not in uri


def _local_path(uri: str) -> str:
    return os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))


def public_uri(uri: str) -> str:
    """How a location is shown in responses: `file:///abs/path` for local, the URI itself otherwise."""
    return "file://" + _local_path(uri) if _is_local(uri) else uri


def write_bytes(uri: str, data: bytes) -> None:
    if _is_local(uri):
        path = _local_path(uri)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return
    fs, path = filesystem(uri)
    fs.pipe_file(path, data)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        return handle.read()


def write_json(uri: str, value) -> None:
    write_bytes(uri, json.dumps(value, indent=2, default=str).encode())


def dump_model(uri: str, model) -> None:
    """Uncompressed: a bag of forests saves in 0.3 s instead of 2.5 s and loads 3x faster, at 4-5x the size."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    write_bytes(uri, buffer.getvalue())


def load_model(uri: str):
    return joblib.load(io.BytesIO(read_bytes(uri)))


class JobOutput:
    """Where each artifact of one job lives."""

    def __init__(self, job_output: str):
        self.base = job_output.rstrip("/")

    def _at(self, *parts: str) -> str:
        return join_uri(self.base, *parts)

    def model(self, candidate: str) -> str:
        return self._at("candidates", candidate, "model.joblib")

    def bag(self, candidate: str) -> str:
        """A stacked candidate's own fold models; its model.joblib runs the layers below, then this."""
        return self._at("candidates", candidate, "bag.joblib")

    def definition(self, candidate: str) -> str:
        return self._at("candidates", candidate, "definition.json")

    @property
    def leaderboard(self) -> str:
        return self._at("leaderboard.csv")

    @property
    def describe(self) -> str:
        return self._at("describe.json")

    @property
    def best_model(self) -> str:
        return self._at("best_candidate", "model.joblib")

    @property
    def best_definition(self) -> str:
        return self._at("best_candidate", "definition.json")

    @property
    def candidate_definitions(self) -> str:
        return self._at("candidate_definitions.json")

    @property
    def candidate_summary(self) -> str:
        return self._at("candidate_definitions.md")
