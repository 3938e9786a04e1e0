"""How both command lines (`python -m experiments`, `python -m analysis`) report bad input:
one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


class UsageError(Exception):
    """Bad input or an unusable environment: reported as one line, never as a traceback."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`error: ...`), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def exit_status(command: Callable[[], int]) -> int:
    """Run `command`; a UsageError becomes `error: ...` and 2, Ctrl-C `interrupted` and 130."""
    try:
        return command()
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
