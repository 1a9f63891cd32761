"""What the kernel says about a process (Linux /proc, with a signal-0 fallback elsewhere): shared by the
scheduler, which finds dead workers, and the executor, whose training children watch their worker."""
from __future__ import annotations

import os

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
