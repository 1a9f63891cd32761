"""One task in a fresh child process with a hard deadline, a stop and the memory cap: what a cluster worker
does with each task it is sent (`supervise`), and the child's side (`python -m runners.child_process`).

A plain subprocess rather than multiprocessing: a Dask worker is a daemonic process, which multiprocessing
forbids to start children, and a fresh interpreter starts OpenMP clean. The task travels to the child in a
pickle file; the child writes its answer to another, by rename, so a half-written answer is never read.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from runners import memory
from runners.executors import POLL_S, Outcome, OutcomeStatus, Task, die_with_parent, exited_reason


def supervise(task: Task, deadline: float, should_stop: Callable[[], str | None],
              cap_bytes: int | None = None) -> Outcome:
    """Run the task in a child of this process until it answers, fails, is stopped (`should_stop` returns why),
    passes its deadline or grows past `cap_bytes`; the child and whatever it started end with it."""
    with tempfile.TemporaryDirectory(prefix="automl-task-") as folder:
        task_file, answer_file = Path(folder) / "task.pickle", Path(folder) / "answer.pickle"
        task_file.write_bytes(pickle.dumps(task))
        child = subprocess.Popen([sys.executable, "-m", "runners.child_process", str(task_file), str(answer_file),
                                  repr(deadline)], start_new_session=True, stdin=subprocess.DEVNULL,
                                 env=os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        try:
            return _await(child, answer_file, deadline, should_stop, cap_bytes)
        finally:
            _end(child)


def _await(child: subprocess.Popen, answer_file: Path, deadline: float, should_stop, cap_bytes) -> Outcome:
    while True:
        try:
            code = child.wait(POLL_S)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            if not answer_file.exists():
                return Outcome(OutcomeStatus.FAILED, error=exited_reason(code))
            kind, payload = pickle.loads(answer_file.read_bytes())
            if kind == "ok":
                return Outcome(OutcomeStatus.COMPLETED, payload)
            return Outcome(OutcomeStatus.FAILED, error=payload[0], traceback=payload[1])
        why = should_stop()
        if why:
            return Outcome(OutcomeStatus.STOPPED, error=why)
        if time.time() >= deadline:
            return Outcome(OutcomeStatus.TIMED_OUT, error="ran past its time limit")
        if cap_bytes is not None:
            used = memory.tree_bytes(child.pid)
            if used > cap_bytes:
                return Outcome(OutcomeStatus.FAILED, error=memory.over_cap_reason(used, cap_bytes))


def _end(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)  # the child leads its own session: its pools end with it
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(5)


def main(task_file: str, answer_file: str, deadline: str) -> int:
    die_with_parent()
    try:
        answer = ("ok", pickle.loads(Path(task_file).read_bytes()).run(float(deadline)))
    except BaseException as exc:  # the child reports every failure; the supervisor decides
        line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        answer = ("error", (line, traceback.format_exc()))
    partial = Path(answer_file + ".part")
    partial.write_bytes(pickle.dumps(answer))
    partial.rename(answer_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
