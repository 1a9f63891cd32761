"""The job worker's process, as `automl.scheduler` starts it: `python -m automl.worker_boot NAME [MODULE ...]`.

It starts the training processes' fork server, which imports MODULE ..., before it imports the engine itself:
the two imports (about 2 s each on an idle 2-core machine, over 10 s each on a busy one) then run side by side
instead of one after the other, and a short job's first candidate no longer waits for both (a 20 s job on a
busy machine ran out of time before its first candidate started). The training processes, children of the
fork server, import this small module as their `__main__`, not the worker's.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import sys


def main(argv: list[str]) -> int:
    name, preload = argv[0], argv[1:]
    if preload:
        multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
        multiprocessing.forkserver.ensure_running()
    from automl import worker  # the engine, once the fork server is on its way

    return worker.main([name])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
