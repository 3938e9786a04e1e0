"""Peak memory and allocation count of a pass, read from its memray capture with memray's reader."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MemoryReading:
    peak_memory_mb: float | None
    allocations: int | None


def memray_command(capture: Path) -> list[str]:
    """The prefix that runs a module under memray's Tracker, writing `capture`: the equivalent of
    `memray run --quiet --force --output CAPTURE -m`, without its command line's imports
    (see experiments/passes/tracked.py)."""
    return [sys.executable, "-m", "experiments.passes.tracked", str(capture)]


def read_capture(capture: Path) -> MemoryReading:
    from memray import FileReader

    if not capture.exists():
        return MemoryReading(None, None)
    try:
        meta = FileReader(capture).metadata
    except (OSError, ValueError, RuntimeError):
        return MemoryReading(None, None)
    return MemoryReading(round(meta.peak_memory / 1e6, 3), int(meta.total_allocations))
