"""Runs one task in a child process with a hard deadline, so a stop or a time limit ends it within a second.

Children come from a fork server: a clean process started before any model ran, so OpenMP (LightGBM,
XGBoost), which hangs in a child forked from a process that already used it, always starts fresh. The task
is a module-level function with picklable arguments (pass large data as a file path); only its small
result (a dict) comes back.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from automl.processes import alive

POLL_S = 0.2
OWNER_POLL_S = 0.5
PR_SET_PDEATHSIG = 1


@dataclass
class Outcome:
    status: str  # Completed | Failed | Stopped | TimedOut
    result: Any = None
    error: str | None = None


def _die_with_parent() -> None:
    """Linux: the kernel kills this child when the worker dies (kill -9 included), so no orphan trains on."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _watch_owner(owner: int) -> None:
    """The fork server outlives a worker killed with -9; this ends the training once its worker is gone."""
    def watch():
        while alive(owner, None):
            time.sleep(OWNER_POLL_S)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _child(fn: Callable[..., Any], args: tuple, owner: int, conn) -> None:
    _die_with_parent()
    _watch_owner(owner)
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # the child reports every failure; the parent decides
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        conn.send(("error", detail))
    finally:
        conn.close()


def _nothing() -> None:
    return None


class LocalProcessExecutor:
    def __init__(self, should_stop: Callable[[], bool], preload: tuple[str, ...] = ()):
        self.should_stop = should_stop
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(list(preload))

    def warm(self) -> None:
        """Start the fork server (it imports the preloaded modules: a second or two) before any candidate's
        clock runs."""
        self.run(_nothing, (), time.time() + 60)

    def run(self, fn: Callable[..., Any], args: tuple, deadline: float) -> Outcome:
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child, args=(fn, args, os.getpid(), sender), daemon=True)
        process.start()
        sender.close()
        try:
            while True:
                if receiver.poll(POLL_S):
                    try:
                        kind, payload = receiver.recv()
                    except EOFError:
                        process.join()
                        return Outcome("Failed", error=f"the training process exited with code {process.exitcode}")
                    process.join()
                    return Outcome("Completed", payload) if kind == "ok" else Outcome("Failed", error=payload)
                if not process.is_alive():
                    return Outcome("Failed", error=f"the training process exited with code {process.exitcode}")
                if self.should_stop():
                    _end(process)
                    return Outcome("Stopped", error="stopped by StopAutoMLJob")
                if time.time() >= deadline:
                    _end(process)
                    return Outcome("TimedOut", error="ran past its time limit")
        finally:
            receiver.close()


def _end(process) -> None:
    process.terminate()
    process.join(1.0)
    if process.is_alive():
        process.kill()
        process.join()
