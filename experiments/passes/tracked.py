"""The memory process of a pass: `python -m experiments.passes.tracked CAPTURE MODULE ARGS...`.

It does what `memray run --quiet --force --output CAPTURE -m experiments.passes.worker ...` does
(memray 1.x's run command: one `memray.Tracker` writing a compressed capture around
`runpy.run_module(..., run_name="__main__", alter_sys=True)`), without loading memray's command
line first: `python -m memray` imports its live-view TUI (textual, rich), 0.5 s of every memory
pass before the strategy even starts. What is tracked is the same: everything the worker
allocates from its first import to its exit, memray's own imports excluded.
"""

from __future__ import annotations

import runpy
import sys

from memray import FileDestination, Tracker


def main(argv: list[str]) -> None:
    capture, module, *module_args = argv
    destination = FileDestination(capture, overwrite=True, compress_on_exit=True)
    sys.argv = ["", *module_args]  # run_module puts the module's path in argv[0]
    with Tracker(destination=destination):
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
