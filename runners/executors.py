"""Runs one task in a child process with a hard deadline, so a stop or a time limit ends it within a second.

The child is forked, so it shares the already loaded dataset without copying it through a pipe; only the
task's small result (a dict) comes back.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

POLL_S = 0.2
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


def _child(fn: Callable[[], Any], conn) -> None:
    _die_with_parent()
    try:
        conn.send(("ok", fn()))
    except BaseException as exc:  # the child reports every failure; the parent decides
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        conn.send(("error", detail))
    finally:
        conn.close()


class LocalProcessExecutor:
    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def run(self, fn: Callable[[], Any], deadline: float) -> Outcome:
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(fn, sender), daemon=True)
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
