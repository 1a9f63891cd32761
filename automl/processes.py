"""What the kernel says about a process (Linux /proc, with a signal-0 fallback elsewhere): shared by the
scheduler, which finds dead workers, and the executor, whose training children watch their worker; and how
busy the machine is, for the worker's share of the cores."""
from __future__ import annotations

import os
import time

GONE = ("Z", "X")  # zombie or dead: the process no longer runs


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state first, start time at index 19); None if no such pid."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process: with the pid, it names the process even after pid reuse."""
    try:
        fields = stat_fields(pid)
    except OSError:
        return None
    return fields[19] if fields else None


def alive(pid: int, start: str | None) -> bool:
    try:
        fields = stat_fields(pid)
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return fields is not None and fields[0] not in GONE and (start is None or fields[19] == start)


def busy_cores(reads: int = 3, pause_s: float = 0.01) -> int:
    """Cores that other processes keep busy now: the kernel's count of runnable tasks less the caller (the
    fewest of a few reads, so a passing blip does not count); 0 where /proc/loadavg is missing."""
    counts = []
    for i in range(reads):
        try:
            with open("/proc/loadavg") as handle:
                counts.append(int(handle.read().split()[3].split("/")[0]) - 1)
        except (OSError, IndexError, ValueError):
            return 0
        if i + 1 < reads:
            time.sleep(pause_s)
    return max(0, min(counts))
