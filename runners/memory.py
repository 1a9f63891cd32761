"""AUTOML_MAX_MEMORY: the memory a job's training may take, and what its processes use now.

The cap is bytes, with an optional K/M/G/T suffix (`12G`) or a share of the machine (`60%`); the default is 80%
of the machine. A candidate expected to need more is shrunk or refused before it starts (the planner), and
one that grows past it is ended by its executor, so the candidate fails with a reason instead of the kernel's
out-of-memory killer ending the job's worker.
"""
from __future__ import annotations

import contextlib
import os
import re

from automl.errors import field_error

SETTING = "AUTOML_MAX_MEMORY"
DEFAULT_SHARE = 0.8
UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
RULE = "must be a number of bytes, optionally with a K, M, G or T suffix (12G), or a share of the machine (60%)"


def machine_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_bytes() -> int:
    """Memory the machine can still give (the kernel's MemAvailable), or all of it where that is not known."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return machine_bytes()


def max_memory_bytes() -> int:
    raw = os.environ.get(SETTING, "").strip().upper().removesuffix("B").removesuffix("I")
    if not raw:
        return int(DEFAULT_SHARE * machine_bytes())
    share = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", raw)
    if share:
        value = float(share.group(1)) / 100
        if not 0 < value <= 1:
            raise field_error(SETTING, RULE, os.environ[SETTING])
        return int(value * machine_bytes())
    size = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)", raw)
    if not size or float(size.group(1)) <= 0:
        raise field_error(SETTING, RULE, os.environ[SETTING])
    return int(float(size.group(1)) * UNITS[size.group(2)])


def training_limit_bytes() -> int:
    """What one candidate may plan to use: the cap, and never more than the machine has free now."""
    return min(max_memory_bytes(), available_bytes())


def tree_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (a training child's own pools included); 0 once
    it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def over_cap_reason(used: int, cap: int, held: int | None = None) -> str:
    """`used`: what the processes under the cap held together; `held`: this candidate's part, when less."""
    part = f" (this candidate's processes held {held / 1024 ** 2:.0f} MB of it)" if held is not None else ""
    return (f"its processes reached {used / 1024 ** 2:.0f} MB{part}, more than {SETTING} allows "
            f"({cap / 1024 ** 2:.0f} MB): raise {SETTING}, or give the job fewer rows or columns")


def release() -> None:
    """Give freed memory back to the system: glibc keeps freed blocks in its arenas and pyarrow in its pool, so a
    process that let go of a large frame would go on holding it (the create call and a tuning worker that keeps
    only a sample)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(ImportError):
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
