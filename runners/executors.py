"""Where a runner's tasks run: the `Executor` contract, and the local one that runs each task in a child
process with a hard deadline, so a stop or a time limit ends it within a second. `executor_for` picks it, or
the Dask executor (runners.dask_executor) for a job created with AUTOML_DASK_SCHEDULER.

The contract:

- `warm()` is called once by a runner before the first candidate's clock runs: start what is slow to start
  (here a fork server that imports the preloaded modules; for a cluster, connecting to the scheduler). The
  job's worker process has begun that already when it started (`automl.worker_boot`).
- `submit(task, *, deadline)` is called from the runner's process, from any of its threads, once per unit
  of work (a bag's folds, a refit, an ensemble's selection, a tuning trial). It returns at once with a
  `Future` whose `result()` is the task's `Outcome`. A task's failure, stop or timeout is an Outcome, never
  an exception from `result()`. `deadline` is an absolute `time.time()`: at that instant the task's process
  is ended and the Outcome is TimedOut, so the deadline holds even for code that ignores its own.
- A task is a small frozen dataclass that pickles by value: parameters, an algorithm class (by reference),
  and locations, never a frame or a model. Its `run(deadline)` runs in the executor's worker process and
  returns a small JSON-able dict (the candidate's facts). The data it reads (the saved dataset, a stack
  layer) and the scratch and output it writes are locations that every worker can reach: for the local
  executor a folder of this machine; for a cluster a shared folder or an `s3://` prefix.
- `should_stop()` (given when the executor is made) is polled while tasks run: once it is true every
  running task is ended and its Outcome is Stopped.
- `workers()` is how many tasks a cluster runs at once (its workers' threads), or None for this machine,
  where the runner sizes its work to the cores it is given.
- A task whose processes grow past AUTOML_MAX_MEMORY (runners.memory) is ended, and its Outcome is Failed.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from automl.candidate import STOP_REQUESTED
from automl.processes import alive
from runners import Placed, memory, preload_for

POLL_S = 0.2
OWNER_POLL_S = 0.5
MEMORY_POLL_S = 0.5
PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


class Task(Protocol):
    def run(self, deadline: float) -> dict:
        """The work, in the executor's process; `deadline` is the hard end (stop a little before it)."""


class OutcomeStatus(str, Enum):
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    TIMED_OUT = "TimedOut"


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    result: Any = None
    error: str | None = None  # one readable line
    traceback: str | None = None  # the full one, for the job's log


class Executor(Protocol):
    def warm(self) -> list[str]: ...

    def submit(self, task: Task, *, deadline: float) -> Future: ...

    def workers(self) -> int | None: ...


def executor_for(plan: Placed, should_stop: Callable[[], bool], pools: bool = False) -> Executor:
    """The job's executor: its Dask cluster when it was created with one, else this machine's processes."""
    if plan.dask_scheduler:
        from runners.dask_executor import DaskExecutor

        return DaskExecutor(plan.dask_scheduler, should_stop)
    return LocalProcessExecutor(should_stop, preload_for(plan), pools)


def die_with_parent() -> None:
    """Linux: the kernel kills this child when the worker dies (kill -9 included), so no orphan trains on."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _watch_owner(owner: int) -> None:
    """The fork server outlives a worker killed with -9; this ends the training once its worker is gone."""
    def watch():
        while alive(owner, None):
            time.sleep(OWNER_POLL_S)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _child(task: Task, deadline: float, owner: int, conn, own_group: bool) -> None:
    die_with_parent()
    if own_group:
        os.setpgid(0, 0)
    _watch_owner(owner)
    try:
        conn.send(("ok", task.run(deadline)))
    except BaseException as exc:  # the child reports every failure; the parent decides
        line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        conn.send(("error", (line, traceback.format_exc())))
    finally:
        conn.close()


@dataclass(frozen=True)
class Warm:
    """The task that starts the fork server, and says which preloaded modules its children lack."""

    preload: tuple[str, ...]

    def run(self, deadline: float) -> dict:
        return {"missing": [m for m in self.preload if m not in sys.modules]}


class LocalProcessExecutor:
    """Each task in a child of a fork server: a clean process started before any model ran, so OpenMP
    (LightGBM, XGBoost), which hangs in a child forked from a process that already used it, always starts
    fresh. `preload` names the modules the fork server imports once, so that a child starts in milliseconds
    instead of importing the engine again.

    `pools=True` lets a task start processes of its own (statsforecast and joblib fit series in process pools,
    which a daemonic child may not start): the child then leads a process group, and ending it ends the group.
    """

    def __init__(self, should_stop: Callable[[], bool], preload: tuple[str, ...] = (), pools: bool = False):
        self.should_stop = should_stop
        self.preload = tuple(preload)
        self.pools = pools
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(list(preload))
        self.cap = memory.max_memory_bytes()
        self.running: dict[int, int] = {}  # pid -> its processes' memory at the last look

    def workers(self) -> int | None:
        return None

    def warm(self) -> list[str]:
        """Returns the preloaded modules the children lack: multiprocessing skips a preload that fails to
        import without a word, and every child would then import it again."""
        outcome = self.submit(Warm(self.preload), deadline=time.time() + 60).result()
        missing = outcome.result["missing"] if outcome.status is OutcomeStatus.COMPLETED else list(self.preload)
        if missing:
            log.warning("the training processes' fork server could not preload %s", ", ".join(missing))
        return missing

    def submit(self, task: Task, *, deadline: float) -> Future:
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child, args=(task, deadline, os.getpid(), sender, self.pools),
                                       daemon=not self.pools)
        process.start()
        sender.close()
        future: Future = Future()
        future.set_running_or_notify_cancel()
        threading.Thread(target=self._watch, args=(process, receiver, deadline, future), daemon=True).start()
        return future

    def _watch(self, process, receiver, deadline: float, future: Future) -> None:
        try:
            future.set_result(self._await(process, receiver, deadline))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            receiver.close()

    def _await(self, process, receiver, deadline: float) -> Outcome:
        looked = 0.0
        try:
            while True:
                ended = not process.is_alive()  # looked at before the pipe: a child sends its result, then ends
                if receiver.poll(0 if ended else POLL_S):
                    try:
                        kind, payload = receiver.recv()
                    except EOFError:
                        process.join()
                        return Outcome(OutcomeStatus.FAILED, error=exited_reason(process.exitcode))
                    process.join()
                    if kind == "ok":
                        return Outcome(OutcomeStatus.COMPLETED, payload)
                    return Outcome(OutcomeStatus.FAILED, error=payload[0], traceback=payload[1])
                if ended:
                    process.join()
                    return Outcome(OutcomeStatus.FAILED, error=exited_reason(process.exitcode))
                if self.should_stop():
                    _end(process, self.pools)
                    return Outcome(OutcomeStatus.STOPPED, error=STOP_REQUESTED)
                if time.time() >= deadline:
                    _end(process, self.pools)
                    return Outcome(OutcomeStatus.TIMED_OUT, error="ran past its time limit")
                if time.time() - looked >= MEMORY_POLL_S:
                    looked, used = time.time(), self._over_cap(process.pid)
                    if used:
                        _end(process, self.pools)
                        return Outcome(OutcomeStatus.FAILED,
                                       error=memory.over_cap_reason(used, self.cap, self.running[process.pid]))
        finally:
            self.running.pop(process.pid, None)

    def _over_cap(self, pid: int) -> int:
        """The job's processes (this one, the fork server, every task) past the cap: the largest task is ended,
        so one candidate fails rather than the kernel killing the job. Returns the job's use then, else 0."""
        self.running[pid] = memory.tree_bytes(pid)
        used = memory.tree_bytes(os.getpid())
        return used if used > self.cap and self.running[pid] >= max(self.running.values()) else 0


def exited_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"the training process was killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"the training process exited with code {code}"


def _end(process, group: bool) -> None:
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the task's own pool workers too
    process.terminate()
    process.join(1.0)
    if process.is_alive():
        process.kill()
        process.join()
