"""The executor contract: tasks are frozen dataclasses that pickle; `submit` returns a future at once; a task's
failure, timeout or stop is an Outcome (with the full traceback for the log); training children start clean."""
import pickle
import time
from dataclasses import dataclass, is_dataclass
from pathlib import Path

import numpy as np

from automl.artifacts import JobOutput
from runners.bagging import FitFolds, FitFull, SaveFullEnsemble, Scratch
from runners.ensemble import StackEnsemble
from runners.executors import LocalProcessExecutor, OutcomeStatus
from runners.tuning import Refit, RunTrial, TrialSpec


@dataclass(frozen=True)
class TrainLightGBM:
    seed: int

    def run(self, deadline: float) -> dict:
        import lightgbm as lgb

        X = np.random.default_rng(self.seed).random((500, 5))
        booster = lgb.train({"verbosity": -1, "num_threads": 2}, lgb.Dataset(X, X[:, 0] > 0.5), 10)
        return {"rounds": booster.current_iteration(), "deadline": deadline}


@dataclass(frozen=True)
class Sleep:
    seconds: float

    def run(self, deadline: float) -> dict:
        began = time.time()
        time.sleep(self.seconds)
        return {"began": began, "ended": time.time()}


@dataclass(frozen=True)
class Explode:
    def run(self, deadline: float) -> dict:
        return _inner_failure()


def _inner_failure():
    raise ValueError("singular matrix")


def test_training_process_starts_clean_after_the_parent_used_openmp():
    """A child forked straight from a process that ran LightGBM hangs in OpenMP; the fork server's do not."""
    TrainLightGBM(0).run(0.0)
    deadline = time.time() + 30
    outcome = LocalProcessExecutor(lambda: False).submit(TrainLightGBM(1), deadline=deadline).result()
    assert outcome.status is OutcomeStatus.COMPLETED
    assert outcome.result == {"rounds": 10, "deadline": deadline}


def test_submit_returns_at_once_and_tasks_run_side_by_side():
    executor = LocalProcessExecutor(lambda: False)
    executor.warm()
    futures = [executor.submit(Sleep(3), deadline=time.time() + 60) for _ in range(2)]
    assert not any(f.done() for f in futures)
    first, second = (f.result().result for f in futures)
    assert second["began"] < first["ended"] and first["began"] < second["ended"]  # not one after the other


def test_failure_timeout_and_stop_are_outcomes():
    executor = LocalProcessExecutor(lambda: False)
    failed = executor.submit(Explode(), deadline=time.time() + 30).result()
    assert failed.status is OutcomeStatus.FAILED and failed.error == "ValueError: singular matrix"
    assert "Traceback (most recent call last)" in failed.traceback and "_inner_failure" in failed.traceback
    began = time.time()
    timed_out = executor.submit(Sleep(30), deadline=time.time() + 1).result()
    assert timed_out.status is OutcomeStatus.TIMED_OUT and time.time() - began < 5
    stopping = {"now": False}
    stoppable = LocalProcessExecutor(lambda: stopping["now"])
    future = stoppable.submit(Sleep(30), deadline=time.time() + 60)
    time.sleep(0.5)
    stopping["now"] = True
    assert future.result(timeout=5).status is OutcomeStatus.STOPPED


def _send_when_told(conn, told) -> None:
    told.wait(30)
    conn.send(("ok", {"sent": True}))
    conn.close()


class _WaitThatTimesOut:
    """The parent's end of the pipe, whose first wait times out just as the child sends its result and ends:
    what a busy machine does when the parent's thread is not scheduled for a moment."""

    def __init__(self, receiver, process, told):
        self.receiver, self.process, self.told, self.waited = receiver, process, told, False

    def poll(self, timeout: float) -> bool:
        if self.waited:
            return self.receiver.poll(timeout)
        self.waited = True
        self.told.set()
        self.process.join(30)
        return False

    def recv(self):
        return self.receiver.recv()


def test_a_result_sent_just_before_the_child_ended_is_read():
    """A busy machine's CI run saw a finished candidate Failed with 'the training process exited with code 0'."""
    executor = LocalProcessExecutor(lambda: False)
    receiver, sender = executor.context.Pipe(duplex=False)
    told = executor.context.Event()
    child = executor.context.Process(target=_send_when_told, args=(sender, told))
    child.start()
    sender.close()
    outcome = executor._await(child, _WaitThatTimesOut(receiver, child, told), time.time() + 30)
    assert child.exitcode == 0
    assert outcome.status is OutcomeStatus.COMPLETED and outcome.result == {"sent": True}


def test_every_runner_task_is_a_small_frozen_dataclass_that_pickles(tmp_path):
    from algorithms.lightgbm import LightGBM

    scratch, output = Scratch(tmp_path / "bags"), JobOutput(str(tmp_path / "out"))
    spec = TrialSpec("t", 0, 1, "sqlite:///x.db", "s", "lightgbm", {}, {}, "F1")
    tasks = [FitFolds({"CandidateName": "c"}, LightGBM, scratch, (0, 1), 1.0, output, 1),
             FitFull({"CandidateName": "c"}, LightGBM, scratch, output, 1),
             SaveFullEnsemble({"CandidateName": "e"}, {"c": "m"}, {"c": 1.0}, {}, scratch, output),
             StackEnsemble("e", [{"c": "m"}], ["c"], {}, scratch, output, "F1"),
             RunTrial(spec, LightGBM, Path("d.joblib"), output, 1),
             Refit({"CandidateName": "r"}, LightGBM, Path("d.joblib"), None, np.arange(3), output, 1)]
    for task in tasks:
        assert is_dataclass(task) and type(task).__dataclass_params__.frozen
        blob = pickle.dumps(task)
        assert pickle.dumps(pickle.loads(blob)) == blob and len(blob) < 4096


@dataclass(frozen=True)
class PoolSquares:
    """A task with a process pool of its own, as statsforecast's n_jobs and joblib start."""

    sleep_s: float = 0.0
    pid_file: str = ""

    def run(self, deadline: float) -> dict:
        import multiprocessing
        import os

        with multiprocessing.get_context("fork").Pool(2) as pool:
            if self.pid_file:
                Path(self.pid_file).write_text(" ".join(str(p.pid) for p in pool._pool) + f" {os.getpid()}")
            squares = pool.map(_sleep_square, [(x, self.sleep_s) for x in range(4)])
        return {"squares": squares}


def _sleep_square(arg):
    x, sleep_s = arg
    time.sleep(sleep_s)
    return x * x


def test_a_task_may_start_a_process_pool_and_ending_it_ends_the_pool(tmp_path):
    stopping = {"now": False}
    executor = LocalProcessExecutor(lambda: stopping["now"], pools=True)
    done = executor.submit(PoolSquares(), deadline=time.time() + 30).result()
    assert done.status is OutcomeStatus.COMPLETED and done.result == {"squares": [0, 1, 4, 9]}
    pids = tmp_path / "pids"
    future = executor.submit(PoolSquares(sleep_s=60, pid_file=str(pids)), deadline=time.time() + 60)
    started = time.time()
    while not pids.exists() and time.time() - started < 30:  # a busy machine takes seconds to start the pool
        time.sleep(0.1)
    stopping["now"] = True
    assert future.result(timeout=10).status is OutcomeStatus.STOPPED
    time.sleep(0.5)
    alive = []
    for pid in map(int, pids.read_text().split()):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            continue
        if state != "Z":
            alive.append(pid)
    assert alive == []
