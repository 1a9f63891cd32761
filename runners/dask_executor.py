"""The Dask executor: a job's tasks (bags' folds, refits, ensembles, tuning trials, forecasters' backtests) run
on a dask.distributed cluster, under the same contract as the local executor (runners.executors).

- Each task is sent to the scheduler and runs on some worker in a fresh child process there
  (runners.child_process), so its deadline, a stop and the memory cap end it, and its process, on the worker.
- Data and scratch travel as the task's locations: the job's folder (AUTOML_HOME) must be one every worker
  reads at the same path (a shared folder), and the output may be `s3://`. Tuning trials report to the study
  in its RDB storage (AUTOML_TUNING_STORAGE), which the workers must reach too.
- A worker lost while it ran a task: the scheduler would run the task again elsewhere; the task's first run
  leaves its worker's address in the scheduler's metadata, so a second run answers Failed at once, naming the
  lost worker, and the job goes on. A task that no worker picks up in time is TimedOut.
- The job's worker beats a counter in the scheduler's metadata; a task whose job's worker is gone (no beat
  for LEASE_S) or stopped ends itself, so nothing trains on for a dead job.
Clocks: deadlines are absolute times, so the machines' clocks must agree (NTP) to within a second or so.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from automl.candidate import STOP_REQUESTED
from runners import memory
from runners.executors import Outcome, OutcomeStatus, Task

SETTING = "AUTOML_DASK_SCHEDULER"
CONNECT_S = 5.0
BEAT_S = 0.5  # how often the job's worker says it is alive and whether it was stopped
LEASE_S = 30.0  # a task whose job's worker said nothing for this long ends itself
LATE_S = 5.0  # past a task's deadline, how long the client waits for the worker's own answer
POLL_S = 0.2

log = logging.getLogger(__name__)


def connect(address: str, timeout: float = CONNECT_S):
    from distributed import Client

    return Client(address, timeout=timeout, set_as_default=False)


def check_scheduler(address: str) -> None:
    """At CreateAutoMLJob: the scheduler must answer, so a typo fails the request, not the job later. Asked over
    a bare connection, not a Client: a Client that failed to connect closes itself when it is collected, which
    waits 10 s more and prints a TimeoutError traceback after the error. The connection runs on an event loop
    of its own thread, so a caller inside a running loop (a notebook) can check too."""
    from automl.errors import field_error

    try:
        with ThreadPoolExecutor(1) as thread:
            reply = thread.submit(asyncio.run, _identity(address, CONNECT_S)).result()
        if reply.get("type") != "Scheduler":
            raise ValueError(f"the server there is a dask {reply.get('type')}, not a scheduler")
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address: the same to a user
        raise field_error(SETTING, "must be the address of a running dask scheduler (tcp://HOST:8786) that this "
                          f"machine reaches; {unreachable(exc)}", address) from None


def unreachable(exc: Exception) -> str:
    """Why the scheduler did not answer, in one line: an asyncio timeout (the reply's, when it comes before the
    connection's own) carries no message of its own."""
    why = str(exc).strip()[:200] or (f"no answer within {CONNECT_S:g} s" if isinstance(exc, TimeoutError) else "")
    return f"{type(exc).__name__}: {why}" if why else type(exc).__name__


async def _identity(address: str, timeout: float) -> dict:
    from distributed.core import rpc

    async with rpc(address, timeout=timeout) as server:
        return await asyncio.wait_for(server.identity(), timeout)


class DaskExecutor:
    def __init__(self, address: str, should_stop: Callable[[], bool]):
        self.address = address
        self.should_stop = should_stop
        self.client = connect(address)
        self.token = f"automl-{uuid.uuid4().hex[:12]}"
        self.numbers = itertools.count()
        self.beats = itertools.count()
        self.stopped = False
        self._beat()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def warm(self) -> list[str]:
        """Waits (briefly) for a first worker: a job sent to an empty cluster would only time out."""
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_S)
        except TimeoutError:
            log.warning("the dask scheduler %s has no worker yet; tasks wait for one until their deadlines",
                        self.address)
        workers = self.client.scheduler_info()["workers"]
        log.info("tasks run on the dask cluster of %s: %d workers, %d threads", self.address, len(workers),
                 sum(w.get("nthreads", 1) for w in workers.values()))
        return []

    def workers(self) -> int | None:
        return max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))

    def _beat(self) -> None:
        self.stopped = self.stopped or bool(self.should_stop())
        self.client.set_metadata([self.token, "control"], {"stop": self.stopped, "beat": next(self.beats)})

    def _heartbeat(self) -> None:
        while True:
            time.sleep(BEAT_S)
            try:
                self._beat()
            except Exception:
                if self.client.status in ("closing", "closed"):  # the job's worker ends: the lease lapses
                    return
                log.warning("a heartbeat to the dask scheduler failed; the next one is in %.1f s", BEAT_S,
                            exc_info=True)

    def submit(self, task: Task, *, deadline: float) -> Future:
        attempt = [self.token, "attempt", str(next(self.numbers))]
        remote = self.client.submit(run_on_worker, task, deadline, self.token, attempt, pure=False,
                                    key=f"{type(task).__name__}-{'-'.join(attempt)}")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        threading.Thread(target=self._watch, args=(remote, attempt, deadline, future), daemon=True).start()
        return future

    def _watch(self, remote, attempt: list[str], deadline: float, future: Future) -> None:
        try:
            future.set_result(self._await(remote, attempt, deadline))
        except BaseException as exc:
            future.set_exception(exc)

    def _await(self, remote, attempt: list[str], deadline: float) -> Outcome:
        """Polls the future's own state, and asks for its result only once it is done: `result(timeout=...)`
        every POLL_S under load once ended with distributed's UnboundLocalError (its wait was cancelled as it
        timed out), which failed a candidate whose task was still running."""
        while True:
            if remote.done():
                try:
                    return remote.result()
                except Exception as exc:  # KilledWorker, a lost connection, the task's own error
                    return Outcome(OutcomeStatus.FAILED, error=f"the dask cluster lost the task: "
                                                               f"{type(exc).__name__}: {str(exc)[:300]}")
            if self.stopped:
                remote.cancel()
                return Outcome(OutcomeStatus.STOPPED, error=STOP_REQUESTED)
            if time.time() >= deadline + LATE_S:
                remote.cancel()
                return self._late(attempt)
            time.sleep(POLL_S)

    def _late(self, attempt: list[str]) -> Outcome:
        """No answer by the deadline: the worker that started the task is gone, or none ever started it."""
        started_on = self.client.get_metadata(attempt, None)
        if started_on and started_on not in self.client.scheduler_info()["workers"]:
            return Outcome(OutcomeStatus.FAILED, error=lost(started_on))
        return Outcome(OutcomeStatus.TIMED_OUT, error="ran past its time limit" if started_on else
                       "no dask worker started it before its time limit")


def lost(worker: str) -> str:
    return f"the dask worker {worker} running it was lost"


def run_on_worker(task: Task, deadline: float, token: str, attempt: list[str]) -> Outcome:
    """On a dask worker: a task the scheduler sends again, after the worker that first ran it died, is not run
    twice; otherwise it runs in a child process, watched for its job's stop and its worker's lease."""
    from distributed import get_client, get_worker

    from runners.child_process import supervise

    client, here = get_client(), get_worker().address
    earlier = client.get_metadata(attempt, None)
    if earlier:
        return Outcome(OutcomeStatus.FAILED, error=lost(earlier))
    client.set_metadata(attempt, here)
    return supervise(task, deadline, _Control(client, token), memory.max_memory_bytes())


class _Control:
    """Why the task must end now, read from the job's control record at most every BEAT_S: a stop, or a job
    worker silent for LEASE_S (it died: nothing will read this task's answer)."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token
        self.checked = 0.0
        self.beat, self.heard = None, time.monotonic()
        self.why: str | None = None

    def __call__(self) -> str | None:
        if self.why is None and time.monotonic() - self.checked >= BEAT_S:
            self.checked = time.monotonic()
            try:
                control = self.client.get_metadata([self.token, "control"], None) or {}
            except Exception:  # a read that failed under load is no news: the lease still ends a silent job
                control = {"beat": self.beat}
            if control.get("stop"):
                self.why = STOP_REQUESTED
            elif control.get("beat") != self.beat:
                self.beat, self.heard = control.get("beat"), time.monotonic()
            elif time.monotonic() - self.heard > LEASE_S:
                self.why = f"its job's worker sent no heartbeat for {LEASE_S:.0f} s"
        return self.why
